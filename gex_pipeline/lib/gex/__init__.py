"""GEX feeds: the live micro-batch load, Parquet export and integrity checks of gex tables."""
