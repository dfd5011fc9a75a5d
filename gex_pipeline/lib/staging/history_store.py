"""Historical-import requests and their status records in the staging area (see `docs/staging.md`).

The ingest API saves one request file per day file (`history/requests/<id>.json`); re-posts of the
same file (same URL without its query string) collapse into the same id and keep the newest signed
URL, unless that link already failed. The signed URL is stored only encrypted (Fernet, key in the
secrets directory: `link_key`) and erased once its request is done or failed; `load_request`
decrypts it for the downloader. The pipeline writes status records (`history/status/<id>.json`)
that the API serves; finished requests are pruned after a retention. Every file is replaced
atomically.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cryptography.fernet import InvalidToken, MultiFernet

from gex_pipeline.lib.payloads.history import DayRequest
from gex_pipeline.lib.staging.durable_fs import flocked, write_atomic
from gex_pipeline.lib.staging.layout import HistoryDirs, history_dirs
from gex_pipeline.lib.staging.link_key import KEY_FILE_NAME, link_cipher

if TYPE_CHECKING:
    from gex_pipeline.lib.payloads.history import HistoryRequest

_ID_RE = re.compile(r"^[0-9a-f]{32}$")
STATES: tuple[str, ...] = ("pending", "downloading", "importing", "retrying", "done", "failed")
FINISHED: frozenset[str] = frozenset({"done", "failed"})
# Hashes of failed links remembered per request (a re-post of one of them is refused).
MAX_FAILED_LINKS = 20


class UnknownRequestId(ValueError):
    """A request id that is not of the form this store hands out."""


class LinkAlreadyFailed(ValueError):
    """A re-post of a signed link whose download already failed (it would fail again)."""


class TooManyPending(RuntimeError):
    """A new request while `max_pending` requests are still waiting for their import."""


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
class StoredRequest(DayRequest):
    """A saved historical-import request, with the signed URL decrypted (left out of `repr`).

    `signed_url` is None once the request finished (the link is erased then).
    """

    id: str
    url: str
    url_hash: str
    signed_url: str | None = field(repr=False)
    first_posted_at: int
    last_posted_at: int
    post_count: int


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        return json.loads(path.read_bytes())
    except FileNotFoundError:
        return None


class HistoryStore:
    """Request and status files under `<data_dir>/staging/history`; the link key in `secrets_dir`
    (`GEX_SECRETS_DIR`, `PathSettings.secrets_dir`)."""

    def __init__(self, data_dir: Path, secrets_dir: Path) -> None:
        self.dirs: HistoryDirs = history_dirs(data_dir / "staging")
        self.data_dir = data_dir
        self.secrets_dir = secrets_dir
        self.key_path = self.secrets_dir / KEY_FILE_NAME
        self._fernet: MultiFernet | None = None

    def _cipher(self) -> MultiFernet:
        """The link cipher (key created, or moved out of the data directory, on first use)."""
        if self._fernet is None:
            self._fernet = link_cipher(self.secrets_dir, self.data_dir)
        return self._fernet

    def _request_path(self, request_id: str) -> Path:
        if not is_request_id(request_id):
            raise UnknownRequestId(f"not a request id: {request_id[:40]!r}")
        return self.dirs.requests / f"{request_id}.json"

    def _status_path(self, request_id: str) -> Path:
        if not is_request_id(request_id):
            raise UnknownRequestId(f"not a request id: {request_id[:40]!r}")
        return self.dirs.status / f"{request_id}.json"

    def save_request(
        self, request: HistoryRequest, now_ms: int, max_pending: int | None = None
    ) -> SavedRequest:
        """Save (or refresh) the request for `request`'s day file; durable when this returns.

        A re-post of the same file keeps the id, counts the post and keeps the newest signed URL.
        Raises `LinkAlreadyFailed` for a re-post of a link that already failed and
        `TooManyPending` when a request would start waiting while `max_pending` already do; both
        leave every file as it was.
        """
        self.dirs.ensure()
        request_id = request_id_for(request.url_key)
        path = self._request_path(request_id)
        with flocked(self.dirs.root / ".requests.lock"):
            previous = _read_json(path)
            failed = previous.get("failed_url_hashes", []) if previous else []
            if request.url_hash in failed:
                raise LinkAlreadyFailed(f"history request {request_id}: this link already failed")
            waiting = previous is not None and previous.get("signed_url") is not None
            if max_pending is not None and not waiting and self.count_pending() >= max_pending:
                raise TooManyPending(f"{max_pending} history requests are already waiting")
            record = {
                "id": request_id,
                "url": request.url_key,
                "url_hash": request.url_hash,
                "signed_url": self._cipher().encrypt(request.url.encode()).decode(),
                **request.day_record(),
                "first_posted_at": previous["first_posted_at"] if previous else now_ms,
                "last_posted_at": now_ms,
                "post_count": previous["post_count"] + 1 if previous else 1,
                "failed_url_hashes": failed,
            }
            write_atomic(path, json.dumps(record, separators=(",", ":")).encode())
        return SavedRequest(request_id, record["post_count"], previous is None)

    def count_pending(self) -> int:
        """Requests whose link is still kept: posted and not yet done or failed."""
        count = 0
        for request_id in self.list_request_ids():
            raw = _read_json(self.dirs.requests / f"{request_id}.json")
            count += raw is not None and raw.get("signed_url") is not None
        return count

    def _finish(self, request_id: str, state: str, url_hash: str | None) -> None:
        """Erase the signed link of a finished request (remembering it when it failed), unless
        a newer link than the one that finished (`url_hash`) was posted meanwhile."""
        path = self._request_path(request_id)
        with flocked(self.dirs.root / ".requests.lock"):
            raw = _read_json(path)
            if raw is None or (url_hash is not None and raw["url_hash"] != url_hash):
                return
            failed = raw.get("failed_url_hashes", [])
            if state == "failed" and raw["url_hash"] not in failed:
                failed = [*failed, raw["url_hash"]][-MAX_FAILED_LINKS:]
            if raw.get("signed_url") is None and failed == raw.get("failed_url_hashes", []):
                return
            record = {**raw, "signed_url": None, "failed_url_hashes": failed}
            write_atomic(path, json.dumps(record, separators=(",", ":")).encode())

    def prune_finished(self, now_ms: int, retention_ms: int) -> int:
        """Delete request and status files of requests finished more than `retention_ms` ago;
        the number of requests removed."""
        removed = 0
        if not self.dirs.status.exists():
            return removed
        with flocked(self.dirs.root / ".requests.lock"):
            for path in self.dirs.status.glob("*.json"):
                if not is_request_id(path.stem):
                    continue
                status = _read_json(path)
                if status is None or status.get("state") not in FINISHED:
                    continue
                if now_ms - int(status.get("updated_at") or 0) <= retention_ms:
                    continue
                request = _read_json(self.dirs.requests / path.name)
                if request is not None and request.get("signed_url") is not None:
                    continue  # re-posted after it finished: waiting again
                (self.dirs.requests / path.name).unlink(missing_ok=True)
                path.unlink()
                removed += 1
        return removed

    def load_request(self, request_id: str) -> StoredRequest | None:
        """The saved request with its signed URL decrypted, or None when there is none.

        Raises `UnknownRequestId` for a malformed id and `ValueError` when the signed URL cannot be
        decrypted (key file replaced).
        """
        raw = _read_json(self._request_path(request_id))
        if raw is None:
            return None
        try:
            encrypted = raw["signed_url"]
            signed_url = None if encrypted is None else self._cipher().decrypt(encrypted.encode())
        except InvalidToken as exc:
            raise ValueError(
                f"history request {request_id}: signed URL cannot be decrypted"
            ) from exc
        return StoredRequest(
            id=raw["id"],
            url=raw["url"],
            url_hash=raw["url_hash"],
            signed_url=None if signed_url is None else signed_url.decode(),
            **DayRequest.day_fields(raw),
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
        url_hash: str | None = None,
    ) -> dict[str, Any]:
        """Replace the status record of `request_id` atomically and return it.

        `state` is one of `STATES`; `reason` must not contain a signed URL (use `redact_url`).
        `done` and `failed` erase the request's signed link: the one with `url_hash` (the link
        the run used; a newer re-post is kept), or the current one when `url_hash` is None.
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
        if state in FINISHED:
            self._finish(request_id, state, url_hash)
        return record

    def read_status(self, request_id: str) -> dict[str, Any] | None:
        """The status record of `request_id`, or None when the pipeline has not written one."""
        return _read_json(self._status_path(request_id))
