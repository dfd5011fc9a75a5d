"""Tests of the gex-pipeline command, settings and the Dagster home it prepares."""
