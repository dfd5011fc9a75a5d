"""GEX assets: the staging source and `gex_tables` (the tables, their Parquet export and checks).

`gex_snapshots`, `gex_strikes` and `gex_parquet` are partitioned by date x feed and built by
`gex_tables` (tables.py). Live data reaches the tables through the live loader (`gex-pipeline
live-loader`, outside runs), which reports a runless materialization of each partition it changed;
the staging backlog and the last arrival are observed on the source by `gex_freshness_sensor`.
"""

from gex_pipeline.defs.gex.keys import GEX_STAGING_STREAM
from gex_pipeline.defs.gex.tables import gex_tables
from gex_pipeline.defs.metadata import source_spec

gex_staging_spec = source_spec(
    GEX_STAGING_STREAM,
    "gex",
    "Sealed /gex payload segments written by the ingest API under data/staging/gex/ (NDJSON, "
    "docs/staging.md); moved to processed/ once loaded.",
)

gex_assets = [gex_staging_spec, gex_tables]
