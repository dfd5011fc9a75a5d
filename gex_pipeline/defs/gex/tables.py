"""`gex_tables`: `gex_snapshots`, `gex_strikes`, their Parquet export and their checks, per feed-day.

One partitioned multi-asset (subsettable) does the whole work of a date x feed partition in order:
1. rebuild the tables' slice from what the pipeline keeps (the kept raw day file, else the processed
   staging segments, else the newest posted link; `lib/gex/table_rebuild.py`) when they are
   selected. A run started by `gex_history_sensor` carries the request id in the tag
   `gex/history_request` and downloads that link: the history import is this same asset;
2. the selected integrity checks (checks.py);
3. the Parquet export (`gex_parquet`) when selected and no ERROR gate fails;
4. the Parquet reconciliation check.
Each partition is reported on its own (`partition_runs.PartitionEvents`), so in a backfill chunk a
day without data fails alone: the other days are still built, checked and exported. Backfills run
in chunks of `BACKFILL_CHUNK_SESSIONS` partitions; history imports carry a higher `dagster/priority`,
so an import waits for one chunk at most. Live loads report materializations of the same keys
without a run.
"""

# No `from __future__ import annotations` here: Dagster reads the config and resource types
# from the annotations of decorated functions when the definitions load.
from collections.abc import Iterator

import dagster as dg
from pydantic import Field

from gex_pipeline.defs.gex.checks import IntegrityConfig, integrity_check_specs
from gex_pipeline.defs.gex.keys import (
    GEX_PARQUET,
    GEX_SNAPSHOTS,
    GEX_STAGING_STREAM,
    GEX_STRIKES,
    GEX_TABLES,
    GROUP,
    HISTORY_REQUESTS,
    RAW_DAY_FILES,
    REQUEST_TAG,
)
from gex_pipeline.defs.gex.reporting import markdown_table
from gex_pipeline.defs.integrity import check_evaluation
from gex_pipeline.defs.metadata import (
    GEX_PARQUET_SCHEMA,
    GEX_SNAPSHOTS_SCHEMA,
    GEX_STRIKES_SCHEMA,
    OWNERS,
    table_metadata,
    tags,
)
from gex_pipeline.defs.partition_runs import (
    TRANSIENT_RETRY,
    Metadata,
    PartitionEvents,
    PartitionFailed,
    will_retry,
)
from gex_pipeline.defs.partitions import gex_partitions, parse_gex_partition_key
from gex_pipeline.defs.resources import ParquetStore, Tables
from gex_pipeline.lib.db.writer import DUCKDB_WRITER_POOL
from gex_pipeline.lib.gex.day_chart import chart_markdown
from gex_pipeline.lib.gex.integrity import (
    CHECKED_TABLES,
    GEX_CHECKS,
    PARQUET,
    PUBLISH_GATES,
    FeedDay,
    partition_checks,
)
from gex_pipeline.lib.gex.staging_rebuild import StagingIncomplete
from gex_pipeline.lib.gex.table_rebuild import NoData, Rebuilt, rebuild_partition
from gex_pipeline.lib.history.day_replace import ReplaceRefused
from gex_pipeline.lib.history.partition_import import HistoryImportFailed
from gex_pipeline.lib.metrics.pipeline import record_checks
from gex_pipeline.settings import Settings

TABLES_OP = "gex_tables"
SOURCE_DEPS = [GEX_STAGING_STREAM, RAW_DAY_FILES, HISTORY_REQUESTS]
# Partitions per backfill run: an import (higher priority) waits for one chunk at most.
BACKFILL_CHUNK_SESSIONS = 10
PARQUET_CHECKS = frozenset(n for n, c in GEX_CHECKS.checks.items() if c.judges == PARQUET)


class PartitionConfig(IntegrityConfig):
    """Options of a run of `gex_tables`: the checks' thresholds and the rebuild's guard."""

    force: bool = Field(
        default=False,
        description="replace the partition even when the new data would shrink it sharply",
    )


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


def table_metadata_of(done: Rebuilt) -> dict[dg.AssetKey, Metadata]:
    """Metadata of both tables for one rebuilt partition (row counts per table)."""
    shared = rebuild_metadata(done)
    return {
        GEX_SNAPSHOTS: {**shared, "dagster/row_count": dg.MetadataValue.int(done.snapshots)},
        GEX_STRIKES: {**shared, "dagster/row_count": dg.MetadataValue.int(done.strike_rows)},
    }


def _specs() -> list[dg.AssetSpec]:
    common = {"group_name": GROUP, "owners": OWNERS, "skippable": True}
    table = {
        **common,
        "deps": SOURCE_DEPS,
        "kinds": {"duckdb", "deltalake"},
        "tags": tags("gex", "table"),
    }
    return [
        dg.AssetSpec(
            GEX_SNAPSHOTS,
            description="One row per ticker, endpoint, timestamp (epoch ms UTC); see docs/schema.md.",
            metadata=table_metadata("gex_snapshots", GEX_SNAPSHOTS_SCHEMA),
            **table,
        ),
        dg.AssetSpec(
            GEX_STRIKES,
            description="One row per ticker, endpoint, timestamp, strike; see docs/schema.md.",
            metadata=table_metadata("gex_strikes", GEX_STRIKES_SCHEMA),
            **table,
        ),
        dg.AssetSpec(
            GEX_PARQUET,
            deps=list(GEX_TABLES),
            kinds={"parquet", "duckdb"},
            tags=tags("gex", "publish"),
            metadata={"dagster/column_schema": GEX_PARQUET_SCHEMA},
            description="data/parquet/gexbot/<TICKER>/<endpoint>/<YYYYMMDD>.strikes.parquet (zstd) "
            "and .snapshots.parquet, plus the reader views in data/gex_views.duckdb; not written "
            "while an ERROR integrity check of the partition fails.",
            **common,
        ),
    ]


@dg.multi_asset(
    name=TABLES_OP,
    specs=_specs(),
    check_specs=integrity_check_specs,
    can_subset=True,
    partitions_def=gex_partitions,
    backfill_policy=dg.BackfillPolicy.multi_run(max_partitions_per_run=BACKFILL_CHUNK_SESSIONS),
    pool=DUCKDB_WRITER_POOL,
    retry_policy=TRANSIENT_RETRY,
    description=(
        "Per date x feed partition: rebuild gex_snapshots and gex_strikes from the kept raw day "
        "file, else the processed staging segments, else the newest posted link (an atomic "
        "replace in the lake; the previous version is the way back); check it; export it to "
        "Parquet unless an ERROR check fails; reconcile the file."
    ),
)
def gex_tables(
    context: dg.AssetExecutionContext,
    config: PartitionConfig,
    tables: Tables,
    parquet: ParquetStore,
) -> Iterator[dg.MaterializeResult]:
    """Build, check and export every partition of the run, each on its own."""
    work = PartitionWork(context, config, tables, parquet)
    for key in context.partition_keys:
        work.partition(key)
    work.views()
    work.events.raise_if_failed()
    yield from ()


class PartitionWork:
    """The selected steps of `gex_tables` for one partition at a time."""

    def __init__(
        self,
        context: dg.AssetExecutionContext,
        config: PartitionConfig,
        tables: Tables,
        parquet: ParquetStore,
    ) -> None:
        self.context = context
        self.config = config
        self.store = tables.store()
        self.parquet = parquet
        self.events = PartitionEvents(context)
        self.assets = set(context.selected_asset_keys)
        self.checks = {key.name for key in context.selected_asset_check_keys}
        self.exported = 0

    def partition(self, key: str) -> None:
        """Rebuild, check, export and reconcile `key` as selected; note a failure and go on."""
        day = FeedDay(*parse_gex_partition_key(key))
        try:
            if self.assets & set(GEX_TABLES):
                self._rebuild(key, day)
            blocked = self._judge(key, day, self.checks - PARQUET_CHECKS)
            if GEX_PARQUET in self.assets:
                if blocked and set(blocked) <= self.checks:  # recorded: the failed check says it
                    self.context.log.warning("%s not exported: ERROR check(s) %s", key, blocked)
                    return
                if blocked:  # not recorded in this run: the run's failure says it
                    raise PartitionFailed(
                        f"not exported to Parquet, ERROR check(s) failed: {', '.join(blocked)}. "
                        "The previous Parquet file (if any) is unchanged."
                    )
                self._export(key, day)
            self._judge(key, day, self.checks & PARQUET_CHECKS)
        except PartitionFailed as exc:
            self.events.fail(key, str(exc))

    def _rebuild(self, key: str, day: FeedDay) -> None:
        settings = Settings.from_env()
        try:
            done = rebuild_partition(
                day,
                store=self.store,
                paths=settings.paths,
                history=settings.history,
                request_id=self.context.run.tags.get(REQUEST_TAG),
                force=self.config.force,
                run_id=self.context.run.run_id,
                will_retry=will_retry(self.context),
            )
        except (NoData, StagingIncomplete, HistoryImportFailed, ReplaceRefused) as exc:
            raise PartitionFailed(str(exc)) from None
        self.context.log.info(
            "%s rebuilt from %s: %d snapshots, %d strike rows (replaced %d)",
            day,
            done.source,
            done.snapshots,
            done.strike_rows,
            done.removed_strike_rows,
        )
        for asset, metadata in table_metadata_of(done).items():
            if asset in self.assets:
                self.events.materialized(asset, key, metadata)

    def _judge(self, key: str, day: FeedDay, names: set[str]) -> list[str]:
        """Evaluate `names` (plus the ERROR gates, unrecorded unless selected) on one partition;
        return the failed gates."""
        gates = set(PUBLISH_GATES) if GEX_PARQUET in self.assets else set()
        if not names and not gates:
            return []
        self.store.claim(day.partition)
        with self.store.reader(day.partition, CHECKED_TABLES) as con:
            results = partition_checks(
                con,
                day,
                self.parquet.root_dir(),
                self.config.thresholds(),
                names | (gates - PARQUET_CHECKS),
                rescan=self.config.rescan,
            )
        judged = [r for r in results if r.name in names]
        for result in judged:
            self.events.evaluated(check_evaluation(result, GEX_CHECKS, key))
        record_checks((r.name, r.passed) for r in judged)
        return [r.name for r in results if r.name in gates and not r.passed]

    def _export(self, key: str, day: FeedDay) -> None:
        from gex_pipeline.lib.gex.parquet_export import EmptyPartition, export_lake_partition

        self.store.claim(day.partition)
        with self.store.reader(day.partition, CHECKED_TABLES) as con:
            try:
                result = export_lake_partition(self.store, con, self.parquet.root_dir(), day)
            except EmptyPartition as exc:
                raise PartitionFailed(f"no data for this feed-day: {exc}") from None
        import polars as pl

        head = pl.read_parquet(result.path, n_rows=5)
        chart = chart_markdown(self.parquet.root_dir(), day.ticker, day.endpoint, day.trade_date)
        self.exported += 1
        self.events.materialized(
            GEX_PARQUET,
            key,
            {
                "dagster/row_count": dg.MetadataValue.int(result.rows),
                "path": dg.MetadataValue.path(str(result.path)),
                "bytes": dg.MetadataValue.int(result.path.stat().st_size),
                "reader_views": dg.MetadataValue.path(str(self.parquet.views_path())),
                "preview": dg.MetadataValue.md(markdown_table(head.columns, head.rows())),
                "day_chart": dg.MetadataValue.md(chart),
            },
        )

    def views(self) -> None:
        """Create the reader views over the Parquet files once any partition was exported."""
        from gex_pipeline.lib.db.views import ensure_reader_views

        if self.exported and ensure_reader_views(
            self.parquet.views_path(), self.parquet.root_dir()
        ):
            self.context.log.info("reader views created in %s", self.parquet.views_path())
