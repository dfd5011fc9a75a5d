"""The staging area: the only hand-off between the ingest API and the Dagster pipeline.

See `docs/staging.md` for the layout and the record formats.
"""
