"""Import one date x feed partition from its day file: download (when needed), import, and export
to Parquet when asked (the Dagster job exports in its own `gex_parquet` step instead).

The source is chosen in this order:
1. a request id (a run started by the sensor for a fresh POST): download its signed link again;
2. the kept raw file `source/gexbot/<TICKER>/<endpoint>/<file>` (backfill: no new download);
3. the newest request for the partition (its link may still be live): download it.
A partition with none of these fails with a message saying so.

A download lands under a hidden `.incoming-<request id>` name and becomes the kept raw file
(`YYYY-MM-DD_<TICKER>_classic_<endpoint>.json[.gz]`, `.gz` only when the bytes are gzip) only after
the import committed, so a bad or wrong download never displaces a good raw file. Status records
(`downloading` -> `importing` -> `done` | `failed`) are written when a request exists.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

from gex_pipeline.lib.gex.integrity import FeedDay, publish_blockers
from gex_pipeline.lib.gex.parquet_export import ExportResult, export_partition
from gex_pipeline.lib.history.day_format import DayFileInvalid
from gex_pipeline.lib.history.day_import import ImportStats, import_day_file
from gex_pipeline.lib.history.day_replace import ReplaceRefused, prune_backups
from gex_pipeline.lib.history.download import DownloadError, DownloadResult, download_day_file
from gex_pipeline.lib.history.sources import (
    find_raw_file,
    find_request,
    kept_raw_files,
    raw_dir,
    raw_file_name,
)
from gex_pipeline.lib.history.url_policy import UrlPolicy
from gex_pipeline.lib.staging.history_store import HistoryStore, StoredRequest
from gex_pipeline.settings import HistorySettings, PathSettings

if TYPE_CHECKING:
    import duckdb

log = logging.getLogger(__name__)

Connect = Callable[[], AbstractContextManager["duckdb.DuckDBPyConnection"]]


class HistoryImportFailed(Exception):
    """The partition could not be imported; the message is safe to show (no signed URL)."""


@dataclass(frozen=True)
class PartitionTarget:
    """One date x feed partition."""

    trade_date: date
    ticker: str
    endpoint: str

    def __str__(self) -> str:
        return f"{self.ticker} {self.endpoint} {self.trade_date.isoformat()}"


@dataclass(frozen=True)
class PartitionImport:
    """What one partition import did."""

    stats: ImportStats
    export: ExportResult | None
    raw_path: Path
    download: DownloadResult | None
    request_id: str | None
    blocked: tuple[str, ...] = ()


def _now_ms() -> int:
    return int(time.time() * 1000)


class _Status:
    """Writes the status record of a request (no-op without one)."""

    def __init__(
        self, store: HistoryStore, request: StoredRequest | None, run_id: str | None
    ) -> None:
        self.store, self.request, self.run_id = store, request, run_id

    def __call__(self, state: str, **kw: object) -> None:
        if self.request is not None:
            self.store.write_status(
                self.request.id,
                state,
                now_ms=_now_ms(),
                run_id=self.run_id,
                url_hash=self.request.url_hash,
                **kw,
            )


def _choose_source(
    store: HistoryStore, paths: PathSettings, target: PartitionTarget, request_id: str | None
) -> tuple[StoredRequest | None, Path | None]:
    """(request to download, kept raw file to use); exactly one of them drives the import."""
    if request_id is not None:
        request = store.load_request(request_id)
        if request is None:
            raise HistoryImportFailed(f"history request {request_id} does not exist")
        found = PartitionTarget(request.trade_date, request.ticker, request.endpoint)
        if found != target:
            raise HistoryImportFailed(
                f"history request {request_id} is for {found}, not for partition {target}"
            )
        if request.signed_url is None:
            raise HistoryImportFailed(
                f"history request {request_id} already finished and its link was erased: "
                "post the day file's link again"
            )
        return request, None
    raw = find_raw_file(paths.source_dir, target.ticker, target.endpoint, target.trade_date)
    request = find_request(store, target.ticker, target.endpoint, target.trade_date)
    if raw is not None:
        return request, raw
    if request is None:
        raise HistoryImportFailed(
            f"{target}: no kept raw file under "
            f"{raw_dir(paths.source_dir, target.ticker, target.endpoint)} and no live link: "
            "POST the day file's link to /gex_history_url first"
        )
    return request, None


def _keep_download(
    incoming: Path, compressed: bool, source_dir: Path, target: PartitionTarget
) -> Path:
    """Rename an imported download to the partition's raw file name; drop superseded files."""
    name = raw_file_name(target.trade_date, target.ticker, target.endpoint, compressed)
    raw = incoming.with_name(name)
    os.replace(incoming, raw)
    for old in kept_raw_files(source_dir, target.ticker, target.endpoint, target.trade_date):
        if old != raw:
            old.unlink(missing_ok=True)
    return raw


def import_partition(
    target: PartitionTarget,
    *,
    connect: Connect,
    paths: PathSettings,
    history: HistorySettings,
    parquet_root: Path | None = None,
    request_id: str | None = None,
    force: bool = False,
    run_id: str | None = None,
    will_retry: bool = False,
) -> PartitionImport:
    """Import `target` from a fresh download (request) or its kept raw file, then export Parquet
    under `parquet_root` when one is given.

    Raises `HistoryImportFailed` with a clear reason (also written to the status record); nothing
    stored changes when the download, the file or the replace is refused. Any other error is
    recorded as `retrying` when `will_retry` (the run will be retried), else as `failed`: a request
    is `failed` only for good.
    """
    store = HistoryStore(paths.data_dir, paths.secrets_dir)
    request, raw = _choose_source(store, paths, target, request_id)
    status = _Status(store, request, run_id)
    incoming: Path | None = None
    try:
        downloaded = None
        if raw is None:
            assert request is not None
            folder = raw_dir(paths.source_dir, target.ticker, target.endpoint)
            incoming = folder / f".incoming-{request.id}"
            status("downloading")
            assert request.signed_url is not None
            downloaded = download_day_file(
                request.signed_url, incoming, UrlPolicy.from_settings(history), history.limits
            )
            log.info("downloaded %s (%d bytes)", downloaded.redacted_url, downloaded.bytes)
        source = incoming if incoming is not None else raw
        assert source is not None
        status("importing")
        with connect() as con:
            con.execute(f"SET memory_limit = '{history.duckdb_memory_limit}'")
            stats = import_day_file(
                con,
                source,
                ticker=target.ticker,
                endpoint=target.endpoint,
                trade_date=target.trade_date,
                backups_dir=paths.backups_dir,
                force=force,
                shrink_ratio=history.shrink_ratio,
                max_decompressed=history.limits.max_decompressed_bytes,
            )
            blocked: tuple[str, ...] = ()
            exported = None
            if parquet_root is not None:
                day = FeedDay(target.trade_date, target.ticker, target.endpoint)
                blocked = tuple(r.name for r in publish_blockers(con, day))
                if not blocked:  # an ERROR check keeps the partition (and the old file) unpublished
                    exported = export_partition(
                        con, parquet_root, target.ticker, target.endpoint, target.trade_date
                    )
        if incoming is not None and downloaded is not None:
            raw = _keep_download(incoming, downloaded.gzip, paths.source_dir, target)
            incoming = None
    except (DownloadError, DayFileInvalid, ReplaceRefused, HistoryImportFailed) as exc:
        status("failed", reason=f"{target}: {exc}")
        raise HistoryImportFailed(f"{target}: {exc}") from None
    except Exception as exc:
        state = "retrying" if will_retry else "failed"
        status(state, reason=f"{target}: {type(exc).__name__}: {str(exc)[:500]}")
        raise
    finally:
        if incoming is not None:
            incoming.unlink(missing_ok=True)
    assert raw is not None
    prune_backups(
        paths.backups_dir,
        target.ticker,
        target.endpoint,
        history.backup_retention_days,
        time.time(),
    )
    status("done", rows=stats.summary())
    return PartitionImport(
        stats, exported, raw, downloaded, request.id if request else None, blocked
    )
