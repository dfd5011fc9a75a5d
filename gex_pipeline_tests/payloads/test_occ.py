"""`parse_occ_symbol`: root, underlying, expiry, type and strike from OCC symbols."""

from __future__ import annotations

from datetime import date

import pytest

from gex_pipeline.lib.payloads.occ import OccSymbol, parse_occ_symbol


def test_stock_call_is_parsed() -> None:
    assert parse_occ_symbol("ARM260116C00118000") == OccSymbol(
        root="ARM", underlying="ARM", expiry=date(2026, 1, 16), option_type="call", strike=118.0
    )


def test_index_weekly_put_maps_to_its_index() -> None:
    assert parse_occ_symbol("SPXW251114P06700000") == OccSymbol(
        root="SPXW", underlying="SPX", expiry=date(2025, 11, 14), option_type="put", strike=6700.0
    )


@pytest.mark.parametrize(
    ("symbol", "underlying"),
    [("NDXP251121C21000000", "NDX"), ("RUTW251121P02400000", "RUT"), ("SPX251219C06000000", "SPX")],
)
def test_index_roots_map_to_their_underlying(symbol: str, underlying: str) -> None:
    assert parse_occ_symbol(symbol).underlying == underlying


def test_fractional_strike_is_kept() -> None:
    assert parse_occ_symbol("NVDA251121C00187500").strike == 187.5


def test_space_padded_root_is_accepted() -> None:
    assert parse_occ_symbol("SPY   251121P00650000").root == "SPY"


def test_root_with_a_digit_is_kept_whole() -> None:
    parsed = parse_occ_symbol("AAPL1251121C00200000")
    assert (parsed.root, parsed.underlying, parsed.strike) == ("AAPL1", "AAPL1", 200.0)


@pytest.mark.parametrize(
    "symbol",
    [
        "",
        "ARM",
        "ARM260116X00118000",
        "ARM260116C0011800",
        "ARM260116C001180000",
        "TOOLONGROOT260116C00118000",
        "ARM261316C00118000",
        "ARM260230C00118000",
        "260116C00118000",
    ],
)
def test_malformed_symbol_raises_value_error(symbol: str) -> None:
    with pytest.raises(ValueError):
        parse_occ_symbol(symbol)
