"""OCC option symbols (`ARM260116C00118000`, `SPXW251114P06700000`) and what they encode."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

# weekly / PM-settled / nano roots that trade on another underlying's index
ROOT_UNDERLYING: dict[str, str] = {
    "SPXW": "SPX",
    "SPXPM": "SPX",
    "NDXP": "NDX",
    "RUTW": "RUT",
    "VIXW": "VIX",
    "XSPW": "XSP",
    "DJXW": "DJX",
}

_OCC = re.compile(r"([A-Z][A-Z0-9]{0,5}) *(\d{2})(\d{2})(\d{2})([CP])(\d{8})")


@dataclass(frozen=True)
class OccSymbol:
    """The parts of an OCC symbol: root, underlying, expiry, call/put and strike (dollars)."""

    root: str
    underlying: str
    expiry: date
    option_type: str
    strike: float


def parse_occ_symbol(symbol: str) -> OccSymbol:
    """Parse `ROOT YYMMDD C|P STRIKE*1000 (8 digits)`; roots may be space-padded to 6 characters.

    Raises ValueError on anything else (including an impossible expiry date).
    """
    if not isinstance(symbol, str):
        raise ValueError(f"OCC symbol must be a string, got {type(symbol).__name__}")
    match = _OCC.fullmatch(symbol.strip().upper())
    if match is None:
        raise ValueError(f"not an OCC option symbol: {symbol!r}")
    root, yy, mm, dd, kind, strike = match.groups()
    try:
        expiry = date(2000 + int(yy), int(mm), int(dd))
    except ValueError:
        raise ValueError(f"OCC symbol {symbol!r} has an impossible expiry date") from None
    return OccSymbol(
        root=root,
        underlying=ROOT_UNDERLYING.get(root, root),
        expiry=expiry,
        option_type="call" if kind == "C" else "put",
        strike=int(strike) / 1000,
    )
