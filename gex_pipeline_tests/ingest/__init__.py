"""Ingest API tests added for issue 11 (hostile connections, compatibility, secrets, bounds)."""
