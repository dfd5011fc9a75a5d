"""Prometheus metrics of the processes that the ingest API does not run: the live loader and the
pipeline's runs publish theirs as text files under `$GEX_DATA_DIR/metrics/`, which the API's
`GET /metrics` serves beside its own (docs/operations.md, "Metrics")."""
