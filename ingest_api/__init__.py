"""The ingest API: validates payloads and lands them durably in the staging area."""
