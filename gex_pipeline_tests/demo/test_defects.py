"""Injected defects: every manifest entry is really present in the written file."""

from __future__ import annotations

import datetime as dt
import gzip
import hashlib
import json
import zlib
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from gex_pipeline.cli.demo.defects import DayManifest, parse_defect_kinds
from gex_pipeline.cli.demo.history_day import DayFile, make_day_file

NY = ZoneInfo("America/New_York")
ALL_BUT_TRUNCATED = "gap,duplicate,spike,zero,out_of_session,out_of_session"


def read_day(path: Path) -> list[dict[str, Any]]:
    raw = path.read_bytes()
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    return json.loads(raw)


@pytest.fixture(scope="module")
def defected(tmp_path_factory: pytest.TempPathFactory) -> tuple[DayFile, list[dict[str, Any]]]:
    day = make_day_file(
        tmp_path_factory.mktemp("defects"), snapshots=600, strikes=20, defects=ALL_BUT_TRUNCATED
    )
    return day, read_day(day.path)


@pytest.fixture(scope="module")
def clean(tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Any]]:
    return read_day(make_day_file(tmp_path_factory.mktemp("clean"), snapshots=600, strikes=20).path)


def test_manifest_lists_one_entry_per_requested_defect(defected: tuple[DayFile, Any]) -> None:
    kinds = sorted(d.kind for d in defected[0].manifest.defects)
    assert kinds == sorted(ALL_BUT_TRUNCATED.split(","))


def test_gap_seconds_are_missing_and_its_edges_present(defected: tuple[DayFile, Any]) -> None:
    day, records = defected
    (gap,) = day.manifest.of_kind("gap")
    stamps = {r["timestamp"] for r in records}
    assert gap.start is not None and gap.end is not None
    assert gap.detail["missing"] == gap.end - gap.start + 1
    assert not stamps & set(range(gap.start, gap.end + 1))
    assert {gap.start - 1, gap.end + 1} <= stamps


def test_duplicate_timestamp_occurs_twice_at_its_positions(defected: tuple[DayFile, Any]) -> None:
    day, records = defected
    (dup,) = day.manifest.of_kind("duplicate")
    first, second = dup.positions
    stamps = [r["timestamp"] for r in records]
    assert stamps.count(dup.timestamps[0]) == 2
    assert stamps[first] == stamps[second] == dup.timestamps[0]


def test_duplicate_records_differ_so_keep_first_is_observable(
    defected: tuple[DayFile, Any],
) -> None:
    day, records = defected
    (dup,) = day.manifest.of_kind("duplicate")
    first, second = dup.positions
    assert records[first]["spot"] == dup.detail["first_spot"]
    assert records[second]["spot"] == dup.detail["second_spot"] != dup.detail["first_spot"]


def test_spike_record_carries_the_spiked_spot(
    defected: tuple[DayFile, Any], clean: list[dict[str, Any]]
) -> None:
    day, records = defected
    (spike,) = day.manifest.of_kind("spike")
    record = records[spike.positions[0]]
    clean_spot = next(r["spot"] for r in clean if r["timestamp"] == spike.timestamps[0])
    assert record["timestamp"] == spike.timestamps[0]
    assert record["spot"] == spike.detail["spiked_spot"]
    assert spike.detail["spot"] == clean_spot
    assert abs(record["spot"] / clean_spot - 1) >= 0.03


def test_zero_record_has_every_number_zero(defected: tuple[DayFile, Any]) -> None:
    day, records = defected
    (zero,) = day.manifest.of_kind("zero")
    record = records[zero.positions[0]]
    assert record["timestamp"] == zero.timestamps[0]
    assert record["spot"] == record["zero_gamma"] == record["sum_gex_vol"] == 0
    assert all(row[1:3] == [0, 0] and row[3] == [0] * 5 for row in record["strikes"])


def test_out_of_session_rows_lie_outside_regular_hours(defected: tuple[DayFile, Any]) -> None:
    day, records = defected
    blocks = day.manifest.of_kind("out_of_session")
    assert {b.detail["side"] for b in blocks} == {"before", "after"}
    for block in blocks:
        for ts, pos in zip(block.timestamps, block.positions, strict=True):
            local = dt.datetime.fromtimestamp(ts, tz=NY).time()
            assert local < dt.time(9, 30) or local >= dt.time(16, 0)
            assert records[pos]["timestamp"] == ts


def test_untouched_records_equal_the_clean_file(
    defected: tuple[DayFile, Any], clean: list[dict[str, Any]]
) -> None:
    day, records = defected
    touched = {p for d in day.manifest.defects for p in d.positions}
    by_ts = {r["timestamp"]: r for r in clean}
    untouched = [r for i, r in enumerate(records) if i not in touched]
    assert untouched and all(r == by_ts[r["timestamp"]] for r in untouched)


def test_record_count_matches_the_manifest(defected: tuple[DayFile, Any]) -> None:
    day, records = defected
    m = day.manifest
    (gap,) = m.of_kind("gap")
    extra = sum(len(d.timestamps) for d in m.of_kind("out_of_session")) + 1
    assert len(records) == m.records == m.clean_snapshots - gap.detail["missing"] + extra


def test_truncated_gzip_file_cannot_be_read_as_json(tmp_path: Path) -> None:
    day = make_day_file(tmp_path, snapshots=200, strikes=20, defects="truncated")
    (cut,) = day.manifest.of_kind("truncated")
    assert day.path.stat().st_size == cut.detail["bytes_kept"] < cut.detail["bytes_full"]
    partial = zlib.decompressobj(wbits=31).decompress(day.path.read_bytes())
    with pytest.raises(json.JSONDecodeError):
        json.loads(partial)


def test_truncated_plain_file_cannot_be_parsed_as_json(tmp_path: Path) -> None:
    day = make_day_file(tmp_path, snapshots=200, strikes=20, compressed=False, defects="truncated")
    assert day.path.stat().st_size == day.manifest.bytes
    with pytest.raises(json.JSONDecodeError):
        json.loads(day.path.read_bytes())


def test_manifest_file_round_trips(defected: tuple[DayFile, Any]) -> None:
    day, _ = defected
    assert DayManifest.read(day.manifest_path) == day.manifest


def test_manifest_hash_and_size_describe_the_file(defected: tuple[DayFile, Any]) -> None:
    day, _ = defected
    raw = day.path.read_bytes()
    assert day.manifest.sha256 == hashlib.sha256(raw).hexdigest()
    assert day.manifest.bytes == len(raw)


def test_defected_file_is_deterministic(tmp_path: Path) -> None:
    kinds = ALL_BUT_TRUNCATED + ",truncated"
    first = make_day_file(tmp_path / "a", seed=5, snapshots=300, strikes=10, defects=kinds)
    second = make_day_file(tmp_path / "b", seed=5, snapshots=300, strikes=10, defects=kinds)
    assert first.path.read_bytes() == second.path.read_bytes()
    assert first.manifest_path.read_bytes() == second.manifest_path.read_bytes()


def test_unknown_defect_kind_is_refused_naming_the_field() -> None:
    with pytest.raises(ValueError, match=r"defects: unknown kind 'hole'"):
        parse_defect_kinds("gap,hole")


def test_too_few_snapshots_for_the_defects_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="defects: not enough snapshots"):
        make_day_file(tmp_path, snapshots=3, defects="gap,spike,zero")
    assert list(tmp_path.iterdir()) == []
