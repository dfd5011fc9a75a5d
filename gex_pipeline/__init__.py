"""gex-pipeline: durable intake and a Dagster pipeline for options market-structure data.

Importing this package is cheap: Dagster, DuckDB and polars are imported only by the modules that
need them, so the ingest API and the CLI start fast.
"""

__version__ = "0.1.0"
