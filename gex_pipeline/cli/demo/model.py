"""A 1 Hz simulator of one GEX feed: random-walk spot, strike rows with priors, sums and walls.

Each call of `FeedModel.snapshot(ts)` advances the feed by one second and returns a snapshot in the
day-file layout (`timestamp` in epoch seconds). Definitions used by the generated data:

- strike rows `[strike, gamma_vol, gamma_oi, [p1, p5, p10, p15, p30]]`, where `pN` is the strike's
  `gamma_vol` N minutes earlier (0.0 before the feed has that much history);
- `sum_gex_vol` / `sum_gex_oi` are the sums of the rows' `gamma_vol` / `gamma_oi`;
- walls (`major_*`) are the strikes of the largest / smallest row value;
- `zero_gamma` is where `gamma_vol` crosses from negative to positive nearest to spot (linear
  interpolation between two rows), so it always lies inside the strike range;
- `max_priors` holds 6 pairs: the strike with the largest |gamma_vol| now, then for each window the
  strike with the largest |gamma_vol - pN| and that change.
"""

from __future__ import annotations

import math
import random
from collections import deque
from itertools import pairwise
from operator import itemgetter
from typing import Any

from gex_pipeline.cli.demo.market import TickerProfile, check_endpoint, strike_grid

PRIOR_WINDOWS: tuple[int, ...] = (60, 300, 600, 900, 1800)
SESSION_SNAPSHOTS = 23_400
_ENDPOINT_SCALE = {"gex_zero": 1.0, "gex_one": 0.6, "gex_full": 2.5}
_DTE = {"gex_zero": (0, 1), "gex_one": (1, 2), "gex_full": (0, 1)}
_NOISE = 0.08
_EMPTY: dict[float, float] = {}


def _basis(profile: TickerProfile, rng: random.Random) -> float:
    """Futures premium over the index, in whole cents but never whole points (`25187.21`)."""
    cents = round(profile.spot * rng.uniform(0.002, 0.006) * 100)
    return (cents + (1 if cents % 100 == 0 else 0)) / 100


def _abs_value(row: list[Any]) -> float:
    return abs(row[1])


class FeedModel:
    """Deterministic simulator of one feed (ticker x endpoint) for a given seed key."""

    def __init__(
        self, profile: TickerProfile, endpoint: str, seed_key: str, n_strikes: int = 100
    ) -> None:
        if not 2 <= n_strikes <= 1000:
            raise ValueError(f"strikes: must be between 2 and 1000, got {n_strikes}")
        self.profile = profile
        self.endpoint = check_endpoint(endpoint)
        self.n_strikes = n_strikes
        self._rng = random.Random(f"walk:{seed_key}")
        self._weights_rng = random.Random(f"weights:{seed_key}")
        rng = self._rng
        self.basis = _basis(profile, rng) if profile.futures else 0.0
        self._price = profile.spot * (1.0 + rng.uniform(-0.02, 0.02))
        self._sigma = profile.daily_vol / math.sqrt(SESSION_SNAPSHOTS)
        self._amp = profile.gamma_scale * _ENDPOINT_SCALE[endpoint] * rng.uniform(0.7, 1.3)
        self._amp_oi = self._amp * rng.uniform(0.5, 1.5)
        self._flip = rng.uniform(-0.3, 0.3)
        self._flip_oi = rng.uniform(-0.3, 0.3)
        self._drr = rng.uniform(0.0, 0.2)
        self._inv_width = 4.0 / (profile.step * n_strikes)
        self._weights: dict[float, tuple[float, float]] = {}
        self._grid_center: float | None = None
        self._grid: list[tuple[float, float, float, float]] = []
        self._history: deque[dict[float, float]] = deque(maxlen=max(PRIOR_WINDOWS))
        self.min_dte, self.sec_min_dte = _DTE[endpoint]

    def _weight(self, index_strike: float) -> tuple[float, float]:
        weight = self._weights.get(index_strike)
        if weight is None:
            rng = self._weights_rng
            bonus = 1.0
            every = self.profile.round_every
            if every and math.isclose(index_strike % every, 0.0, abs_tol=1e-6):
                bonus = 2.5
            weight = (bonus * rng.lognormvariate(0.0, 0.5), bonus * rng.lognormvariate(0.0, 0.7))
            self._weights[index_strike] = weight
        return weight

    def _rows_grid(self, index_price: float) -> list[tuple[float, float, float, float]]:
        center = self.profile.nearest_strike(index_price)
        if center != self._grid_center:
            grid = []
            for k in strike_grid(self.profile, index_price, self.n_strikes):
                w_vol, w_oi = self._weight(k)
                grid.append((round(k + self.basis, 2), k, w_vol, w_oi))
            self._grid = grid
            self._grid_center = center
        return self._grid

    def _step(self) -> None:
        rng = self._rng
        self._price *= math.exp(self._sigma * rng.gauss(0.0, 1.0))
        self._amp *= math.exp(0.002 * rng.gauss(0.0, 1.0))
        self._flip = min(0.6, max(-0.6, self._flip + 0.004 * rng.gauss(0.0, 1.0)))
        self._drr = min(0.3, max(-0.1, self._drr + 0.0005 * rng.gauss(0.0, 1.0)))

    def snapshot(self, ts: int) -> dict[str, Any]:
        """Advance one second and return the snapshot stamped `ts` (epoch seconds)."""
        self._step()
        tick = self.profile.tick
        spot = round(round(self._price / tick) * tick, 2)
        index_price = self._price - self.basis
        rows = self._rows(index_price)
        return self._assemble(ts, spot, rows)

    def _rows(self, index_price: float) -> list[list[Any]]:
        hist = self._history
        depth = len(hist)
        priors = [hist[-w] if depth >= w else _EMPTY for w in PRIOR_WINDOWS]
        p1, p5, p10, p15, p30 = (p.get for p in priors)
        rand = self._rng.random
        exp = math.exp
        inv_width = self._inv_width
        amp, amp_oi, flip, flip_oi = self._amp, self._amp_oi, self._flip, self._flip_oi
        now: dict[float, float] = {}
        rows: list[list[Any]] = []
        for strike, index_strike, w_vol, w_oi in self._rows_grid(index_price):
            x = (index_strike - index_price) * inv_width
            bell = exp(-x * x)
            gamma = round(amp * w_vol * (x - flip) * bell * (1.0 + _NOISE * (rand() - 0.5)), 3)
            gamma_oi = round(amp_oi * w_oi * (x - flip_oi) * bell, 3)
            now[strike] = gamma
            rows.append(
                [
                    strike,
                    gamma,
                    gamma_oi,
                    [
                        p1(strike, 0.0),
                        p5(strike, 0.0),
                        p10(strike, 0.0),
                        p15(strike, 0.0),
                        p30(strike, 0.0),
                    ],
                ]
            )
        hist.append(now)
        return rows

    def _assemble(self, ts: int, spot: float, rows: list[list[Any]]) -> dict[str, Any]:
        by_vol = itemgetter(1)
        by_oi = itemgetter(2)
        top = max(rows, key=_abs_value)
        max_priors: list[list[float]] = [[top[0], top[1]]]
        for j in range(len(PRIOR_WINDOWS)):
            best = max(rows, key=lambda r, j=j: abs(r[1] - r[3][j]))
            max_priors.append([best[0], round(best[1] - best[3][j], 3)])
        return {
            "timestamp": ts,
            "ticker": self.profile.ticker,
            "min_dte": self.min_dte,
            "sec_min_dte": self.sec_min_dte,
            "spot": spot,
            "zero_gamma": zero_gamma(rows, spot),
            "major_pos_vol": max(rows, key=by_vol)[0],
            "major_pos_oi": max(rows, key=by_oi)[0],
            "major_neg_vol": min(rows, key=by_vol)[0],
            "major_neg_oi": min(rows, key=by_oi)[0],
            "strikes": rows,
            "sum_gex_vol": round(math.fsum(r[1] for r in rows), 3),
            "sum_gex_oi": round(math.fsum(r[2] for r in rows), 3),
            "delta_risk_reversal": round(self._drr, 3),
            "max_priors": max_priors,
        }


def zero_gamma(rows: list[list[Any]], spot: float) -> float:
    """The negative-to-positive crossing of `gamma_vol` nearest to `spot` (spot when none)."""
    best: float | None = None
    for low, high in pairwise(rows):
        g_low, g_high = low[1], high[1]
        if g_low < 0.0 <= g_high:
            level = low[0] + (high[0] - low[0]) * (-g_low) / (g_high - g_low)
            if best is None or abs(level - spot) < abs(best - spot):
                best = level
    if best is None:
        best = min(max(spot, rows[0][0]), rows[-1][0])
    return round(best, 2)
