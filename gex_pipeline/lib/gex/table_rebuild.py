"""Rebuild one date x feed partition of the GEX tables from what the pipeline keeps.

Sources, in order:
1. a history request id (a run the history sensor started for a fresh POST): download its link;
2. the kept raw day file `source/gexbot/<TICKER>/<endpoint>/...`;
3. the processed staging segments of the feed-day (within `GEX_STAGING_RETENTION_DAYS`);
4. the newest posted link for the feed-day (it may still be live): download it.
With none of them the rebuild raises `NoData` and nothing changes. Every replace is atomic and
replaces the partition in the lake (`lib/lake/store.py`); the lake's previous version is the way
back.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

from gex_pipeline.lib.db.schema import migrate
from gex_pipeline.lib.gex.feed_day import FeedDay
from gex_pipeline.lib.gex.staging_rebuild import (
    StagingIncomplete,
    StagingRebuild,
    feed_day_segments,
    rebuild_from_staging,
)
from gex_pipeline.lib.history.partition_import import (
    PartitionImport,
    import_partition,
    replace_in_lake,
)
from gex_pipeline.lib.history.sources import find_raw_file, find_request, raw_dir
from gex_pipeline.lib.lake.store import TableStore
from gex_pipeline.lib.staging.history_store import HistoryStore
from gex_pipeline.lib.staging.layout import GEX_STREAM, stream_dirs
from gex_pipeline.settings import HistorySettings, PathSettings

RAW_FILE = "raw_file"
DOWNLOAD = "download"
STAGING = "staging"
STAGING_WRITER = "staging-rebuild"
STAGING_TABLES: tuple[str, ...] = ("gex_strikes", "gex_snapshots", "gex_partition_figures")


class NoData(Exception):
    """The feed-day has no kept raw file, no staging segment and no posted link."""


@dataclass(frozen=True)
class Rebuilt:
    """One rebuilt partition: where its rows came from and what the replace did."""

    source: str
    snapshots: int
    strike_rows: int
    removed_strike_rows: int
    pre_image: int | None
    imported: PartitionImport | None = None
    staged: StagingRebuild | None = None


def _from_import(done: PartitionImport) -> Rebuilt:
    stats = done.stats
    return Rebuilt(
        source=DOWNLOAD if done.download is not None else RAW_FILE,
        snapshots=stats.snapshots,
        strike_rows=stats.strike_rows,
        removed_strike_rows=stats.removed_strike_rows,
        pre_image=done.pre_image,
        imported=done,
    )


def _from_staging(done: StagingRebuild, pre_image: int | None) -> Rebuilt:
    return Rebuilt(
        source=STAGING,
        snapshots=done.snapshots,
        strike_rows=done.strike_rows,
        removed_strike_rows=done.removed_strike_rows,
        pre_image=pre_image,
        staged=done,
    )


def _rebuild_from_staging(
    store: TableStore,
    target: FeedDay,
    segments: list,
    paths: PathSettings,
    history: HistorySettings,
    force: bool,
) -> Rebuilt:
    """Replace the lake partition with the feed-day's records in `segments`."""
    done, pre_image = replace_in_lake(
        store,
        target,
        partial(
            rebuild_from_staging,
            segments=segments,
            work_dir=paths.work_dir,
            force=force,
            shrink_ratio=history.shrink_ratio,
        ),
        tables=STAGING_TABLES,
        writer=STAGING_WRITER,
    )
    return _from_staging(done, pre_image)


def rebuild_partition(
    target: FeedDay,
    *,
    store: TableStore,
    paths: PathSettings,
    history: HistorySettings,
    request_id: str | None = None,
    force: bool = False,
    run_id: str | None = None,
    will_retry: bool = False,
) -> Rebuilt:
    """Rebuild `target` from its best source (module docstring).

    Raises `NoData`, `StagingIncomplete` (segments purged and no link), `HistoryImportFailed` or
    `ReplaceRefused`, each with a reason safe to show; nothing stored changes in those cases.
    `will_retry` (the run will be retried) makes another error of a request's import `retrying`.
    """

    def download_or_import() -> Rebuilt:
        return _from_import(
            import_partition(
                target,
                store=store,
                paths=paths,
                history=history,
                request_id=request_id,
                force=force,
                run_id=run_id,
                will_retry=will_retry,
            )
        )

    found = find_raw_file(paths.source_dir, target.ticker, target.endpoint, target.trade_date)
    if request_id is not None or found is not None:
        return download_or_import()
    incomplete: StagingIncomplete | None = None
    with store.live() as live:
        migrate(live)
        try:
            segments = feed_day_segments(live, stream_dirs(paths.staging_dir, GEX_STREAM), target)
        except StagingIncomplete as exc:
            incomplete, segments = exc, []
    if segments:
        return _rebuild_from_staging(store, target, segments, paths, history, force)
    requests = HistoryStore(paths.data_dir, paths.secrets_dir)
    if find_request(requests, target.ticker, target.endpoint, target.trade_date) is not None:
        return download_or_import()
    if incomplete is not None:
        raise incomplete
    raise NoData(
        f"no data for this feed-day ({target}): no kept raw file under "
        f"{raw_dir(paths.source_dir, target.ticker, target.endpoint)}, no processed staging "
        "segment within GEX_STAGING_RETENTION_DAYS and no posted link (POST it to "
        "/gex_history_url)"
    )
