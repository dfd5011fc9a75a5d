"""Live loading: the micro-batch mechanism both staging streams (`gex`, `uw`) share, and the
supervised loader process that runs it outside Dagster runs."""
