from pathlib import Path

import yaml
from dagster import DagsterInstance
from dagster._core.instance.config import PoolGranularity

from gex_pipeline.cli.dagster_home import DAGSTER_YAML, WORKSPACE_YAML, prepare_dagster_home


def test_prepared_home_loads_as_an_instance_with_a_run_granular_pool_limit_of_one(
    tmp_path: Path,
) -> None:
    home = prepare_dagster_home(tmp_path / "home")
    with DagsterInstance.from_config(str(home)) as instance:
        pool_config = instance.get_concurrency_config().pool_config
        assert pool_config.default_pool_limit == 1
        assert pool_config.pool_granularity == PoolGranularity.RUN
        assert instance.get_concurrency_config().run_queue_config.max_concurrent_runs == 2
        assert instance.run_retries_enabled
        assert not instance.telemetry_enabled


def test_prepared_home_has_a_workspace_naming_the_code_location(tmp_path: Path) -> None:
    home = prepare_dagster_home(tmp_path / "home")
    workspace = yaml.safe_load((home / "workspace.yaml").read_text())
    module = workspace["load_from"][0]["python_module"]
    assert module == {"module_name": "gex_pipeline.definitions", "location_name": "gex_pipeline"}


def test_repository_workspace_matches_the_generated_one() -> None:
    repo_workspace = Path(__file__).resolve().parents[2] / "workspace.yaml"
    assert yaml.safe_load(repo_workspace.read_text()) == yaml.safe_load(WORKSPACE_YAML)


def test_user_edits_to_dagster_yaml_survive_a_second_prepare(tmp_path: Path) -> None:
    home = prepare_dagster_home(tmp_path / "home")
    edited = DAGSTER_YAML.replace("max_concurrent_runs: 2", "max_concurrent_runs: 3")
    (home / "dagster.yaml").write_text(edited)
    prepare_dagster_home(home)
    assert (home / "dagster.yaml").read_text() == edited


def test_init_stores_the_writer_pool_limit_before_anything_runs(tmp_path: Path) -> None:
    import dagster as dg

    from gex_pipeline.cli.dagster_home import prepare_dagster_home, set_writer_pool_limit
    from gex_pipeline.lib.db.writer import DUCKDB_WRITER_POOL

    home = prepare_dagster_home(tmp_path / "home")
    set_writer_pool_limit(home)
    with dg.DagsterInstance.from_config(str(home)) as instance:
        info = instance.event_log_storage.get_concurrency_info(DUCKDB_WRITER_POOL)
    assert info.slot_count == 1
