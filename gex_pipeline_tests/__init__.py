"""Tests of gex-pipeline, grouped by domain like the code (`gex/`, `webhooks/`, `history/`, ...)."""
