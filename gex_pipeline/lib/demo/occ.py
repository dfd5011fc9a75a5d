"""OCC option symbols as UW sends them, unpadded: `SPXW251114P06700000`, `NVDA251121C00190000`."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

_OCC = re.compile(r"^(?P<root>[A-Z]{1,6})(?P<expiry>\d{6})(?P<right>[CP])(?P<strike>\d{8})$")
INDEX_ROOTS: dict[str, str] = {"SPXW": "SPX", "NDXP": "NDX", "RUTW": "RUT", "VIXW": "VIX"}


@dataclass(frozen=True)
class OccContract:
    """The parts of an OCC symbol."""

    root: str
    expiry: dt.date
    right: str
    strike: float

    @property
    def underlying(self) -> str:
        """The underlying symbol (`SPXW` -> `SPX`; a stock root is its own underlying)."""
        return INDEX_ROOTS.get(self.root, self.root)


def occ_symbol(root: str, expiry: dt.date, right: str, strike: float) -> str:
    """The OCC symbol of a contract; strike in dollars, encoded x1000 on 8 digits."""
    if right not in ("C", "P"):
        raise ValueError(f"right: must be 'C' or 'P', got {right!r}")
    milli = round(strike * 1000)
    if not 0 < milli < 100_000_000:
        raise ValueError(f"strike: out of the OCC range, got {strike}")
    return f"{root}{expiry:%y%m%d}{right}{milli:08d}"


def parse_occ(symbol: str) -> OccContract:
    """Split an OCC symbol; a ValueError names the field when it is not one."""
    match = _OCC.match(symbol)
    if match is None:
        raise ValueError(f"option_chain_id: not an OCC symbol: {symbol!r}")
    expiry = dt.datetime.strptime(match["expiry"], "%y%m%d").date()
    return OccContract(match["root"], expiry, match["right"], int(match["strike"]) / 1000)
