"""Import one date x feed partition from its day file: download (when needed), import into the
lake, and export to Parquet when asked (the Dagster job exports in its own `gex_parquet` step).

The partition is claimed first (sealed out of `gex_data.db` if the live loader still holds rows
of it), then the file is parsed and validated in a private DuckDB workspace holding the lake's
snapshots of the partition, and the result replaces the partition in the lake (strike rows,
snapshots, rejects, live shadow, figures), one commit per table. The lake's previous version is
the way back (`gex-pipeline restore`).

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
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import TypeVar

from gex_pipeline.lib.gex.feed_day import FeedDay
from gex_pipeline.lib.gex.integrity import CHECKED_TABLES, publish_blockers
from gex_pipeline.lib.gex.parquet_export import ExportResult, export_lake_partition
from gex_pipeline.lib.history.day_format import DayFileInvalid
from gex_pipeline.lib.history.day_import import ImportStats, import_day_file
from gex_pipeline.lib.history.day_replace import ReplaceRefused
from gex_pipeline.lib.history.download import DownloadError, DownloadResult, download_day_file
from gex_pipeline.lib.history.sources import (
    find_raw_file,
    find_request,
    kept_raw_files,
    raw_dir,
    raw_file_name,
)
from gex_pipeline.lib.history.url_policy import UrlPolicy
from gex_pipeline.lib.lake.store import TableStore
from gex_pipeline.lib.staging.history_store import HistoryStore, StoredRequest
from gex_pipeline.settings import HistorySettings, PathSettings

log = logging.getLogger(__name__)
T = TypeVar("T")

IMPORT_WRITER = "history-import"
# What an import replaces in the lake (strike rows before their snapshots; figures last).
IMPORT_TABLES: tuple[str, ...] = (
    "gex_strikes",
    "gex_snapshots",
    "gex_history_rejects",
    "gex_live_shadow",
    "gex_partition_figures",
)


class HistoryImportFailed(Exception):
    """The partition could not be imported; the message is safe to show (no signed URL)."""


@dataclass(frozen=True)
class PartitionImport:
    """What one partition import did."""

    stats: ImportStats
    export: ExportResult | None
    raw_path: Path
    download: DownloadResult | None
    request_id: str | None
    blocked: tuple[str, ...] = ()
    pre_image: int | None = None


def replace_in_lake(
    store: TableStore,
    target: FeedDay,
    replace: Callable[..., T],
    *,
    tables: tuple[str, ...],
    writer: str,
    load: tuple[str, ...] = (),
    presorted: Callable[[T], tuple[str, ...]] = lambda _: (),
) -> tuple[T, int | None]:
    """Claim `target`'s partition, then replace the slice in a workspace of it with
    `replace(con, ticker=, endpoint=, trade_date=, backups_dir=None, stored=)`: `stored` (see
    `day_replace.Stored`) copies the partition's `load` tables into the workspace and returns the
    lake's (snapshots, strike rows) of it when the replace calls it, after its own work; then
    write `tables` back to the lake, those in `presorted(result)` in their insertion order.
    Returns the result and the lake version of `gex_strikes` before the replace (None when the
    partition held no strike rows)."""
    partition = target.partition
    store.claim(partition)
    with store.workspace(partition) as ws:
        # On object storage the tables open while the replace parses (`TableCache.prefetch`).
        ws.prefetch(*load, "gex_snapshots", "gex_strikes", *tables)
        counted: list[tuple[int, int]] = []

        def stored() -> tuple[int, int]:
            if not counted:  # load once
                ws.load(*load)
                counted.append((ws.count("gex_snapshots"), ws.count("gex_strikes")))
            return counted[0]

        result = replace(
            ws.con,
            ticker=target.ticker,
            endpoint=target.endpoint,
            trade_date=target.trade_date,
            backups_dir=None,
            stored=stored,
        )
        if not counted:  # it would write back over rows it never saw
            raise RuntimeError(f"{target}: the replace did not ask for the stored rows")
        before = ws.write_back(tables, writer=writer, presorted=presorted(result))
    return result, before["gex_strikes"] if counted[0][1] else None


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
    store: HistoryStore, paths: PathSettings, target: FeedDay, request_id: str | None
) -> tuple[StoredRequest | None, Path | None]:
    """(request to download, kept raw file to use); exactly one of them drives the import."""
    if request_id is not None:
        request = store.load_request(request_id)
        if request is None:
            raise HistoryImportFailed(f"history request {request_id} does not exist")
        found = FeedDay(request.trade_date, request.ticker, request.endpoint)
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


def _keep_download(incoming: Path, compressed: bool, source_dir: Path, target: FeedDay) -> Path:
    """Rename an imported download to the partition's raw file name; drop superseded files."""
    name = raw_file_name(target.trade_date, target.ticker, target.endpoint, compressed)
    raw = incoming.with_name(name)
    os.replace(incoming, raw)
    for old in kept_raw_files(source_dir, target.ticker, target.endpoint, target.trade_date):
        if old != raw:
            old.unlink(missing_ok=True)
    return raw


def import_partition(
    target: FeedDay,
    *,
    store: TableStore,
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
    requests = HistoryStore(paths.data_dir, paths.secrets_dir)
    request, raw = _choose_source(requests, paths, target, request_id)
    status = _Status(requests, request, run_id)
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
        stats, exported, blocked, pre_image = _import_into_lake(
            store, target, source, paths, history, parquet_root, force
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
    status("done", rows=stats.summary())
    return PartitionImport(
        stats, exported, raw, downloaded, request.id if request else None, blocked, pre_image
    )


def _import_into_lake(
    store: TableStore,
    target: FeedDay,
    source: Path,
    paths: PathSettings,
    history: HistorySettings,
    parquet_root: Path | None,
    force: bool,
) -> tuple[ImportStats, ExportResult | None, tuple[str, ...], int | None]:
    """Parse `source` in a workspace of the partition and replace the partition in the lake;
    export it when `parquet_root` is given and no ERROR check blocks it. Returns the stats, the
    export, the blocking checks and the lake version of `gex_strikes` before the replace."""
    stats, pre_image = replace_in_lake(
        store,
        target,
        partial(
            import_day_file,
            path=source,
            force=force,
            shrink_ratio=history.shrink_ratio,
            max_decompressed=history.limits.max_decompressed_bytes,
        ),
        tables=IMPORT_TABLES,
        writer=IMPORT_WRITER,
        load=("gex_snapshots", "gex_live_shadow"),
        presorted=lambda stats: ("gex_strikes",) if stats.ordered else (),
    )
    blocked: tuple[str, ...] = ()
    exported = None
    if parquet_root is not None:
        # The checks judge and the export publishes the versions the import wrote (the claimed
        # partition's; no round trip per table on object storage to look for newer commits),
        # from one local copy of each file (the export copies the whole strike file anyway).
        reader = store.reader(target.partition, CHECKED_TABLES, latest=False, local_copies=True)
        with reader as con:
            blocked = tuple(r.name for r in publish_blockers(con, target))
            if not blocked:  # an ERROR check keeps the partition (and the old file) unpublished
                exported = export_lake_partition(store, con, parquet_root, target)
    return stats, exported, blocked, pre_image
