"""gex-pipeline: durable intake and a Dagster pipeline for options market-structure data.

Importing this package is cheap: Dagster, DuckDB and polars are imported only by the modules that
need them, so the ingest API and the CLI start fast. It silences the warnings of the Dagster beta
and preview features the project uses on purpose (`quiet_warnings.py`, the list and why).
"""

from gex_pipeline.quiet_warnings import quiet_dagster_feature_warnings

__version__ = "0.1.0"

quiet_dagster_feature_warnings()
