"""The lake: versioned, partitioned Delta Lake tables (the system of record)."""
