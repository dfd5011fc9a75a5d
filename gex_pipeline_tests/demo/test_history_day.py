"""The history day-file generator: file name, shapes against the contract, session, determinism."""

from __future__ import annotations

import datetime as dt
import gzip
import json
import re
from itertools import pairwise
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from gex_pipeline.cli.demo.history_day import DaySpec, clean_snapshots, make_day_file
from gex_pipeline.cli.demo.market import PROFILES, profile_for
from gex_pipeline.cli.demo.model import FeedModel

NY = ZoneInfo("America/New_York")
FILE_NAME = re.compile(r"^\d{4}-\d{2}-\d{2}_[A-Z_]+_classic_gex_(zero|one|full)\.json(\.gz)?$")
FLAT_FIELDS = {
    "timestamp",
    "ticker",
    "min_dte",
    "sec_min_dte",
    "spot",
    "zero_gamma",
    "major_pos_vol",
    "major_pos_oi",
    "major_neg_vol",
    "major_neg_oi",
    "strikes",
    "sum_gex_vol",
    "sum_gex_oi",
    "delta_risk_reversal",
    "max_priors",
}


def read_day(path: Path) -> Any:
    """Parse a day file, sniffing gzip by its magic bytes like the importer must."""
    raw = path.read_bytes()
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    return json.loads(raw)


@pytest.fixture(scope="module")
def spx_day(tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Any]]:
    day = make_day_file(tmp_path_factory.mktemp("spx"), "2025-11-14", "SPX", snapshots=300)
    return read_day(day.path)


def test_file_name_follows_vendor_pattern(tmp_path: Path) -> None:
    day = make_day_file(tmp_path, "2025-11-14", "NQ_NDX", "gex_one", snapshots=5)
    assert day.path.name == "2025-11-14_NQ_NDX_classic_gex_one.json.gz"
    assert FILE_NAME.match(day.path.name)


def test_compressed_file_starts_with_gzip_magic(tmp_path: Path) -> None:
    day = make_day_file(tmp_path, snapshots=5)
    assert day.path.read_bytes()[:2] == b"\x1f\x8b"


def test_plain_file_is_json_array_without_gzip_magic(tmp_path: Path) -> None:
    day = make_day_file(tmp_path, snapshots=5, compressed=False)
    raw = day.path.read_bytes()
    assert day.path.name.endswith(".json")
    assert raw[:1] == b"["
    assert len(json.loads(raw)) == 5


def test_snapshots_are_epoch_seconds_at_1hz(spx_day: list[dict[str, Any]]) -> None:
    stamps = [s["timestamp"] for s in spx_day]
    assert all(isinstance(ts, int) and 1_000_000_000 < ts < 10_000_000_000 for ts in stamps)
    assert [b - a for a, b in pairwise(stamps)] == [1] * (len(stamps) - 1)


@pytest.mark.parametrize(
    ("trade_date", "utc_open"),
    [("2025-11-14", "2025-11-14T14:30:00+00:00"), ("2025-07-14", "2025-07-14T13:30:00+00:00")],
    ids=["est", "edt"],
)
def test_first_timestamp_is_0930_new_york(tmp_path: Path, trade_date: str, utc_open: str) -> None:
    first = read_day(make_day_file(tmp_path, trade_date, snapshots=3).path)[0]["timestamp"]
    assert dt.datetime.fromtimestamp(first, tz=NY).time() == dt.time(9, 30)
    assert first == int(dt.datetime.fromisoformat(utc_open).timestamp())


def test_full_session_is_23400_snapshots_ending_before_1600_new_york() -> None:
    spec = DaySpec(trade_date=dt.date(2025, 11, 14))
    assert spec.snapshot_count == 23_400
    open_ts = int(dt.datetime(2025, 11, 14, 9, 30, tzinfo=NY).timestamp())
    last = dt.datetime.fromtimestamp(open_ts + spec.snapshot_count - 1, tz=NY)
    assert last.time() == dt.time(15, 59, 59)


def test_snapshot_has_the_contract_flat_fields(spx_day: list[dict[str, Any]]) -> None:
    assert set(spx_day[0]) == FLAT_FIELDS
    assert all(s["ticker"] == "SPX" for s in spx_day)


def test_each_snapshot_has_the_requested_100_strikes(spx_day: list[dict[str, Any]]) -> None:
    assert {len(s["strikes"]) for s in spx_day} == {100}


def test_strike_rows_have_four_elements_with_five_prior_numbers(
    spx_day: list[dict[str, Any]],
) -> None:
    for row in (row for s in spx_day for row in s["strikes"]):
        assert len(row) == 4
        assert all(isinstance(v, float) for v in row[:3])
        assert len(row[3]) == 5 and all(isinstance(v, float) for v in row[3])


def test_max_priors_has_six_strike_value_pairs(spx_day: list[dict[str, Any]]) -> None:
    for snap in spx_day:
        strikes = {row[0] for row in snap["strikes"]}
        assert len(snap["max_priors"]) == 6
        assert all(len(pair) == 2 and pair[0] in strikes for pair in snap["max_priors"])


@pytest.mark.parametrize(
    ("ticker", "step"), [("SPX", 5.0), ("SPY", 1.0), ("QQQ", 1.0), ("NDX", 10.0)]
)
def test_strikes_follow_the_ticker_step(tmp_path: Path, ticker: str, step: float) -> None:
    snap = read_day(make_day_file(tmp_path, ticker=ticker, snapshots=1).path)[0]
    strikes = [row[0] for row in snap["strikes"]]
    assert {round(b - a, 6) for a, b in pairwise(strikes)} == {step}
    assert all(k % step == 0 for k in strikes)


def test_vix_strikes_step_half_below_25_and_one_above(tmp_path: Path) -> None:
    snap = read_day(make_day_file(tmp_path, ticker="VIX", snapshots=1).path)[0]
    strikes = [row[0] for row in snap["strikes"]]
    steps = {(a < 25.0, round(b - a, 6)) for a, b in pairwise(strikes)}
    assert steps == {(True, 0.5), (False, 1.0)}
    assert strikes[0] > 0


def test_futures_strikes_are_index_strikes_plus_a_basis(tmp_path: Path) -> None:
    snap = read_day(make_day_file(tmp_path, ticker="NQ_NDX", snapshots=1).path)[0]
    strikes = [row[0] for row in snap["strikes"]]
    basis = {round(k % 10, 2) for k in strikes}
    assert len(basis) == 1 and basis != {0.0}
    assert {round(b - a, 6) for a, b in pairwise(strikes)} == {10.0}


def test_spot_walks_near_the_ticker_typical_spot(spx_day: list[dict[str, Any]]) -> None:
    spots = [s["spot"] for s in spx_day]
    typical = PROFILES["SPX"].spot
    assert all(abs(s / typical - 1) < 0.05 for s in spots)
    assert len(set(spots)) > 100


def test_strike_rows_are_centred_around_spot(spx_day: list[dict[str, Any]]) -> None:
    for snap in spx_day:
        strikes = [row[0] for row in snap["strikes"]]
        assert strikes[40] < snap["spot"] < strikes[60]


def test_walls_are_strikes_of_the_extreme_rows(spx_day: list[dict[str, Any]]) -> None:
    for snap in spx_day:
        rows = snap["strikes"]
        assert snap["major_pos_vol"] == max(rows, key=lambda r: r[1])[0]
        assert snap["major_neg_vol"] == min(rows, key=lambda r: r[1])[0]
        assert snap["major_pos_oi"] == max(rows, key=lambda r: r[2])[0]
        assert snap["major_neg_oi"] == min(rows, key=lambda r: r[2])[0]


def test_zero_gamma_lies_within_the_strike_range(spx_day: list[dict[str, Any]]) -> None:
    for snap in spx_day:
        assert snap["strikes"][0][0] <= snap["zero_gamma"] <= snap["strikes"][-1][0]


def test_sums_are_the_row_sums(spx_day: list[dict[str, Any]]) -> None:
    for snap in spx_day:
        assert snap["sum_gex_vol"] == pytest.approx(sum(r[1] for r in snap["strikes"]), abs=1e-6)
        assert snap["sum_gex_oi"] == pytest.approx(sum(r[2] for r in snap["strikes"]), abs=1e-6)


def test_first_prior_is_the_strike_gamma_one_minute_earlier(
    spx_day: list[dict[str, Any]],
) -> None:
    for earlier, now in zip(spx_day, spx_day[60:], strict=False):
        before = {row[0]: row[1] for row in earlier["strikes"]}
        assert all(row[3][0] == before.get(row[0], 0.0) for row in now["strikes"])


def test_priors_are_zero_before_the_feed_has_history(spx_day: list[dict[str, Any]]) -> None:
    assert all(row[3] == [0.0] * 5 for row in spx_day[0]["strikes"])


def test_delta_risk_reversal_stays_in_its_range(spx_day: list[dict[str, Any]]) -> None:
    assert all(-0.1 <= s["delta_risk_reversal"] <= 0.3 for s in spx_day)


def test_same_seed_and_arguments_give_identical_bytes(tmp_path: Path) -> None:
    first = make_day_file(tmp_path / "a", ticker="ES_SPX", seed=7, snapshots=120)
    second = make_day_file(tmp_path / "b", ticker="ES_SPX", seed=7, snapshots=120)
    assert first.path.read_bytes() == second.path.read_bytes()
    assert first.manifest_path.read_bytes() == second.manifest_path.read_bytes()


def test_another_seed_gives_other_data(tmp_path: Path) -> None:
    first = make_day_file(tmp_path / "a", seed=1, snapshots=20)
    second = make_day_file(tmp_path / "b", seed=2, snapshots=20)
    assert read_day(first.path) != read_day(second.path)


def test_clean_snapshots_match_the_written_file(tmp_path: Path) -> None:
    day = make_day_file(tmp_path, seed=3, snapshots=30, strikes=10)
    spec = DaySpec(trade_date=dt.date(2025, 11, 14), seed=3, snapshots=30, strikes=10)
    assert read_day(day.path) == json.loads(json.dumps(list(clean_snapshots(spec))))


def test_wrapped_form_holds_the_array_under_data(tmp_path: Path) -> None:
    day = make_day_file(tmp_path, snapshots=4, form="wrapped")
    body = read_day(day.path)
    assert list(body) == ["data"] and len(body["data"]) == 4


def test_jsonl_form_has_one_snapshot_per_line(tmp_path: Path) -> None:
    day = make_day_file(tmp_path, snapshots=4, form="jsonl", compressed=False)
    lines = day.path.read_text().splitlines()
    assert [json.loads(line)["timestamp"] for line in lines] == list(range(1763130600, 1763130604))


def test_unknown_ticker_is_refused_naming_the_field_and_writes_nothing(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="ticker"):
        make_day_file(tmp_path / "out", ticker="NOPE")
    assert not (tmp_path / "out").exists()


def test_more_snapshots_than_the_session_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="snapshots"):
        make_day_file(tmp_path, snapshots=23_401)


def test_unknown_endpoint_is_refused_naming_the_field(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="endpoint"):
        make_day_file(tmp_path, endpoint="gex_two")


def test_futures_basis_is_never_a_whole_number_of_points() -> None:
    bases = [
        FeedModel(profile_for("ES_SPX"), "gex_zero", str(seed), 4).basis for seed in range(500)
    ]
    assert all(round(b * 100) % 100 != 0 for b in bases)


def test_early_close_day_file_ends_at_13_00_new_york(tmp_path: Path) -> None:
    spec = DaySpec(dt.date(2025, 11, 28), "SPX", "gex_zero", seed=3)
    assert spec.session_seconds() == int(3.5 * 3600)
    rows = read_day(
        make_day_file(tmp_path, spec.trade_date, "SPX", "gex_zero", seed=3, snapshots=None).path
    )
    last = dt.datetime.fromtimestamp(rows[-1]["timestamp"], tz=NY)
    assert last.time() == dt.time(12, 59, 59)
