"""Prepare a persistent Dagster instance directory (`DAGSTER_HOME`) suited to a 2-core machine."""

from __future__ import annotations

from pathlib import Path

# Written once; a user's edits survive re-runs unless the file is missing.
DAGSTER_YAML = """\
# Managed by `gex-pipeline`; created when missing, never overwritten. Delete it to get the defaults back.
telemetry:
  enabled: false

concurrency:
  runs:
    # A run costs seconds of CPU on start-up; two at a time suits a 2-core machine.
    max_concurrent_runs: 2
  pools:
    # Every pool without an explicit limit (the DuckDB writer pool included) admits one run at a time:
    # DuckDB allows a single read-write process per database file.
    default_limit: 1
    granularity: run

# Runs are retried only when they die for an infrastructure reason (a worker killed, a lost
# process); a data failure (an ERROR check, no data, a refused replace) is final and alerts once.
# Transient faults inside an op (network, lock wait) are retried by the op's RetryPolicy.
run_retries:
  enabled: true
  max_retries: 2
  retry_on_asset_or_op_failure: false

# No asset uses automation conditions: the automation daemon would poll for nothing. Turn it back
# on (`enabled: true`) when you add some.
auto_materialize:
  enabled: false

run_monitoring:
  enabled: true
  start_timeout_seconds: 180
  poll_interval_seconds: 30

retention:
  schedule:
    purge_after_days: 30
  sensor:
    purge_after_days:
      skipped: 1
      failure: 30
      success: 7
"""

# Appended when GEX_DAGSTER_POSTGRES_URL is set as the file is created: runs, event log and schedules
# on PostgreSQL (the URL itself stays in the environment, never in the file).
POSTGRES_STORAGE_YAML = """
storage:
  postgres:
    postgres_url:
      env: GEX_DAGSTER_POSTGRES_URL
"""

WORKSPACE_YAML = """\
load_from:
  - python_module:
      module_name: gex_pipeline.definitions
      location_name: gex_pipeline
"""


def prepare_dagster_home(dagster_home: Path, postgres: bool = False) -> Path:
    """Create `dagster_home` with `dagster.yaml` and `workspace.yaml` when missing; return it.

    `postgres` (`gex-pipeline init`: whether GEX_DAGSTER_POSTGRES_URL is set) puts the instance
    storage on PostgreSQL in a newly created `dagster.yaml`; an existing file is never changed.
    """
    dagster_home.mkdir(parents=True, exist_ok=True)
    instance_yaml = DAGSTER_YAML + (POSTGRES_STORAGE_YAML if postgres else "")
    for name, content in (("dagster.yaml", instance_yaml), ("workspace.yaml", WORKSPACE_YAML)):
        path = dagster_home / name
        if not path.exists():
            tmp = path.with_suffix(".tmp")
            tmp.write_text(content)
            tmp.replace(path)
    return dagster_home


def set_writer_pool_limit(dagster_home: Path) -> None:
    """Store the `duckdb_writer` pool's limit (1) in the instance before anything runs.

    Without a stored limit the first scheduling pass of a fresh instance may admit two writing
    runs; the writer lock (`lib/db/writer.py`) makes the second wait, and this keeps it queued.
    """
    import dagster as dg

    from gex_pipeline.lib.db.writer import DUCKDB_WRITER_POOL

    with dg.DagsterInstance.from_config(str(dagster_home)) as instance:
        instance.event_log_storage.set_concurrency_slots(DUCKDB_WRITER_POOL, 1)
