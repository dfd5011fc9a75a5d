"""The live loader on the /gex stream: rows once, segments moved, partitions reported to Dagster."""

from __future__ import annotations

import dagster as dg

from gex_pipeline.defs.gex.keys import GEX_SNAPSHOTS, GEX_STRIKES
from gex_pipeline_tests.support.staging_trees import GEX_BASE_MS, GexStagingTree

SPX_KEY = "2025-11-14|SPX.gex_zero"
NQ_KEY = "2025-11-14|NQ_NDX.gex_one"


def _reported(instance: dg.DagsterInstance) -> list[tuple[str, str | None]]:
    records = []
    for key in (GEX_SNAPSHOTS, GEX_STRIKES):
        result = instance.fetch_materializations(dg.AssetRecordsFilter(key), limit=100)
        records += [(key.to_user_string(), r.partition_key) for r in result.records]
    return sorted(records)


def test_loader_reports_each_affected_partition_without_a_run(
    loader, instance, gex_staging: GexStagingTree
) -> None:
    gex_staging.seal([gex_staging.record("SPX"), gex_staging.record("NQ_NDX", "gex_one")])
    assert loader.run_once() == 1
    assert _reported(instance) == [
        ("gex_snapshots", NQ_KEY),
        ("gex_snapshots", SPX_KEY),
        ("gex_strikes", NQ_KEY),
        ("gex_strikes", SPX_KEY),
    ]
    assert instance.get_runs() == []


def test_partition_materialization_carries_counts_and_times(
    loader, instance, gex_staging: GexStagingTree
) -> None:
    gex_staging.seal([gex_staging.record(), gex_staging.record()])
    loader.run_once()
    event = instance.get_latest_materialization_event(GEX_STRIKES)
    metadata = event.asset_materialization.metadata
    assert event.asset_materialization.partition == SPX_KEY
    assert metadata["dagster/row_count"].value == 3
    assert metadata["duplicates_skipped"].value == 1
    assert metadata["first_timestamp"].value == GEX_BASE_MS / 1000
    assert metadata["last_timestamp"].value == GEX_BASE_MS / 1000
    assert "preview" not in metadata  # live reports stay small: they accumulate all session


def test_loader_registers_new_feeds_as_partitions(
    loader, instance, gex_staging: GexStagingTree
) -> None:
    gex_staging.seal([gex_staging.record("ES_SPX", "gex_full")])
    loader.run_once()
    assert instance.get_dynamic_partitions("feed") == ["ES_SPX.gex_full"]


def test_segments_move_to_processed_after_the_load(
    loader, count, gex_staging: GexStagingTree
) -> None:
    first = gex_staging.seal([gex_staging.record()])
    second = gex_staging.seal([gex_staging.record(timestamp=GEX_BASE_MS + 1000)])
    loader.run_once()
    assert sorted(p.name for p in gex_staging.dirs.processed.iterdir()) == [first.name, second.name]
    assert list(gex_staging.dirs.sealed.iterdir()) == []
    assert count("gex_snapshots") == 2


def test_reports_are_throttled_per_partition_and_merged(
    loader, instance, clock, gex_staging: GexStagingTree
) -> None:
    gex_staging.seal([gex_staging.record()])
    loader.run_once()
    for second in (1, 2):
        clock.now += 1
        gex_staging.seal([gex_staging.record(timestamp=GEX_BASE_MS + second * 1000)])
        loader.run_once()
    assert len(_reported(instance)) == 2  # first load only: one event per table
    clock.now += 180
    loader.run_once()  # nothing new sealed: the pending figures are released on time
    event = instance.get_latest_materialization_event(GEX_SNAPSHOTS)
    metadata = event.asset_materialization.metadata
    assert metadata["snapshots_added"].value == 2
    assert metadata["dagster/row_count"].value == 3
    assert len(_reported(instance)) == 4


def test_flush_reports_pending_figures_at_shutdown(
    loader, instance, clock, gex_staging: GexStagingTree
) -> None:
    gex_staging.seal([gex_staging.record()])
    loader.run_once()
    clock.now += 1
    gex_staging.seal([gex_staging.record(timestamp=GEX_BASE_MS + 1000)])
    loader.run_once()
    loader.flush()
    event = instance.get_latest_materialization_event(GEX_SNAPSHOTS)
    assert event.asset_materialization.metadata["dagster/row_count"].value == 2


def test_a_failed_move_after_commit_is_finished_by_the_next_cycle(
    loader, count, gex_staging: GexStagingTree
) -> None:
    segment = gex_staging.seal([gex_staging.record(), gex_staging.record("NQ_NDX")])
    gex_staging.dirs.processed.rmdir()
    gex_staging.dirs.processed.write_text("not a directory")  # the move after commit fails
    try:
        loader.run_once()
        raise AssertionError("the move should have failed")
    except OSError:
        pass
    assert segment.path.exists()
    gex_staging.dirs.processed.unlink()
    loader.run_once()
    assert (count("gex_snapshots"), count("gex_strikes")) == (2, 6)
    assert (gex_staging.dirs.processed / segment.name).exists()


def test_recover_reports_again_what_a_killed_loader_committed(
    settings, instance, gex_staging: GexStagingTree
) -> None:
    from gex_pipeline.cli.live_loader import DagsterPublisher, build_loader
    from gex_pipeline.settings import PipelineSettings

    class Lost:
        """A publisher whose events never arrive (the process died before reporting)."""

        def events(self, stream, con, stats):
            return []

        def publish(self, events):
            return None

    gex_staging.seal([gex_staging.record()])
    build_loader(settings.paths, PipelineSettings(), Lost()).run_once()
    assert instance.get_latest_materialization_event(GEX_SNAPSHOTS) is None
    restarted = build_loader(settings.paths, PipelineSettings(), DagsterPublisher(instance))
    restarted.recover()
    restarted.run_once()
    event = instance.get_latest_materialization_event(GEX_SNAPSHOTS)
    assert event.asset_materialization.partition == SPX_KEY


def test_conflicts_are_reported_on_the_partition(
    loader, instance, clock, gex_staging: GexStagingTree
) -> None:
    gex_staging.seal([gex_staging.record(spot=1.0)])
    loader.run_once()
    clock.now += 181
    gex_staging.seal([gex_staging.record(spot=2.0)])
    loader.run_once()
    event = instance.get_latest_materialization_event(GEX_SNAPSHOTS)
    assert event.asset_materialization.metadata["conflicts"].value == 1


def test_unloadable_segment_is_set_aside_and_the_rest_loads(
    loader, count, gex_staging: GexStagingTree
) -> None:
    good = gex_staging.seal([gex_staging.record()])
    bad = gex_staging.seal([gex_staging.record("NQ_NDX", strikes={"not": "rows"})])
    loader.run_once()
    rejected = gex_staging.dirs.root / "rejected"
    assert sorted(p.name for p in rejected.iterdir()) == [bad.name, f"{bad.name}.error.txt"]
    assert "'strikes'" in (rejected / f"{bad.name}.error.txt").read_text()
    assert [p.name for p in gex_staging.dirs.processed.iterdir()] == [good.name]
    assert count("gex_snapshots") == 1
    assert loader.status["gex"].rejected == 1


def test_status_file_says_what_the_loader_did(loader, data_dir, gex_staging) -> None:
    import json

    gex_staging.seal([gex_staging.record()])
    loader.run_once()
    loader.write_status()
    status = json.loads((data_dir / "live" / "status.json").read_text())
    assert status["streams"]["gex"]["segments_loaded"] == 1
    assert status["streams"]["gex"]["records_loaded"] == 1


def test_the_loader_polls_slower_only_after_a_pause() -> None:
    from gex_pipeline.cli.live_loader import IDLE_AFTER_SECONDS, poll_seconds

    assert poll_seconds(250, idle_for=0.0) == 0.25
    assert poll_seconds(250, idle_for=IDLE_AFTER_SECONDS - 1) == 0.25
    assert poll_seconds(250, idle_for=IDLE_AFTER_SECONDS) == 1.0
    assert poll_seconds(2000, idle_for=3600) == 2.0  # never faster than configured


def test_status_file_is_rewritten_on_change_or_once_a_minute(
    loader, data_dir, gex_staging, clock
) -> None:
    import json

    from gex_pipeline.lib.live.loader import STATUS_IDLE_EVERY_SECONDS

    path = data_dir / "live" / "status.json"

    def written_at() -> float:
        return json.loads(path.read_text())["updated_at"]

    loader.run_once()
    first = written_at()
    clock.now += 10
    loader.run_once()  # nothing changed: the file stays as it was
    assert written_at() == first
    gex_staging.seal([gex_staging.record()])
    clock.now += 3
    loader.run_once()  # a segment loaded: rewritten
    assert written_at() == clock.now
    assert json.loads(path.read_text())["streams"]["gex"]["segments_loaded"] == 1
    clock.now += 3
    loader.run_once()  # the backlog went back to 0: rewritten once more
    assert json.loads(path.read_text())["streams"]["gex"]["backlog"] == 0
    changed = clock.now
    clock.now += STATUS_IDLE_EVERY_SECONDS - 1
    loader.run_once()
    assert written_at() == changed
    clock.now += 1
    loader.run_once()  # idle, but a minute passed: the loader says it is alive
    assert written_at() == clock.now
