"""Deterministic, realistic demo data: history day files, live `/gex` payloads and UW messages.

Pure Python (no Dagster, no DuckDB): tests and benchmarks call it directly to build fixtures.
"""
