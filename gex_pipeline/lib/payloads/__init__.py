"""Parsing and normalisation of ingest payloads (`/gex`, `/uw`, `/gex_history_url`): pure, no I/O.

Every refusal is a `PayloadError` naming the offending field (see `errors.py`).
"""
