"""Runtime materializations of the gex tables, reported by the live loader (no run)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import dagster as dg

from gex_pipeline.defs.gex.keys import GEX_SNAPSHOTS, GEX_STRIKES
from gex_pipeline.defs.gex.reporting import partition_counts, partition_metadata
from gex_pipeline.defs.partitions import gex_partition_key
from gex_pipeline.lib.gex.live_load import PartitionStats

if TYPE_CHECKING:
    import duckdb


def gex_materializations(
    con: duckdb.DuckDBPyConnection, stats: Sequence[PartitionStats]
) -> list[dg.AssetMaterialization]:
    """One materialization per partition of `gex_snapshots` (and of `gex_strikes` when strike rows
    were added), with the figures since the last report, the stored row count (no preview: a
    live partition is reported all session and each event stays in the event log)."""
    counts = partition_counts(con, stats)
    events = []
    for item in stats:
        key = (item.trade_date, item.ticker, item.endpoint)
        partition = gex_partition_key(*key)
        snapshots, strikes = counts[key]
        meta = partition_metadata(item, snapshots)
        events.append(dg.AssetMaterialization(GEX_SNAPSHOTS, partition=partition, metadata=meta))
        if item.strikes_added:
            strike_meta = {**meta, "dagster/row_count": dg.MetadataValue.int(strikes)}
            events.append(
                dg.AssetMaterialization(GEX_STRIKES, partition=partition, metadata=strike_meta)
            )
    return events
