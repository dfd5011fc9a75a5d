"""`gex-pipeline status`: last load per feed, staging backlog, failed runs and alerts."""

from __future__ import annotations

import json

import dagster as dg
import pytest
from dagster._core.instance.ref import InstanceRef

from gex_pipeline.cli import main
from gex_pipeline.cli.dagster_home import prepare_dagster_home
from gex_pipeline.lib.ops.alerts import send_alert
from gex_pipeline.settings import Settings
from gex_pipeline_tests.support.staging_trees import GexStagingTree


@dg.asset
def doomed() -> None:
    raise RuntimeError("boom")


def test_status_reports_loads_backlog_failures_and_alerts(
    settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    gex = GexStagingTree(settings.paths.staging_dir)
    gex.seal([gex.record()])
    gex.seal([gex.record()])
    prepare_dagster_home(settings.paths.dagster_home)
    with dg.DagsterInstance.from_ref(
        InstanceRef.from_dir(str(settings.paths.dagster_home))
    ) as instance:
        instance.report_runless_asset_event(
            dg.AssetMaterialization("gex_snapshots", partition="2025-11-14|SPX.gex_zero")
        )
        failed = dg.materialize([doomed], instance=instance, raise_on_error=False)
    send_alert("check_failure", "ERROR check x failed")
    assert main(["status", "--json"]) == 1  # attention: a failed run and an alert
    report = json.loads(capsys.readouterr().out)
    assert report["staging"]["gex"]["sealed_segments"] == 2
    assert report["staging"]["gex"]["oldest_age_seconds"] is not None
    assert list(report["dagster"]["last_load_per_feed"]) == ["SPX.gex_zero"]
    assert [r["run_id"] for r in report["dagster"]["failed_runs_24h"]] == [failed.run_id]
    assert report["alerts_24h"] == {"check_failure": 1}
    assert main(["status"]) == 1
    assert "staging gex: 2 sealed segments waiting" in capsys.readouterr().out


def test_status_of_a_quiet_healthy_stack_exits_zero(
    settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    prepare_dagster_home(settings.paths.dagster_home)
    assert main(["status"]) == 0
    assert "failed runs (24h): 0" in capsys.readouterr().out
