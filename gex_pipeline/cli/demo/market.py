"""Ticker profiles: typical spot, strike grid and futures basis of each supported ticker."""

from __future__ import annotations

import math
from dataclasses import dataclass

ENDPOINTS: tuple[str, ...] = ("gex_zero", "gex_one", "gex_full")


@dataclass(frozen=True)
class TickerProfile:
    """How one ticker's prices and strikes look.

    Strikes are index strikes on a grid of `step` (and `wide_step` from `wide_from` up), plus the
    futures `basis` for futures tickers (so `NQ_NDX` strikes look like `25187.21`).
    """

    ticker: str
    spot: float
    step: float
    tick: float
    daily_vol: float
    gamma_scale: float
    futures: bool = False
    wide_from: float | None = None
    wide_step: float | None = None
    round_every: float | None = None

    def step_up(self, strike: float) -> float:
        """The grid step from `strike` to the next strike above it."""
        if self.wide_from is not None and self.wide_step is not None and strike >= self.wide_from:
            return self.wide_step
        return self.step

    def step_down(self, strike: float) -> float:
        """The grid step from `strike` to the next strike below it."""
        wide = self.wide_step
        if self.wide_from is not None and wide is not None and strike - wide >= self.wide_from:
            return wide
        return self.step

    def nearest_strike(self, price: float) -> float:
        """The grid strike nearest to `price` (never below the first positive strike)."""
        step = self.step
        if self.wide_from is not None and self.wide_step is not None and price >= self.wide_from:
            step = self.wide_step
            return self.wide_from + round((price - self.wide_from) / step) * step
        return max(step, round(price / step) * step)


PROFILES: dict[str, TickerProfile] = {
    p.ticker: p
    for p in (
        TickerProfile("SPX", 6730.0, 5.0, 0.01, 0.010, 150.0, round_every=25.0),
        TickerProfile("ES_SPX", 6760.0, 5.0, 0.25, 0.010, 150.0, futures=True, round_every=25.0),
        TickerProfile("NDX", 25060.0, 10.0, 0.01, 0.013, 400.0, round_every=100.0),
        TickerProfile("NQ_NDX", 25190.0, 10.0, 0.25, 0.013, 400.0, futures=True, round_every=100.0),
        TickerProfile("RUT", 2390.0, 5.0, 0.01, 0.014, 40.0, round_every=25.0),
        TickerProfile("SPY", 671.0, 1.0, 0.01, 0.010, 30.0, round_every=5.0),
        TickerProfile("QQQ", 608.0, 1.0, 0.01, 0.013, 25.0, round_every=5.0),
        TickerProfile("IWM", 238.0, 1.0, 0.01, 0.014, 10.0, round_every=5.0),
        TickerProfile(
            "VIX", 17.5, 0.5, 0.01, 0.06, 5.0, wide_from=25.0, wide_step=1.0, round_every=5.0
        ),
    )
}


def profile_for(ticker: str) -> TickerProfile:
    """The profile of `ticker`; a ValueError names the field and the known tickers otherwise."""
    profile = PROFILES.get(ticker.upper())
    if profile is None:
        known = ", ".join(sorted(PROFILES))
        raise ValueError(f"ticker: unknown ticker {ticker!r} (known: {known})")
    return profile


def check_endpoint(endpoint: str) -> str:
    """Return `endpoint` when it is a GEXBot classic endpoint; a ValueError names the field."""
    if endpoint not in ENDPOINTS:
        raise ValueError(f"endpoint: must be one of {', '.join(ENDPOINTS)}, got {endpoint!r}")
    return endpoint


def strike_grid(profile: TickerProfile, price: float, count: int) -> list[float]:
    """`count` ascending index strikes around `price` on the ticker's grid (all positive)."""
    center = profile.nearest_strike(price)
    below: list[float] = []
    strike = center
    while len(below) < count // 2:
        nxt = strike - profile.step_down(strike)
        if nxt <= 0 or math.isclose(nxt, 0.0, abs_tol=1e-9):
            break
        below.append(nxt)
        strike = nxt
    grid = [*reversed(below), center]
    strike = center
    while len(grid) < count:
        strike = strike + profile.step_up(strike)
        grid.append(strike)
    return [round(k, 4) for k in grid]
