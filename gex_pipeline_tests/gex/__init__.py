"""Tests of the gex domain: live load, Parquet export, integrity checks."""
