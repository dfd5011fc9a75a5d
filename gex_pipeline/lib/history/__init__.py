"""Historical day files: safe download, DuckDB import with atomic slice replace."""
