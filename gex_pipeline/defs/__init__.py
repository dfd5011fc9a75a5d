"""Dagster definitions by domain (`gex/`, `history/`, ...) plus shared partitions and resources."""
