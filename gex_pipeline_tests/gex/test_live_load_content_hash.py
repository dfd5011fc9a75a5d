"""`load_segments` tells duplicates from conflicts with the content hash staged by the API."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest

from gex_pipeline.lib.db.connection import connect
from gex_pipeline.lib.db.schema import migrate
from gex_pipeline.lib.gex.live_load import StagingRecordError, load_segments
from gex_pipeline.lib.payloads.gex import parse_gex
from gex_pipeline_tests.support.staging_trees import GEX_BASE_MS, GexStagingTree


@pytest.fixture
def con(tmp_path: Path):
    with connect(tmp_path / "gex.db") as con:
        migrate(con)
        yield con


def _posted(spot: float = 6734.25, arrival_delay_ms: int = 150) -> dict[str, object]:
    """The staging record the API makes of one `/gex` snapshot at GEX_BASE_MS."""
    body = {
        "ticker": "SPX",
        "timestamp": GEX_BASE_MS,
        "spot": spot,
        "zero_gamma": 6708.6,
        "strikes": [
            [6700, -25.94, -8.91, [-11.9, -28.49, -55.89, -19.29, -31.29]],
            [6735, 132.54, 9.27, None],
        ],
        "max_priors": [[6740, 170979.742]],
    }
    return parse_gex(json.dumps(body), GEX_BASE_MS + arrival_delay_ms)


def _outcome(report) -> tuple[int, int, int]:
    return report.total("snapshots_added"), report.total("duplicates"), report.total("conflicts")


def _rows(con: duckdb.DuckDBPyConnection, query: str) -> list[tuple]:
    return con.execute(query).fetchall()


def test_same_payload_posted_twice_in_one_batch_is_a_duplicate(
    con, gex_staging: GexStagingTree
) -> None:
    segment = gex_staging.seal([_posted(), _posted(arrival_delay_ms=900)])
    assert _outcome(load_segments(con, [segment])) == (1, 1, 0)


def test_same_payload_posted_twice_across_batches_is_a_duplicate(
    con, gex_staging: GexStagingTree
) -> None:
    load_segments(con, [gex_staging.seal([_posted()])])
    report = load_segments(con, [gex_staging.seal([_posted(arrival_delay_ms=900)])])
    assert _outcome(report) == (0, 1, 0)
    assert _rows(con, "SELECT count(*) FROM gex_conflicts") == [(0,)]


def test_different_payload_with_the_same_key_is_a_conflict_across_batches(
    con, gex_staging: GexStagingTree
) -> None:
    load_segments(con, [gex_staging.seal([_posted(spot=1.0)])])
    report = load_segments(con, [gex_staging.seal([_posted(spot=2.0)])])
    assert _outcome(report) == (0, 0, 1)


def test_different_payload_with_the_same_key_is_a_conflict_in_one_batch(
    con, gex_staging: GexStagingTree
) -> None:
    segment = gex_staging.seal([_posted(spot=1.0), _posted(spot=2.0)])
    assert _outcome(load_segments(con, [segment])) == (1, 0, 1)


def test_stored_hashes_are_the_ones_the_api_staged(con, gex_staging: GexStagingTree) -> None:
    kept, refused = _posted(spot=1.0), _posted(spot=2.0)
    load_segments(con, [gex_staging.seal([kept, refused])])
    assert _rows(con, "SELECT content_hash FROM gex_snapshots") == [(kept["content_hash"],)]
    assert _rows(con, "SELECT content_hash, kept_hash FROM gex_conflicts") == [
        (refused["content_hash"], kept["content_hash"])
    ]


def test_records_staged_without_a_hash_are_hashed_by_the_loader(
    con, gex_staging: GexStagingTree
) -> None:
    old = {k: v for k, v in _posted().items() if k != "content_hash"}
    segment = gex_staging.seal([old, {**old, "id": "f" * 32}])
    assert _outcome(load_segments(con, [segment])) == (1, 1, 0)
    assert _rows(con, "SELECT count(*) FROM gex_snapshots WHERE content_hash IS NULL") == [(0,)]


def test_malformed_content_hash_fails_the_batch_naming_the_field(
    con, gex_staging: GexStagingTree
) -> None:
    segment = gex_staging.seal([{**_posted(), "content_hash": "not-a-hash"}])
    with pytest.raises(
        StagingRecordError, match=f"segment {segment.name} line 1: .*'content_hash'"
    ):
        load_segments(con, [segment])
    assert _rows(con, "SELECT count(*) FROM gex_snapshots") == [(0,)]
