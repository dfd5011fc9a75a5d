"""Tests of the ingest API: outside-in against real uvicorn servers, and in-process."""
