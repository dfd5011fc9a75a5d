"""Asset keys, groups and tags of the GEX tables, their sources and their Parquet export."""

from __future__ import annotations

import dagster as dg

GROUP = "gex"
GEX_SNAPSHOTS = dg.AssetKey("gex_snapshots")
GEX_STRIKES = dg.AssetKey("gex_strikes")
GEX_TABLES = (GEX_SNAPSHOTS, GEX_STRIKES)
GEX_PARQUET = dg.AssetKey("gex_parquet")

# External sources (the pipeline reads them, never produces them).
SOURCES_GROUP = "sources"
GEX_STAGING_STREAM = dg.AssetKey(["staging", "gex"])
HISTORY_REQUESTS = dg.AssetKey(["staging", "history_requests"])
RAW_DAY_FILES = dg.AssetKey(["source", "gexbot_day_files"])

# Runs started by `gex_history_sensor` carry the request id (never the URL) in this tag.
REQUEST_TAG = "gex/history_request"
