"""Importing day files into DuckDB: parse, validate, atomic replace, pre-images, shrink guard."""

from __future__ import annotations

import gzip
import json
import os
from datetime import date
from pathlib import Path

import duckdb
import pytest

from gex_pipeline.cli.demo.history_day import make_day_file
from gex_pipeline.lib.db.connection import connect
from gex_pipeline.lib.db.schema import migrate
from gex_pipeline.lib.gex.feed_day import FeedDay
from gex_pipeline.lib.gex.parquet_export import export_partition
from gex_pipeline.lib.history.day_format import DayFileInvalid
from gex_pipeline.lib.history.day_import import import_day_file
from gex_pipeline.lib.history.day_replace import ReplaceRefused, prune_backups, restore_slice

DAY = date(2025, 11, 14)
TICKER, ENDPOINT = "NQ_NDX", "gex_zero"
OPEN_S = 1763130600  # 2025-11-14 09:30 New York
SLICE = f"ticker = '{TICKER}' AND endpoint = '{ENDPOINT}' AND trade_date = DATE '{DAY}'"
CONTENT = "timestamp, strike, gamma, oi_gamma, priors"


@pytest.fixture
def con(tmp_path: Path):
    with connect(tmp_path / "gex.db") as connection:
        migrate(connection)
        yield connection


def _import(con, path: Path, tmp_path: Path, **kw):
    return import_day_file(
        con,
        path,
        ticker=kw.pop("ticker", TICKER),
        endpoint=ENDPOINT,
        trade_date=kw.pop("trade_date", DAY),
        backups_dir=tmp_path / "backups",
        **kw,
    )


def _day(tmp_path: Path, name: str, **kw):
    kw.setdefault("snapshots", 120)
    kw.setdefault("strikes", 40)
    return make_day_file(tmp_path / name, "2025-11-14", TICKER, ENDPOINT, **kw)


def _rows(con, table: str = "gex_strikes", columns: str = CONTENT) -> list[tuple]:
    return con.sql(f"SELECT {columns} FROM {table} WHERE {SLICE} ORDER BY ALL").fetchall()


def _write_json(path: Path, records: list[dict]) -> Path:
    path.write_text(json.dumps(records))
    return path


def test_day_file_fills_its_slice_with_every_strike_row(con, tmp_path):
    day = _day(tmp_path, "a")
    stats = _import(con, day.path, tmp_path)
    assert stats.snapshots == 120
    assert stats.strike_rows == 120 * 40
    assert con.execute(f"SELECT count(*) FROM gex_snapshots WHERE {SLICE}").fetchone() == (120,)
    assert con.execute(f"SELECT count(*) FROM gex_strikes WHERE {SLICE}").fetchone() == (4800,)


@pytest.mark.parametrize("form", ["array", "wrapped", "jsonl"])
@pytest.mark.parametrize("compressed", [True, False])
def test_every_layout_and_compression_stores_the_same_rows(con, tmp_path, form, compressed):
    reference = duckdb.connect()
    migrate(reference)
    _import(reference, _day(tmp_path, "ref").path, tmp_path)
    day = _day(tmp_path, f"{form}-{compressed}", form=form, compressed=compressed)
    _import(con, day.path, tmp_path)
    assert _rows(con) == _rows(reference)


def test_plain_json_behind_a_gz_name_is_imported(con, tmp_path):
    day = _day(tmp_path, "plain", compressed=False)
    disguised = day.path.with_name(day.path.name + ".gz")
    day.path.rename(disguised)
    assert _import(con, disguised, tmp_path).strike_rows == 120 * 40


def test_duplicate_timestamp_keeps_the_first_record(con, tmp_path):
    day = _day(tmp_path, "dup", defects="duplicate")
    defect = next(d for d in day.manifest.defects if d.kind == "duplicate")
    stats = _import(con, day.path, tmp_path)
    records = json.loads(gzip.decompress(day.path.read_bytes()))
    first = records[defect.positions[0]]
    stored = con.sql(
        f"SELECT spot FROM gex_snapshots WHERE {SLICE} AND timestamp = {first['timestamp'] * 1000}"
    ).fetchall()
    assert stats.dropped["duplicate_timestamp"] == 1
    assert stored == [(first["spot"],)]


@pytest.mark.parametrize(
    "value",
    [
        OPEN_S + 2,
        (OPEN_S + 2) * 1000,
        OPEN_S + 2.0,
        "2025-11-14T14:30:02Z",
        "2025-11-14T09:30:02-05:00",
    ],
)
def test_timestamp_units_are_told_apart_and_stored_as_epoch_ms(con, tmp_path, value):
    path = _write_json(tmp_path / "t.json", [{"timestamp": value, "strikes": [[1, 2, 3]]}])
    _import(con, path, tmp_path)
    assert _rows(con, "gex_snapshots", "timestamp") == [((OPEN_S + 2) * 1000,)]


def test_seconds_and_milliseconds_in_one_file_both_land_on_the_trading_date(con, tmp_path):
    path = _write_json(
        tmp_path / "mixed.json",
        [
            {"timestamp": OPEN_S, "strikes": [[1, 2]]},
            {"timestamp": (OPEN_S + 1) * 1000, "strikes": [[1, 2]]},
        ],
    )
    stats = _import(con, path, tmp_path)
    assert stats.snapshots == 2
    assert _rows(con, "gex_snapshots", "timestamp") == [(OPEN_S * 1000,), (OPEN_S * 1000 + 1000,)]


def test_wrong_date_file_is_refused_and_changes_nothing(con, tmp_path):
    _import(con, _day(tmp_path, "good").path, tmp_path)
    before = _rows(con)
    wrong = make_day_file(tmp_path / "wrong", "2025-11-13", TICKER, ENDPOINT, snapshots=120)
    with pytest.raises(DayFileInvalid, match="wrong_date=120"):
        _import(con, wrong.path, tmp_path)
    assert _rows(con) == before


def test_wrong_ticker_inside_the_file_is_refused(con, tmp_path):
    path = _write_json(
        tmp_path / "t.json", [{"timestamp": OPEN_S, "ticker": "SPX", "strikes": [[1, 2]]}]
    )
    with pytest.raises(DayFileInvalid, match="wrong_ticker=1"):
        _import(con, path, tmp_path)
    assert _rows(con) == []


def test_truncated_file_is_refused_and_changes_nothing(con, tmp_path):
    _import(con, _day(tmp_path, "good").path, tmp_path)
    before = _rows(con)
    cut = _day(tmp_path, "cut", seed=3, defects="truncated")
    with pytest.raises(DayFileInvalid):
        _import(con, cut.path, tmp_path)
    assert _rows(con) == before


def test_not_json_is_refused_with_the_reason(con, tmp_path):
    path = tmp_path / "x.json"
    path.write_text("<html>expired</html>")
    with pytest.raises(DayFileInvalid, match="must start with"):
        _import(con, path, tmp_path)


def test_repeated_and_non_numeric_strikes_are_dropped_and_counted(con, tmp_path):
    path = _write_json(
        tmp_path / "s.json",
        [
            {
                "timestamp": OPEN_S,
                "strikes": [[10, 1], [10, 2], ["x", 3], [11, 4, 5, [1, 2, 3, 4, 5]]],
            }
        ],
    )
    stats = _import(con, path, tmp_path)
    assert stats.dropped["duplicate_strike"] == 1
    assert stats.dropped["bad_strike"] == 1
    assert _rows(con, columns="strike, gamma, oi_gamma, priors") == [
        (10.0, 1.0, None, None),
        (11.0, 4.0, 5.0, [1.0, 2.0, 3.0, 4.0, 5.0]),
    ]
    assert _rows(con, "gex_snapshots", "strike_count") == [(2,)]


def test_reimport_is_idempotent_in_tables_and_parquet_bytes(con, tmp_path):
    day = _day(tmp_path, "a", defects="duplicate")
    _import(con, day.path, tmp_path)
    first_rows = _rows(con)
    first_snaps = _rows(con, "gex_snapshots", "* EXCLUDE (ingested_at)")
    first_parquet = export_partition(con, tmp_path / "pq", TICKER, ENDPOINT, DAY).path.read_bytes()
    _import(con, day.path, tmp_path)
    assert _rows(con) == first_rows
    assert _rows(con, "gex_snapshots", "* EXCLUDE (ingested_at)") == first_snaps
    again = export_partition(con, tmp_path / "pq", TICKER, ENDPOINT, DAY).path.read_bytes()
    assert again == first_parquet


def test_replace_keeps_a_pre_image_that_restores_the_old_slice(con, tmp_path):
    _import(con, _day(tmp_path, "old", seed=1).path, tmp_path)
    old, old_snaps = _rows(con), _rows(con, "gex_snapshots", "*")
    stats = _import(con, _day(tmp_path, "new", seed=2).path, tmp_path)
    assert _rows(con) != old
    assert stats.backup is not None and stats.removed_strike_rows == len(old)
    restore_slice(con, stats.backup, FeedDay(DAY, TICKER, ENDPOINT))
    assert _rows(con) == old
    assert _rows(con, "gex_snapshots", "*") == old_snaps


def test_first_import_keeps_no_pre_image(con, tmp_path):
    stats = _import(con, _day(tmp_path, "a").path, tmp_path)
    assert stats.backup is None
    assert not (tmp_path / "backups").exists()


def test_sharp_shrink_is_refused_and_changes_nothing(con, tmp_path):
    _import(con, _day(tmp_path, "full", snapshots=120).path, tmp_path)
    before = _rows(con)
    small = _day(tmp_path, "small", snapshots=30)
    with pytest.raises(ReplaceRefused, match="force"):
        _import(con, small.path, tmp_path)
    assert _rows(con) == before


def test_sharp_shrink_is_applied_when_forced(con, tmp_path):
    _import(con, _day(tmp_path, "full", snapshots=120).path, tmp_path)
    stats = _import(con, _day(tmp_path, "small", snapshots=30).path, tmp_path, force=True)
    assert stats.backup is not None
    assert len(_rows(con)) == 30 * 40


def test_shrink_from_dropped_strikes_is_refused_after_parsing(con, tmp_path):
    good = [{"timestamp": OPEN_S + i, "strikes": [[k, 1.0] for k in range(10)]} for i in range(5)]
    bad = [{"timestamp": OPEN_S + i, "strikes": [["x", 1.0]] * 10} for i in range(5)]
    _import(con, _write_json(tmp_path / "good.json", good), tmp_path)
    with pytest.raises(ReplaceRefused):
        _import(con, _write_json(tmp_path / "bad.json", bad), tmp_path)
    assert len(_rows(con)) == 50


def test_pre_images_older_than_the_retention_are_pruned(tmp_path):
    folder = tmp_path / TICKER / ENDPOINT
    folder.mkdir(parents=True)
    old, new = folder / "20251113-a.strikes.parquet", folder / "20251114-b.strikes.parquet"
    old.write_bytes(b"x")
    new.write_bytes(b"x")
    now = 1_800_000_000.0
    os.utime(old, (now - 31 * 86_400, now - 31 * 86_400))
    os.utime(new, (now - 29 * 86_400, now - 29 * 86_400))
    assert prune_backups(tmp_path, TICKER, ENDPOINT, 30, now) == [old]
    assert [p.name for p in folder.iterdir()] == [new.name]


def test_zero_retention_keeps_every_pre_image(tmp_path):
    folder = tmp_path / TICKER / ENDPOINT
    folder.mkdir(parents=True)
    (folder / "20200101-a.strikes.parquet").write_bytes(b"x")
    os.utime(folder / "20200101-a.strikes.parquet", (0, 0))
    assert prune_backups(tmp_path, TICKER, ENDPOINT, 0, 1_800_000_000.0) == []
