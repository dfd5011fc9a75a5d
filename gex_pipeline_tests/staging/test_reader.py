"""Reader side of the staging area: high-water-mark listing, idempotent moves, retention."""

from __future__ import annotations

import pytest

from gex_pipeline.lib.staging.layout import seq_name
from gex_pipeline.lib.staging.reader import (
    NANOS_PER_DAY,
    list_sealed,
    move_to_processed,
    purge_processed,
    reject_segment,
    rejected_dir,
    segment_feeds,
)
from gex_pipeline_tests.support.staging_trees import GexStagingTree


def test_list_sealed_returns_segments_above_the_mark_oldest_first(
    gex_staging: GexStagingTree,
) -> None:
    first, second, third = (gex_staging.seal([gex_staging.record()]) for _ in range(3))
    assert list_sealed(gex_staging.dirs, after_seq=first.seq) == [second, third]


def test_list_sealed_ignores_open_and_foreign_files(gex_staging: GexStagingTree) -> None:
    segment = gex_staging.seal([gex_staging.record()])
    (gex_staging.dirs.sealed / "notes.txt").write_text("x")
    (gex_staging.dirs.sealed / f"{seq_name(5)}.tmp").write_text("x")
    (gex_staging.dirs.open / "1-abc.jsonl.open").write_text("{}\n")
    assert list_sealed(gex_staging.dirs) == [segment]


def test_list_sealed_honours_the_limit(gex_staging: GexStagingTree) -> None:
    segments = [gex_staging.seal([gex_staging.record()]) for _ in range(4)]
    assert list_sealed(gex_staging.dirs, limit=2) == segments[:2]


def test_move_to_processed_twice_moves_once(gex_staging: GexStagingTree) -> None:
    segment = gex_staging.seal([gex_staging.record()])
    assert move_to_processed(gex_staging.dirs, [segment.name]) == 1
    assert move_to_processed(gex_staging.dirs, [segment.name]) == 0
    assert (gex_staging.dirs.processed / segment.name).exists()
    assert list_sealed(gex_staging.dirs) == []


def test_moving_an_unknown_segment_raises_naming_it(gex_staging: GexStagingTree) -> None:
    with pytest.raises(FileNotFoundError, match=seq_name(42)):
        move_to_processed(gex_staging.dirs, [seq_name(42)])


def test_purge_deletes_only_segments_older_than_retention(gex_staging: GexStagingTree) -> None:
    old = gex_staging.seal([gex_staging.record()])
    recent = gex_staging.seal([gex_staging.record()])
    move_to_processed(gex_staging.dirs, [old.name, recent.name])
    now = old.seq + 3 * NANOS_PER_DAY
    assert purge_processed(gex_staging.dirs, retention_days=3, now_ns=now + 1) == [old.name]
    assert [p.name for p in gex_staging.dirs.processed.iterdir()] == [recent.name]


def test_negative_retention_is_refused(gex_staging: GexStagingTree) -> None:
    with pytest.raises(ValueError, match="retention_days"):
        purge_processed(gex_staging.dirs, retention_days=-1)


def test_segment_feeds_lists_each_ticker_endpoint_once(gex_staging: GexStagingTree) -> None:
    segment = gex_staging.seal(
        [
            gex_staging.record("SPX"),
            gex_staging.record("SPX", timestamp=1),
            gex_staging.record("NQ_NDX", "gex_full"),
        ]
    )
    assert segment_feeds(segment.path) == {("SPX", "gex_zero"), ("NQ_NDX", "gex_full")}


def test_rejected_segment_is_moved_aside_with_its_reason(gex_staging: GexStagingTree) -> None:
    segment = gex_staging.seal([gex_staging.record()])
    target = reject_segment(gex_staging.dirs, segment.name, "invalid 'ticker'")
    assert target == rejected_dir(gex_staging.dirs) / segment.name
    assert (target.parent / f"{segment.name}.error.txt").read_text() == "invalid 'ticker'\n"
    assert list_sealed(gex_staging.dirs) == []
