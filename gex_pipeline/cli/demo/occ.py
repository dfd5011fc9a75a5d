"""OCC option symbols as UW sends them, unpadded: `SPXW251114P06700000`, `NVDA251121C00190000`.

Parsing lives in `gex_pipeline.lib.payloads.occ`; this module only builds symbols.
"""

from __future__ import annotations

import datetime as dt


def occ_symbol(root: str, expiry: dt.date, right: str, strike: float) -> str:
    """The OCC symbol of a contract; strike in dollars, encoded x1000 on 8 digits."""
    if right not in ("C", "P"):
        raise ValueError(f"right: must be 'C' or 'P', got {right!r}")
    milli = round(strike * 1000)
    if not 0 < milli < 100_000_000:
        raise ValueError(f"strike: out of the OCC range, got {strike}")
    return f"{root}{expiry:%y%m%d}{right}{milli:08d}"
