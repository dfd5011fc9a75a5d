"""Pure logic shared by the ingest API and the Dagster code location (no Dagster imports here)."""
