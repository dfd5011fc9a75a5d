"""Time lapse: two trading weeks (Thanksgiving and the 13:00 early close included) played in
accelerated time against a real Dagster instance (temp DAGSTER_HOME, the shipped `run_retries`),
with the real definitions: imports (one with an ERROR defect), a backfill chunk that includes a day
without data, the export, freshness and alert sensors ticking at simulated instants, and the
maintenance retention purging runs. The clock is simulated (`time.time`); runs execute in
process (no daemon: the run queue and the daemon's retries are not exercised here).

It asserts invariants, not steps:
- no partition is exported twice without a change of its data (retention included);
- every check evaluation was judged (no "passed" with `judged: false`);
- the other days of a backfill chunk are built, exported and checked;
- one alert per data failure, and the instance would not retry it;
- imports outrank backfills, which run in bounded chunks;
- run history stays bounded after retention.
"""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from unittest import mock

import dagster as dg
import pytest
import yaml

from gex_pipeline.cli.dagster_home import DAGSTER_YAML
from gex_pipeline.cli.demo.history_day import make_day_file
from gex_pipeline.defs.export_sensor import build_export_sensor
from gex_pipeline.defs.gex.freshness import build_freshness_sensor
from gex_pipeline.defs.gex.tables import gex_tables
from gex_pipeline.defs.ops import sensors as alert_sensors
from gex_pipeline.defs.ops.run_retention import is_carried_over, purge_runs
from gex_pipeline.defs.resources import build_resources
from gex_pipeline.lib.calendar.trading_date import TRADING_TZ
from gex_pipeline.lib.ops.alerts import read_alerts
from gex_pipeline.settings import PipelineSettings, Settings

pytestmark = pytest.mark.e2e

FEED = "SPX.gex_zero"
IMPORTED = ["2025-11-17", "2025-11-18", "2025-11-25", "2025-11-26", "2025-11-28"]
BACKFILL = ["2025-11-19", "2025-11-20", "2025-11-21"]  # the 20th has no data anywhere
EMPTY = "2025-11-20"
DEFECT = "2025-11-24"  # rows of another date: an ERROR check fails, nothing is published
CHECKS = [
    ("gex_parquet", "parquet_freshness"),
    ("gex_snapshots", "feed_freshness"),
    ("gex_snapshots", "trade_date_mismatch"),
    ("gex_snapshots", "session_coverage"),
    ("gex_parquet", "parquet_reconciliation"),
]
PIPELINE = PipelineSettings(export_quiet_seconds=900, freshness_max_silence_seconds=300)


def at(day: str, hour: int, minute: int = 0) -> float:
    """Epoch seconds of a New York wall time."""
    y, m, d = (int(x) for x in day.split("-"))
    return datetime(y, m, d, hour, minute, tzinfo=TRADING_TZ).timestamp()


class Lapse:
    """The simulated clock, the instance, the real definitions and the sensors' cursors."""

    def __init__(self, instance: dg.DagsterInstance, data_dir: Path) -> None:
        from gex_pipeline.definitions import defs

        self.instance = instance
        self.raw = data_dir / "source" / "gexbot" / "SPX" / "gex_zero"
        self.defs = defs()
        self.resources = build_resources(Settings.from_env())
        self.export_sensor = build_export_sensor(PIPELINE)
        self.freshness_sensor = build_freshness_sensor(PIPELINE)
        self.cursors: dict[str, str | None] = {}
        self.now = 0.0
        self.failed_runs: list[str] = []
        self.after_retention: set[str] = set()
        self.retained = False

    def clock(self) -> mock._patch:
        return mock.patch("time.time", return_value=self.now)

    def run_job(self, name: str, partition: str, tags: dict[str, str] | None = None) -> str:
        with self.clock():
            result = self.defs.resolve_job_def(name).execute_in_process(
                instance=self.instance, partition_key=partition, tags=tags, raise_on_error=False
            )
        if not result.success:
            self.failed_runs.append(result.run_id)
        if self.retained:
            self.after_retention.add(result.run_id)
        return result.run_id

    def backfill_chunk(self, first: str, last: str) -> dg.ExecuteInProcessResult:
        """One run of a UI backfill chunk (what `BackfillPolicy.multi_run` launches)."""
        tags = {
            "dagster/asset_partition_range_start": f"{first}|{FEED}",
            "dagster/asset_partition_range_end": f"{last}|{FEED}",
        }
        with self.clock():
            result = dg.materialize(
                [gex_tables],
                instance=self.instance,
                resources=self.resources,
                tags=tags,
                raise_on_error=False,
            )
        if not result.success:
            self.failed_runs.append(result.run_id)
        return result

    def tick(self, name: str, sensor: dg.SensorDefinition) -> dg.SensorResult:
        with self.clock():
            context = dg.build_sensor_context(
                instance=self.instance, cursor=self.cursors.get(name), definitions=self.defs
            )
            result = sensor(context)
        if isinstance(result, dg.SensorResult):
            self.cursors[name] = result.cursor
            for event in result.asset_events or []:
                with self.clock():
                    self.instance.report_runless_asset_event(event)
        else:
            self.cursors[name] = context.cursor
        return result

    def sensors(self) -> None:
        """One tick of every sensor; the export runs it requests are executed."""
        exports = self.tick("export", self.export_sensor)
        for request in exports.run_requests or []:
            self.run_job(request.job_name, str(request.partition_key))
        self.tick("freshness", self.freshness_sensor)
        self.tick("alerts", alert_sensors.alert_sensor)


def _evaluations(instance: dg.DagsterInstance) -> list[dg.AssetCheckEvaluation]:
    """Every check evaluation recorded, in runs (planned or logged by an op) and runless."""
    records = instance.get_event_records(
        dg.EventRecordsFilter(event_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION),
        limit=100_000,
    )
    return [
        r.event_log_entry.asset_check_evaluation
        for r in records
        if r.event_log_entry.asset_check_evaluation is not None
    ]


def _materializations(instance: dg.DagsterInstance, asset: str) -> list[dg.EventLogRecord]:
    return list(
        instance.fetch_materializations(dg.AssetKey(asset), limit=10_000, ascending=True).records
    )


def test_two_trading_weeks_keep_the_ui_true(data_dir: Path) -> None:
    overrides = {"run_retries": yaml.safe_load(DAGSTER_YAML)["run_retries"]}
    with dg.instance_for_test(
        temp_dir=str(data_dir / "dagster_home"), overrides=overrides
    ) as instance:
        instance.add_dynamic_partitions("feed", [FEED])
        lapse = Lapse(instance, data_dir)
        for day in [*IMPORTED, *BACKFILL, DEFECT]:
            if day != EMPTY:
                make_day_file(lapse.raw, day, "SPX", snapshots=40, strikes=5, seed=len(day))
        make_day_file(lapse.raw, DEFECT, "SPX", snapshots=40, strikes=5, defects="wrong_date")
        lapse.now = at("2025-11-17", 8, 0)
        lapse.sensors()  # first ticks: the alert sensor starts from here

        # Week 1: an import after each close, the sensors every few hours, a backfill on Friday.
        for day in ["2025-11-17", "2025-11-18"]:
            lapse.now = at(day, 16, 5)
            lapse.run_job("gex_history_job", f"{day}|{FEED}")
            for hour in (18, 23):
                lapse.now = at(day, hour)
                lapse.sensors()
        lapse.now = at("2025-11-21", 17, 0)
        chunk = lapse.backfill_chunk(BACKFILL[0], BACKFILL[-1])
        for day, hour in [("2025-11-21", 20), ("2025-11-22", 10), ("2025-11-24", 8)]:
            lapse.now = at(day, hour, 1)
            lapse.sensors()

        # Week 2: the defect import on Monday, Thanksgiving, the early close on Friday.
        lapse.now = at(DEFECT, 16, 5)
        lapse.run_job("gex_history_job", f"{DEFECT}|{FEED}")
        lapse.now = at("2025-11-25", 8, 1)
        lapse.sensors()
        for day in ["2025-11-25", "2025-11-26", "2025-11-28"]:
            lapse.now = at(day, 13 if day == "2025-11-28" else 16, 5)
            lapse.run_job("gex_history_job", f"{day}|{FEED}")
        for day, hour in [
            ("2025-11-26", 8),
            ("2025-11-26", 20),
            ("2025-11-27", 12),
            ("2025-11-28", 8),
        ]:
            lapse.now = at(day, hour, 1)
            lapse.sensors()

        # Retention (maintenance_job's purge) on Saturday, then the sensors go on.
        lapse.now = at("2025-11-29", 18, 0)
        with lapse.clock():
            # run records carry the storage's real creation time: every finished run is old enough
            purge_runs(instance, before=datetime.now(UTC))
        lapse.retained = True
        for day, hour in [("2025-11-29", 20), ("2025-12-01", 8), ("2025-12-01", 12)]:
            lapse.now = at(day, hour, 1)
            lapse.sensors()

        # -- invariants -----------------------------------------------------------------------
        exports = _materializations(instance, "gex_parquet")
        changes = _materializations(instance, "gex_strikes")
        fresh_exports = Counter(r.partition_key for r in exports if not is_carried_over(r))
        fresh_changes = Counter(r.partition_key for r in changes if not is_carried_over(r))
        for partition, count in fresh_exports.items():
            assert count <= fresh_changes[partition], f"{partition} exported twice, unchanged"
        assert not lapse.after_retention, "retention made the sensors export again"

        evaluations = _evaluations(instance)
        for evaluation in evaluations:
            judged = evaluation.metadata.get("judged")
            assert judged is None or judged.value, f"unjudged verdict recorded: {evaluation}"
        export_verdicts = {
            e.partition: e.passed for e in evaluations if e.check_name == "parquet_freshness"
        }
        assert export_verdicts.get(f"{DEFECT}|{FEED}") is False  # never published: late
        assert all(export_verdicts[f"{d}|{FEED}"] for d in ["2025-11-17", "2025-11-25"])
        assert f"2025-11-27|{FEED}" not in export_verdicts  # Thanksgiving: no partition

        built = {f"{d}|{FEED}" for d in BACKFILL if d != EMPTY}
        chunk_checks = {
            (r.event_log_entry.asset_check_evaluation.partition)
            for r in instance.get_records_for_run(
                chunk.run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION
            ).records
        }
        assert chunk_checks == built
        for asset in ("gex_strikes", "gex_parquet"):
            materialized = instance.get_materialized_partitions(dg.AssetKey(asset))
            assert built <= materialized and f"{EMPTY}|{FEED}" not in materialized

        alerts = read_alerts(Settings.from_env().paths, last=1000)
        alerted = Counter(
            (a["details"].get("check"), a["details"].get("partition"))
            for a in alerts
            if a["kind"] == "check_failure"
        )
        assert alerted and max(alerted.values()) == 1, f"a verdict alerted twice: {alerted}"
        assert ("history_foreign_rows", f"{DEFECT}|{FEED}") in alerted
        run_alerts = [a for a in alerts if a["kind"] == "run_failure"]
        assert len(run_alerts) == len(lapse.failed_runs) == 1  # the chunk with the empty day
        for run_id in lapse.failed_runs:
            run = instance.get_run_by_id(run_id)
            assert run is None or run.tags.get("dagster/will_retry") != "true", "data retried"

        history = lapse.defs.resolve_job_def("gex_history_job")
        assert int(history.tags.get("dagster/priority", "0")) > 0, "imports must go first"
        policy = gex_tables.backfill_policy
        assert policy is not None and (policy.max_partitions_per_run or 10**9) <= 10

        kept = [r.status for r in instance.get_runs() if r.run_id not in lapse.after_retention]
        assert kept == [dg.DagsterRunStatus.FAILURE], "retention keeps only failed runs"
        home = data_dir / "dagster_home"
        size = sum(p.stat().st_size for p in home.rglob("*") if p.is_file())
        assert size < 50 * 1024 * 1024, size
        json.dumps(export_verdicts)  # the verdicts are plain data
