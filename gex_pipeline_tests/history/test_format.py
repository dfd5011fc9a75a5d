"""Recognising day-file layouts by content (not by name) and unwrapping wrapped arrays."""

from __future__ import annotations

import gzip
import json
from datetime import date

import pytest

from gex_pipeline.lib.history.day_format import (
    DayFileForm,
    DayFileInvalid,
    sniff_day_file,
    unwrap_array,
)
from gex_pipeline.lib.history.sources import find_raw_file

SNAPS = [{"timestamp": 1763130600 + i, "strikes": [[1, 2]]} for i in range(3)]


@pytest.mark.parametrize(
    ("text", "layout"),
    [
        (json.dumps(SNAPS), "array"),
        ("\n  " + json.dumps(SNAPS, indent=2), "array"),
        ("\n".join(json.dumps(s) for s in SNAPS) + "\n", "lines"),
        (json.dumps({"data": SNAPS}), "wrapped"),
        (json.dumps({"meta": {"v": 1}, "count": 3, "records": SNAPS}, indent=1), "wrapped"),
    ],
)
def test_layout_is_recognised_from_the_content(tmp_path, text, layout):
    path = tmp_path / "day.json.gz"
    path.write_bytes(gzip.compress(text.encode()))
    assert sniff_day_file(path) == DayFileForm(gzip=True, layout=layout)


def test_plain_file_with_gz_name_is_not_gzip(tmp_path):
    path = tmp_path / "day.json.gz"
    path.write_text(json.dumps(SNAPS))
    assert sniff_day_file(path) == DayFileForm(gzip=False, layout="array")


def test_wrapped_array_is_copied_out_exactly(tmp_path):
    path = tmp_path / "day.json"
    path.write_text(json.dumps({"meta": {"v": 1}, "snapshots": SNAPS}) + "\n")
    out = unwrap_array(path, sniff_day_file(path), tmp_path / "out.json")
    assert json.loads(out.read_text()) == SNAPS


def test_wrapped_array_followed_by_other_members_is_refused(tmp_path):
    path = tmp_path / "day.json"
    path.write_text(json.dumps({"data": SNAPS, "meta": {"v": 1}}))
    with pytest.raises(DayFileInvalid, match="last member"):
        unwrap_array(path, sniff_day_file(path), tmp_path / "out.json")


def test_object_without_a_snapshot_array_is_refused(tmp_path):
    path = tmp_path / "day.json"
    path.write_text(json.dumps({"error": "AuthenticationFailed", "detail": "x" * 10}, indent=2))
    with pytest.raises(DayFileInvalid, match="neither JSON Lines nor a wrapper"):
        sniff_day_file(path)


def test_kept_raw_file_is_found_by_its_name_only_for_its_partition(tmp_path):
    folder = tmp_path / "SPX" / "gex_zero"
    folder.mkdir(parents=True)
    (folder / "2025-11-13_SPX_classic_gex_zero.json.gz").write_bytes(b"x")
    (folder / ".incoming-2025-11-14_SPX_classic_gex_zero.json.gz").write_bytes(b"x")
    assert find_raw_file(tmp_path, "SPX", "gex_zero", date(2025, 11, 14)) is None
    kept = folder / "2025-11-14_SPX_classic_gex_zero.json"
    kept.write_bytes(b"x")
    assert find_raw_file(tmp_path, "SPX", "gex_zero", date(2025, 11, 14)) == kept
