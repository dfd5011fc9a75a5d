"""Live GEX feeds: the micro-batch load into DuckDB and the Parquet export."""
