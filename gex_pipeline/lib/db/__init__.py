"""DuckDB access: connections, the versioned schema and its migrations."""
