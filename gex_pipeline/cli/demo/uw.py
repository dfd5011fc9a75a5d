"""Unusual Whales websocket messages as the relay userscript posts them to `/uw`.

Phoenix arrays `[join_ref, ref, channel, event, payload]` (or the older object form
`{"topic", "event_type", "payload"}`): option trades with OCC symbols, uuids and numbers as string
decimals, `market-state` aggregates, and `heartbeat` / `phx_reply` control frames. Option prices
and greeks come from Black-Scholes, so they are consistent with the contract's strike and expiry.
"""

from __future__ import annotations

import datetime as dt
import math
import random
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from gex_pipeline.cli.demo.occ import occ_symbol
from gex_pipeline.cli.demo.session import NEW_YORK, SESSION_CLOSE

TRADE_CHANNEL = "option_trades_super_algo"
MARKET_AGG_CHANNEL = "market_agg_socket"
_EXCHANGES = ("XCBO", "CBOE", "XPHL", "MPRL", "AMXO", "XISX", "EDGO", "XBOX")
_SIZES = (1, 2, 5, 10, 20, 25, 50, 100, 150, 200, 250, 500, 1000)
_RATE = 0.04
_YEAR_SECONDS = 365.0 * 86_400


@dataclass(frozen=True)
class Underlying:
    """An underlying whose options trade on a UW channel."""

    symbol: str
    root: str
    spot: float
    step: float
    channel: str
    sector: str | None = None
    industry: str | None = None
    marketcap: int | None = None

    @property
    def is_index(self) -> bool:
        """Index options (0DTE, no company fields)."""
        return self.sector is None


STOCKS: tuple[Underlying, ...] = (
    Underlying("NVDA", "NVDA", 188.0, 2.5, TRADE_CHANNEL, "Technology", "Semiconductors", 4_580_000_000_000),
    Underlying("TSLA", "TSLA", 430.0, 5.0, TRADE_CHANNEL, "Consumer Cyclical", "Auto Manufacturers", 1_430_000_000_000),
    Underlying("AAPL", "AAPL", 272.0, 5.0, TRADE_CHANNEL, "Technology", "Consumer Electronics", 4_030_000_000_000),
    Underlying("AMD", "AMD", 247.0, 2.5, TRADE_CHANNEL, "Technology", "Semiconductors", 400_000_000_000),
    Underlying("META", "META", 610.0, 5.0, TRADE_CHANNEL, "Communication Services", "Internet Content", 1_540_000_000_000),
    Underlying("ARM", "ARM", 150.0, 2.5, TRADE_CHANNEL, "Technology", "Semiconductors", 158_000_000_000),
)  # fmt: skip
INDEXES: tuple[Underlying, ...] = (
    Underlying("SPX", "SPXW", 6730.0, 5.0, f"{TRADE_CHANNEL}:SPX"),
    Underlying("NDX", "NDXP", 25060.0, 10.0, f"{TRADE_CHANNEL}:NDX"),
)


def _norm_cdf(x: float) -> float:
    return 0.5 * (1.0 + math.erf(x / math.sqrt(2.0)))


def _norm_pdf(x: float) -> float:
    return math.exp(-0.5 * x * x) / math.sqrt(2.0 * math.pi)


def black_scholes(
    spot: float, strike: float, years: float, vol: float, call: bool
) -> dict[str, float]:
    """Price and greeks (vega/rho per 1 %, theta per calendar day) of a European option."""
    root_t = math.sqrt(years)
    d1 = (math.log(spot / strike) + (_RATE + 0.5 * vol * vol) * years) / (vol * root_t)
    d2 = d1 - vol * root_t
    disc = math.exp(-_RATE * years)
    pdf = _norm_pdf(d1)
    if call:
        price = spot * _norm_cdf(d1) - strike * disc * _norm_cdf(d2)
        delta = _norm_cdf(d1)
        theta = -spot * pdf * vol / (2 * root_t) - _RATE * strike * disc * _norm_cdf(d2)
        rho = strike * years * disc * _norm_cdf(d2)
    else:
        price = strike * disc * _norm_cdf(-d2) - spot * _norm_cdf(-d1)
        delta = _norm_cdf(d1) - 1.0
        theta = -spot * pdf * vol / (2 * root_t) + _RATE * strike * disc * _norm_cdf(-d2)
        rho = -strike * years * disc * _norm_cdf(-d2)
    return {
        "price": price,
        "delta": delta,
        "gamma": pdf / (spot * vol * root_t),
        "theta": theta / 365.0,
        "vega": spot * pdf * root_t / 100.0,
        "rho": rho / 100.0,
    }


def _iso_ms(ts: float) -> str:
    moment = dt.datetime.fromtimestamp(round(ts, 3), tz=dt.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _dec(value: float, places: int) -> str:
    text = f"{value:.{places}f}"
    return text[1:] if text.startswith("-") and not text.strip("-0.") else text


def to_object_form(message: list[Any]) -> dict[str, Any]:
    """The older object form `{"topic", "event_type", "payload"}` of a Phoenix array."""
    return {"topic": message[2], "event_type": message[3], "payload": message[4]}


class UwStream:
    """A deterministic stream of UW messages starting at epoch second `start_ts`."""

    def __init__(self, seed: int, start_ts: float) -> None:
        self._rng = random.Random(f"uw:{seed}")
        self._ts = float(start_ts)
        self._spots = {u.symbol: u.spot for u in (*STOCKS, *INDEXES)}
        self._ref = 0
        self._agg = {"call_premium": 0.0, "put_premium": 0.0, "call_volume": 0, "put_volume": 0}

    def _advance(self) -> float:
        self._ts += self._rng.expovariate(8.0)
        return self._ts

    def _expiry(self, underlying: Underlying, today: dt.date) -> dt.date:
        if underlying.is_index:
            return today
        friday = today + dt.timedelta(days=(4 - today.weekday()) % 7)
        return friday + dt.timedelta(weeks=self._rng.randint(0, 3))

    def option_trade(self, index: bool = False) -> list[Any]:
        """A `new_msg` option trade on the stock channel, or on an index channel when `index`."""
        rng = self._rng
        ts = self._advance()
        und = rng.choice(INDEXES if index else STOCKS)
        spot = self._spots[und.symbol] * math.exp(0.0005 * rng.gauss(0.0, 1.0))
        self._spots[und.symbol] = spot
        today = dt.datetime.fromtimestamp(ts, tz=NEW_YORK).date()
        expiry = self._expiry(und, today)
        close = dt.datetime.combine(expiry, SESSION_CLOSE, tzinfo=NEW_YORK).timestamp()
        years = max((close - ts) / _YEAR_SECONDS, 900.0 / _YEAR_SECONDS)
        call = rng.random() < 0.55
        strike = max(und.step, round(spot * (1 + rng.gauss(0.0, 0.03)) / und.step) * und.step)
        vol = rng.uniform(0.10, 0.30) if und.is_index else rng.uniform(0.25, 0.80)
        greeks = black_scholes(spot, strike, years, vol, call)
        price = max(0.01, round(greeks["price"], 2))
        size = rng.choice(_SIZES)
        volume = size + rng.randint(0, 40_000)
        ask = rng.randint(0, volume)
        bid = rng.randint(0, volume - ask)
        mid = rng.randint(0, volume - ask - bid)
        multi = volume - ask - bid - mid
        side = "ask_side" if rng.random() < 0.55 else "bid_side"
        bullish = (side == "ask_side") == call
        spread = max(0.01, round(price * 0.02, 2))
        data: dict[str, Any] = {
            "id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
            "executed_at": _iso_ms(ts),
            "option_chain_id": occ_symbol(und.root, expiry, "C" if call else "P", strike),
            "price": _dec(price, 2),
            "size": size,
            "premium": _dec(price * size * 100, 2),
            "volume": volume,
            "open_interest": rng.randint(0, 120_000),
            "underlying_price": _dec(spot, 2),
            "implied_volatility": _dec(vol, 4),
            "delta": _dec(greeks["delta"], 4),
            "gamma": _dec(greeks["gamma"], 6),
            "theta": _dec(greeks["theta"], 4),
            "vega": _dec(greeks["vega"], 4),
            "rho": _dec(greeks["rho"], 4),
            "theo": _dec(max(0.0, greeks["price"]), 4),
            "ask_vol": ask,
            "bid_vol": bid,
            "mid_vol": mid,
            "multi_vol": multi,
            "no_side_vol": 0,
            "stock_multi_vol": 0,
            "ewma_nbbo_ask": _dec(price + spread / 2, 2),
            "ewma_nbbo_bid": _dec(max(0.0, price - spread / 2), 2),
            "exchange": rng.choice(_EXCHANGES),
            "tags": [side, "bullish" if bullish else "bearish"]
            + (["sweep"] if rng.random() < 0.2 else []),
            "report_flags": ["sweep"] if rng.random() < 0.1 else [],
            "is_agg": False,
            "upstream_condition_detail": rng.choice(("AUTO", "SLAN", "MLET", "ISOI")),
        }
        if not und.is_index:
            earnings = today + dt.timedelta(days=rng.randint(3, 80))
            data |= {
                "sector": und.sector,
                "industry_type": und.industry,
                "issue_type": "Common Stock",
                "marketcap": str(und.marketcap),
                "next_earnings_date": earnings.isoformat(),
            }
        self._count_premium(call, price * size * 100, size)
        return [None, None, und.channel, "new_msg", {"data": data}]

    def _count_premium(self, call: bool, premium: float, size: int) -> None:
        side = "call" if call else "put"
        self._agg[f"{side}_premium"] += premium
        self._agg[f"{side}_volume"] += size

    def market_agg(self) -> list[Any]:
        """A `market-state` aggregate of the premiums and volumes traded so far."""
        rng = self._rng
        ts = self._advance()
        agg = self._agg
        call_vol, put_vol = int(agg["call_volume"]), int(agg["put_volume"])
        data = {
            "date": dt.datetime.fromtimestamp(ts, tz=NEW_YORK).date().isoformat(),
            "call_premium": _dec(agg["call_premium"], 2),
            "put_premium": _dec(agg["put_premium"], 2),
            "call_premium_otm_only": _dec(agg["call_premium"] * 0.4, 2),
            "put_premium_otm_only": _dec(agg["put_premium"] * 0.45, 2),
            "call_volume": call_vol,
            "put_volume": put_vol,
            "put_call_ratio": _dec(put_vol / call_vol, 4) if call_vol else "0",
            "delta": _dec(rng.uniform(-5e6, 5e6), 1),
            "gamma": _dec(rng.uniform(-1e5, 1e5), 1),
            "theta": _dec(rng.uniform(-2e6, 0), 1),
            "vega": _dec(rng.uniform(0, 1e6), 1),
            "net_call_premium": _dec(agg["call_premium"] * rng.uniform(-0.2, 0.2), 2),
            "net_put_premium": _dec(agg["put_premium"] * rng.uniform(-0.2, 0.2), 2),
            "net_volume": call_vol - put_vol,
            "timestamp": _iso_ms(ts),
        }
        return [None, None, MARKET_AGG_CHANNEL, "market-state", {"data": data}]

    def heartbeat(self) -> list[Any]:
        """A Phoenix `heartbeat` frame (no data)."""
        self._ref += 1
        return [None, str(self._ref), "phoenix", "heartbeat", {}]

    def phx_reply(self) -> list[Any]:
        """The server's `phx_reply` to the last heartbeat (no data)."""
        return [None, str(self._ref), "phoenix", "phx_reply", {"response": {}, "status": "ok"}]

    def message(self, kind: str) -> list[Any] | dict[str, Any]:
        """One message of `kind` (see `MESSAGE_KINDS`)."""
        if kind not in _KINDS:
            raise ValueError(f"kind: must be one of {', '.join(MESSAGE_KINDS)}, got {kind!r}")
        return _KINDS[kind][1](self)

    def messages(self, count: int) -> Iterator[list[Any] | dict[str, Any]]:
        """`count` messages: one of each kind first, then a mix dominated by option trades."""
        weights = [weight for weight, _ in _KINDS.values()]
        for i in range(count):
            if i < len(MESSAGE_KINDS):
                kind = MESSAGE_KINDS[i]
            else:
                kind = self._rng.choices(MESSAGE_KINDS, weights)[0]
            yield self.message(kind)


# Each kind of message: its weight in the mix that follows one of each, and how one is made.
_KINDS: dict[str, tuple[int, Callable[[UwStream], list[Any] | dict[str, Any]]]] = {
    "stock_trade": (60, UwStream.option_trade),
    "index_trade": (20, lambda stream: stream.option_trade(index=True)),
    "market_agg": (6, UwStream.market_agg),
    "heartbeat": (5, UwStream.heartbeat),
    "phx_reply": (5, UwStream.phx_reply),
    "object_trade": (4, lambda stream: to_object_form(stream.option_trade())),
}
MESSAGE_KINDS: tuple[str, ...] = tuple(_KINDS)
