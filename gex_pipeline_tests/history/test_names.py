"""`parse_day_file_name`: trading date, ticker (underscores included), endpoint, gzip suffix."""

from __future__ import annotations

from datetime import date

import pytest

from gex_pipeline.lib.history.names import DayFileName, parse_day_file_name


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        (
            "2025-11-14_NQ_NDX_classic_gex_zero.json.gz",
            DayFileName(date(2025, 11, 14), "NQ_NDX", "gex_zero", compressed=True),
        ),
        (
            "2025-11-13_ES_SPX_classic_gex_one.json",
            DayFileName(date(2025, 11, 13), "ES_SPX", "gex_one", compressed=False),
        ),
        (
            "2025-11-14_SPX_classic_gex_full.json",
            DayFileName(date(2025, 11, 14), "SPX", "gex_full", compressed=False),
        ),
        (
            "2024-02-29_SPY_classic_gex_zero.json.gz",
            DayFileName(date(2024, 2, 29), "SPY", "gex_zero", compressed=True),
        ),
    ],
)
def test_day_file_names_are_parsed(name: str, expected: DayFileName) -> None:
    assert parse_day_file_name(name) == expected


@pytest.mark.parametrize(
    "name",
    [
        "2025-11-14_NQ%5FNDX_classic_gex_zero.json.gz",
        "2025-11-14_NQ_NDX_classic_gex%5Fzero.json%2Egz",
    ],
)
def test_url_encoded_names_are_decoded(name: str) -> None:
    assert parse_day_file_name(name) == DayFileName(date(2025, 11, 14), "NQ_NDX", "gex_zero", True)


def test_case_is_normalised() -> None:
    assert parse_day_file_name("2025-11-14_nq_ndx_Classic_GEX_ONE.JSON.GZ") == DayFileName(
        date(2025, 11, 14), "NQ_NDX", "gex_one", True
    )


@pytest.mark.parametrize(
    "name",
    [
        "",
        "data.json",
        "2025-11-14_SPX_classic_gex_two.json",
        "2025-11-14_SPX_classic_gex_zero.csv",
        "2025-11-14_SPX_classic_gex_zero.json.gz.tmp",
        "2025-11-14_SPX_state_gex_zero.json",
        "2025-11-14__classic_gex_zero.json",
        "2025-11-14__SPX_classic_gex_zero.json",
        "2025-11-14_TOOLONGTICKER_XYZ_classic_gex_zero.json",
        "2025-02-30_SPX_classic_gex_zero.json",
        "25-11-14_SPX_classic_gex_zero.json",
        "x/2025-11-14_SPX_classic_gex_zero.json",
    ],
)
def test_names_outside_the_pattern_give_none(name: str) -> None:
    assert parse_day_file_name(name) is None
