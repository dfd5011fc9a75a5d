"""Historical-import requests and their status records in the staging area (see `docs/staging.md`).

The ingest API saves one request file per day file (`history/requests/<id>.json`); re-posts of the
same file (same URL without its query string) collapse into the same id and keep the newest signed
URL. The signed URL is stored only encrypted (Fernet) with a local key created 0600 on first use;
`load_request` decrypts it for the downloader. The pipeline writes status records
(`history/status/<id>.json`) that the API serves. Every file is replaced atomically.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cryptography.fernet import Fernet, InvalidToken

from gex_pipeline.lib.staging.durable_fs import flocked, fsync_dir, write_atomic
from gex_pipeline.lib.staging.layout import HistoryDirs, history_dirs

if TYPE_CHECKING:
    from gex_pipeline.lib.payloads.history import HistoryRequest

STATES: tuple[str, ...] = ("pending", "downloading", "importing", "retrying", "done", "failed")
KEY_FILE_NAME = "history_url.key"
_ID_RE = re.compile(r"^[0-9a-f]{32}$")


class UnknownRequestId(ValueError):
    """A request id that is not of the form this store hands out."""


def request_id_for(url_key: str) -> str:
    """The request id of a day file: 32 hex chars of sha256 of its URL without the query string."""
    return hashlib.sha256(url_key.encode()).hexdigest()[:32]


def is_request_id(value: str) -> bool:
    """True when `value` has the shape of a request id (safe to use as a file name)."""
    return bool(_ID_RE.match(value))


@dataclass(frozen=True)
class SavedRequest:
    """What `save_request` did: the id, how many times the file was posted, whether it is new."""

    id: str
    post_count: int
    created: bool


@dataclass(frozen=True)
class StoredRequest:
    """A saved historical-import request, with the signed URL decrypted (never log `signed_url`)."""

    id: str
    url: str
    url_hash: str
    signed_url: str
    ticker: str
    endpoint: str
    trade_date: date
    file_name: str
    overrides: dict[str, str]
    metadata: dict[str, Any] | None
    first_posted_at: int
    last_posted_at: int
    post_count: int


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        return json.loads(path.read_bytes())
    except FileNotFoundError:
        return None


class HistoryStore:
    """Request and status files under `<data_dir>/staging/history`, key under `<data_dir>/secrets`."""

    def __init__(self, data_dir: Path) -> None:
        self.dirs: HistoryDirs = history_dirs(data_dir / "staging")
        self.key_path = data_dir / "secrets" / KEY_FILE_NAME
        self._fernet: Fernet | None = None

    def _cipher(self) -> Fernet:
        """The Fernet cipher; its key file is created 0600 on first use (race-free across processes)."""
        if self._fernet is None:
            if not self.key_path.exists():
                self.key_path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
                tmp = self.key_path.with_name(f".{KEY_FILE_NAME}.{secrets.token_hex(4)}.tmp")
                fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                try:
                    os.write(fd, Fernet.generate_key())
                    os.fsync(fd)
                finally:
                    os.close(fd)
                with contextlib.suppress(FileExistsError):
                    os.link(tmp, self.key_path)
                tmp.unlink()
                fsync_dir(self.key_path.parent)
            self._fernet = Fernet(self.key_path.read_bytes().strip())
        return self._fernet

    def _request_path(self, request_id: str) -> Path:
        if not is_request_id(request_id):
            raise UnknownRequestId(f"not a request id: {request_id[:40]!r}")
        return self.dirs.requests / f"{request_id}.json"

    def _status_path(self, request_id: str) -> Path:
        if not is_request_id(request_id):
            raise UnknownRequestId(f"not a request id: {request_id[:40]!r}")
        return self.dirs.status / f"{request_id}.json"

    def save_request(self, request: HistoryRequest, now_ms: int) -> SavedRequest:
        """Save (or refresh) the request for `request`'s day file; durable when this returns.

        A re-post of the same file keeps the id, counts the post and keeps the newest signed URL.
        """
        self.dirs.ensure()
        request_id = request_id_for(request.url_key)
        path = self._request_path(request_id)
        with flocked(self.dirs.root / ".requests.lock"):
            previous = _read_json(path)
            record = {
                "id": request_id,
                "url": request.url_key,
                "url_hash": request.url_hash,
                "signed_url": self._cipher().encrypt(request.url.encode()).decode(),
                "ticker": request.ticker,
                "endpoint": request.endpoint,
                "trade_date": request.trade_date.isoformat(),
                "file_name": request.file_name,
                "overrides": dict(request.overrides),
                "metadata": request.metadata,
                "first_posted_at": previous["first_posted_at"] if previous else now_ms,
                "last_posted_at": now_ms,
                "post_count": previous["post_count"] + 1 if previous else 1,
            }
            write_atomic(path, json.dumps(record, separators=(",", ":")).encode())
        return SavedRequest(request_id, record["post_count"], previous is None)

    def load_request(self, request_id: str) -> StoredRequest | None:
        """The saved request with its signed URL decrypted, or None when there is none.

        Raises `UnknownRequestId` for a malformed id and `ValueError` when the signed URL cannot be
        decrypted (key file replaced).
        """
        raw = _read_json(self._request_path(request_id))
        if raw is None:
            return None
        try:
            signed_url = self._cipher().decrypt(raw["signed_url"].encode()).decode()
        except InvalidToken as exc:
            raise ValueError(
                f"history request {request_id}: signed URL cannot be decrypted"
            ) from exc
        return StoredRequest(
            id=raw["id"],
            url=raw["url"],
            url_hash=raw["url_hash"],
            signed_url=signed_url,
            ticker=raw["ticker"],
            endpoint=raw["endpoint"],
            trade_date=date.fromisoformat(raw["trade_date"]),
            file_name=raw["file_name"],
            overrides=raw["overrides"],
            metadata=raw["metadata"],
            first_posted_at=raw["first_posted_at"],
            last_posted_at=raw["last_posted_at"],
            post_count=raw["post_count"],
        )

    def list_request_ids(self) -> list[str]:
        """Ids of every saved request, sorted."""
        if not self.dirs.requests.exists():
            return []
        return sorted(p.stem for p in self.dirs.requests.glob("*.json") if is_request_id(p.stem))

    def write_status(
        self,
        request_id: str,
        state: str,
        *,
        now_ms: int,
        rows: Mapping[str, int] | None = None,
        reason: str | None = None,
        run_id: str | None = None,
    ) -> dict[str, Any]:
        """Replace the status record of `request_id` atomically and return it.

        `state` is one of `STATES`; `reason` must not contain a signed URL (use `redact_url`).
        """
        if state not in STATES:
            raise ValueError(f"state must be one of {', '.join(STATES)}, got {state!r}")
        self.dirs.ensure()
        record = {
            "id": request_id,
            "state": state,
            "rows": dict(rows) if rows is not None else None,
            "reason": reason,
            "updated_at": now_ms,
            "run_id": run_id,
        }
        write_atomic(self._status_path(request_id), json.dumps(record).encode())
        return record

    def read_status(self, request_id: str) -> dict[str, Any] | None:
        """The status record of `request_id`, or None when the pipeline has not written one."""
        return _read_json(self._status_path(request_id))
