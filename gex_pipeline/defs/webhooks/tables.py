"""`webhook_tables`: the `/uw` tables of a trading date, rebuilt from processed staging.

Materializing a date of `universal_webhooks`, `option_trades_events` and `market_agg_state` (from
the UI, or a backfill) replaces the date in the lake with what its processed `/uw` segments hold,
loaded by the live loader's own SQL (`lib/ops/rebuild.py`): first arrival wins as live. A date
whose segments were purged (`GEX_STAGING_RETENTION_DAYS`) or that holds none fails alone, and is not
retried. Live loads report materializations of the same keys without a run.
"""

# No `from __future__ import annotations` here: Dagster reads the resource types from the
# annotations of decorated functions when the definitions load.
from collections.abc import Iterator
from datetime import date

import dagster as dg

from gex_pipeline.defs.partition_runs import TRANSIENT_RETRY, PartitionEvents
from gex_pipeline.defs.partitions import trading_date_partitions
from gex_pipeline.defs.resources import Tables
from gex_pipeline.defs.webhooks.assets import webhook_table_specs
from gex_pipeline.lib.db.writer import DUCKDB_WRITER_POOL

BACKFILL_CHUNK_DAYS = 10


@dg.multi_asset(
    name="webhook_tables",
    specs=[spec.replace_attributes(skippable=True) for spec in webhook_table_specs],
    partitions_def=trading_date_partitions,
    backfill_policy=dg.BackfillPolicy.multi_run(max_partitions_per_run=BACKFILL_CHUNK_DAYS),
    pool=DUCKDB_WRITER_POOL,
    retry_policy=TRANSIENT_RETRY,
    description="Per trading date: rebuild the /uw tables from the processed staging segments "
    "(an atomic replace in the lake).",
)
def webhook_tables(context: dg.AssetExecutionContext, tables: Tables) -> Iterator[dg.Output]:
    """Rebuild every date of the run, each on its own."""
    from gex_pipeline.lib.db.schema import migrate
    from gex_pipeline.lib.ops.rebuild import StagingPurged, rebuild_one, webhook_day_sources
    from gex_pipeline.settings import Settings

    settings = Settings.from_env()
    store = tables.store()
    events = PartitionEvents(context)
    for key in context.partition_keys:
        day = date.fromisoformat(key)
        try:
            with store.live() as con:
                migrate(con)
                sources = webhook_day_sources(con, settings, day)
            if not sources.segments:
                raise StagingPurged(f"no processed /uw segment holds a message of {day}")
            _, rows = rebuild_one(sources, store, settings)
        except StagingPurged as exc:
            events.fail(key, str(exc))
            continue
        metadata = {
            "source": dg.MetadataValue.text("staging"),
            "staging_segments": dg.MetadataValue.int(len(sources.segments)),
            "messages": dg.MetadataValue.int(rows),
        }
        for spec in webhook_table_specs:
            events.materialized(spec.key, key, metadata)
    events.raise_if_failed()
    yield from ()
