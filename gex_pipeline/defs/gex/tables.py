"""`gex_tables`: the DuckDB tables `gex_snapshots` and `gex_strikes` as one partitioned multi-asset.

Materializing a date x feed partition rebuilds its slice from what the pipeline keeps (the kept raw
day file, else the processed staging segments, else the newest posted link; see
`lib/gex/table_rebuild.py`). A run started by `gex_history_sensor` carries the request id in the tag
`gex/history_request` and downloads that link: the history import is this same asset. With
`BackfillPolicy.single_run()` a backfill of many dates of a feed is one run. Live loads report
materializations of the same keys without a run.
"""

# No `from __future__ import annotations` here: Dagster reads the config and resource types
# from the annotations of decorated functions when the definitions load.
from collections.abc import Iterator, Mapping

import dagster as dg
from pydantic import Field

from gex_pipeline.defs.gex.keys import (
    GEX_SNAPSHOTS,
    GEX_STAGING_STREAM,
    GEX_STRIKES,
    GEX_TABLES,
    GROUP,
    HISTORY_REQUESTS,
    RAW_DAY_FILES,
    REQUEST_TAG,
)
from gex_pipeline.defs.metadata import (
    GEX_SNAPSHOTS_SCHEMA,
    GEX_STRIKES_SCHEMA,
    OWNERS,
    table_metadata,
    tags,
)
from gex_pipeline.defs.partition_runs import Metadata, PartitionFailed, materialize_each
from gex_pipeline.defs.partitions import gex_partitions, parse_gex_partition_key
from gex_pipeline.defs.resources import Tables
from gex_pipeline.lib.db.writer import DUCKDB_WRITER_POOL
from gex_pipeline.lib.gex.staging_rebuild import StagingIncomplete
from gex_pipeline.lib.gex.table_rebuild import NoData, Rebuilt, rebuild_partition
from gex_pipeline.lib.history.day_replace import ReplaceRefused
from gex_pipeline.lib.history.partition_import import HistoryImportFailed, PartitionTarget
from gex_pipeline.settings import Settings

RETRY_NUMBER_TAG = "dagster/retry_number"

TABLES_OP = "gex_tables"
SOURCE_DEPS = [GEX_STAGING_STREAM, RAW_DAY_FILES, HISTORY_REQUESTS]


class TableRebuildConfig(dg.Config):
    """Options of a table rebuild run."""

    force: bool = Field(
        default=False,
        description="replace the partition even when the new data would shrink it sharply",
    )


def run_will_be_retried(instance: dg.DagsterInstance, tags: Mapping[str, str]) -> bool:
    """Whether the instance retries this run if it fails (run retries on, retries left, and the
    run not marked final by `materialize_each`)."""
    if not instance.run_retries_enabled:
        return False
    if tags.get("dagster/retry_on_asset_or_op_failure") == "false":
        return False
    return int(tags.get(RETRY_NUMBER_TAG, "0")) < instance.run_retries_max_retries


def rebuild_metadata(done: Rebuilt) -> dict[str, dg.MetadataValue]:
    """Where one partition's rows came from and what the replace did, shared by both tables."""
    meta: dict[str, dg.MetadataValue] = {
        "source": dg.MetadataValue.text(done.source),
        "snapshots": dg.MetadataValue.int(done.snapshots),
        "strike_rows": dg.MetadataValue.int(done.strike_rows),
        "replaced_strike_rows": dg.MetadataValue.int(done.removed_strike_rows),
    }
    if done.pre_image is not None:
        meta["pre_image"] = dg.MetadataValue.text(f"gex_strikes@v{done.pre_image}")
    if done.imported is not None:
        stats = done.imported.stats
        meta["raw_file"] = dg.MetadataValue.path(str(done.imported.raw_path))
        meta["dropped"] = dg.MetadataValue.json({k: v for k, v in stats.dropped.items() if v})
        if stats.first_ts is not None and stats.last_ts is not None:
            meta["first_timestamp"] = dg.MetadataValue.timestamp(stats.first_ts / 1000)
            meta["last_timestamp"] = dg.MetadataValue.timestamp(stats.last_ts / 1000)
        download = done.imported.download
        if download is not None:
            meta["url"] = dg.MetadataValue.text(download.redacted_url)
            meta["url_sha256"] = dg.MetadataValue.text(download.url_hash)
            meta["file_sha256"] = dg.MetadataValue.text(download.sha256)
    if done.staged is not None:
        names = done.staged.segments
        meta["staging_segments"] = dg.MetadataValue.int(len(names))
        meta["first_segment"] = dg.MetadataValue.text(names[0])
        meta["last_segment"] = dg.MetadataValue.text(names[-1])
    return meta


def partition_metadata(done: Rebuilt) -> dict[dg.AssetKey, Metadata]:
    """Metadata of both tables for one rebuilt partition (row counts per table)."""
    shared = rebuild_metadata(done)
    return {
        GEX_SNAPSHOTS: {**shared, "dagster/row_count": dg.MetadataValue.int(done.snapshots)},
        GEX_STRIKES: {**shared, "dagster/row_count": dg.MetadataValue.int(done.strike_rows)},
    }


def _specs() -> list[dg.AssetSpec]:
    common = {
        "deps": SOURCE_DEPS,
        "group_name": GROUP,
        "kinds": {"duckdb", "deltalake"},
        "owners": OWNERS,
        "tags": tags("gex", "table"),
    }
    return [
        dg.AssetSpec(
            GEX_SNAPSHOTS,
            description="One row per ticker, endpoint, timestamp (epoch ms UTC); see docs/schema.md.",
            metadata=table_metadata("gex_snapshots", GEX_SNAPSHOTS_SCHEMA),
            **common,
        ),
        dg.AssetSpec(
            GEX_STRIKES,
            description="One row per ticker, endpoint, timestamp, strike; see docs/schema.md.",
            metadata=table_metadata("gex_strikes", GEX_STRIKES_SCHEMA),
            **common,
        ),
    ]


@dg.multi_asset(
    name=TABLES_OP,
    specs=_specs(),
    partitions_def=gex_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),
    pool=DUCKDB_WRITER_POOL,
    description=(
        "Rebuilds date x feed partitions of gex_snapshots and gex_strikes from the kept raw day "
        "file, else the processed staging segments, else the newest posted link (atomic replace, "
        "pre-image under data/backups)."
    ),
)
def gex_tables(
    context: dg.AssetExecutionContext, config: TableRebuildConfig, tables: Tables
) -> Iterator[dg.MaterializeResult]:
    """Rebuild every partition of the run (one feed-day, or a range of dates of one feed)."""
    settings = Settings.from_env()
    request_id = context.run.tags.get(REQUEST_TAG)
    store = tables.store()

    def build(key: str) -> Mapping[dg.AssetKey, Metadata]:
        target = PartitionTarget(*parse_gex_partition_key(key))
        try:
            done = rebuild_partition(
                target,
                store=store,
                paths=settings.paths,
                history=settings.history,
                request_id=request_id,
                force=config.force,
                run_id=context.run.run_id,
                will_retry=run_will_be_retried(context.instance, context.run.tags),
            )
        except (NoData, StagingIncomplete, HistoryImportFailed, ReplaceRefused) as exc:
            raise PartitionFailed(str(exc)) from None
        context.log.info(
            "%s rebuilt from %s: %d snapshots, %d strike rows (replaced %d)",
            target,
            done.source,
            done.snapshots,
            done.strike_rows,
            done.removed_strike_rows,
        )
        return partition_metadata(done)

    yield from materialize_each(context, GEX_TABLES, build)
