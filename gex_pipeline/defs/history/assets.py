"""The history domain's sources: posted day-file links and the kept raw day files.

Importing a day file is a materialization of the GEX tables (`gex_tables`, defs/gex/tables.py):
`gex_history_sensor` launches `gex_history_job` for the request's partition with the request id in
the tag `gex/history_request` (never the URL); the run downloads the link afresh, replaces the
slice and exports the partition to Parquet (`gex_parquet`) in the same run.
"""

from __future__ import annotations

from gex_pipeline.defs.gex.keys import HISTORY_REQUESTS, RAW_DAY_FILES, REQUEST_TAG
from gex_pipeline.defs.metadata import source_spec

__all__ = ["REQUEST_TAG", "history_assets"]

history_request_spec = source_spec(
    HISTORY_REQUESTS,
    "history",
    "Day-file links posted to /gex_history_url, one request file per day file under "
    "data/staging/history/requests/ (signed URL encrypted; docs/staging.md).",
)
raw_day_file_spec = source_spec(
    RAW_DAY_FILES,
    "history",
    "Downloaded GEXBot day files kept under "
    "data/source/gexbot/<TICKER>/<endpoint>/<YYYY-MM-DD>_<TICKER>_classic_<endpoint>.json[.gz]; "
    "a table rebuild re-imports them without downloading.",
    deps=[HISTORY_REQUESTS],
)

history_assets = [history_request_spec, raw_day_file_spec]
