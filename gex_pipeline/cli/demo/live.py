"""Live `POST /gex` bodies in every shape clients send (see contracts.md section 1).

Builders take a snapshot from `FeedModel` (day-file layout, `timestamp` in epoch seconds) and
return the body as sent: flat, envelope (`snapshot` / `majors` / `maxchange`), double-encoded,
legacy dict rows, short rows with a duplicate strike, aliased field names, and timestamps in
seconds, float seconds, milliseconds or ISO-8601 (`Z` or New York offset).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from gex_pipeline.cli.demo.market import profile_for
from gex_pipeline.cli.demo.model import PRIOR_WINDOWS, FeedModel
from gex_pipeline.cli.demo.session import NEW_YORK

TIME_FORMATS: tuple[str, ...] = ("s", "s_float", "ms", "iso", "iso_offset")
ENVELOPE_KINDS: tuple[str, ...] = ("snapshot", "majors", "maxchange")
MAX_CHANGE_KEYS: tuple[str, ...] = ("current", "one", "five", "ten", "fifteen", "thirty")
_MAJORS = (
    "spot",
    "zero_gamma",
    "major_pos_vol",
    "major_pos_oi",
    "major_neg_vol",
    "major_neg_oi",
    "sum_gex_vol",
    "sum_gex_oi",
)
_ALIASES = {"spot": "spot_price", "sum_gex_vol": "net_gex_vol", "sum_gex_oi": "net_gex_oi"}


def format_timestamp(ts: float, time_format: str) -> int | float | str:
    """Epoch seconds `ts` in one of `TIME_FORMATS`."""
    if time_format == "s":
        return int(ts)
    if time_format == "s_float":
        return float(ts) + 0.25
    if time_format == "ms":
        return round(ts * 1000)
    moment = dt.datetime.fromtimestamp(ts, tz=dt.UTC)
    if time_format == "iso":
        return moment.isoformat().replace("+00:00", "Z")
    if time_format == "iso_offset":
        return moment.astimezone(NEW_YORK).isoformat()
    raise ValueError(f"time_format: must be one of {', '.join(TIME_FORMATS)}, got {time_format!r}")


def flat_payload(
    snapshot: dict[str, Any],
    endpoint: str | None = "gex_zero",
    *,
    time_format: str = "s",
    aliases: bool = False,
    zero_alias: bool = False,
) -> dict[str, Any]:
    """A flat body. `aliases` renames spot/sums to `spot_price`/`net_gex_*`; `zero_alias` sends
    `sum_gex_vol: 0` beside the real value in `net_gex_vol` (clients prefer the non-zero one)."""
    body: dict[str, Any] = {"ticker": snapshot["ticker"]}
    body["timestamp"] = format_timestamp(snapshot["timestamp"], time_format)
    if endpoint is not None:
        body["endpoint"] = endpoint
    for key, value in snapshot.items():
        if key in ("ticker", "timestamp"):
            continue
        body[_ALIASES.get(key, key) if aliases else key] = value
    if zero_alias:
        body["net_gex_vol"] = snapshot["sum_gex_vol"]
        body["sum_gex_vol"] = 0
    return body


def max_change(snapshot: dict[str, Any]) -> dict[str, list[float]]:
    """The `max_change` object (`current`, `one` ... `thirty`) from a snapshot's `max_priors`."""
    return {
        key: list(pair) for key, pair in zip(MAX_CHANGE_KEYS, snapshot["max_priors"], strict=True)
    }


def envelope_payload(
    snapshot: dict[str, Any],
    endpoint: str = "gex_zero",
    *,
    kind: str = "snapshot",
    time_format: str = "iso",
) -> dict[str, Any]:
    """An envelope body `{ticker, endpoint, kind, received_at, payload}` of one `kind`."""
    if kind not in ENVELOPE_KINDS:
        raise ValueError(f"kind: must be one of {', '.join(ENVELOPE_KINDS)}, got {kind!r}")
    stamp = format_timestamp(snapshot["timestamp"], time_format)
    head = {"ticker": snapshot["ticker"], "timestamp": stamp}
    if kind == "snapshot":
        inner = flat_payload(snapshot, None, time_format=time_format, aliases=True)
    elif kind == "majors":
        inner = head | {key: snapshot[key] for key in _MAJORS}
    else:
        inner = head | {"spot": snapshot["spot"], "max_change": max_change(snapshot)}
    return {
        "ticker": snapshot["ticker"],
        "endpoint": endpoint,
        "kind": kind,
        "received_at": format_timestamp(snapshot["timestamp"], "iso"),
        "payload": inner,
    }


def double_encoded(body: dict[str, Any]) -> str:
    """The body as a JSON string holding the JSON object (decoded twice by the server)."""
    return json.dumps(body, separators=(",", ":"))


def dict_rows(snapshot: dict[str, Any], endpoint: str = "gex_zero") -> dict[str, Any]:
    """A flat body with the rare legacy dict rows, alternating `gamma_now`/`vanna` and
    `gamma`/`oi_gamma` key names."""
    body = flat_payload(snapshot, endpoint)
    rows = []
    for i, (strike, gamma, gamma_oi, priors) in enumerate(snapshot["strikes"]):
        names = ("gamma_now", "vanna") if i % 2 == 0 else ("gamma", "oi_gamma")
        rows.append({"strike": strike, names[0]: gamma, names[1]: gamma_oi, "history": priors})
    body["strikes"] = rows
    return body


def short_rows(snapshot: dict[str, Any], endpoint: str = "gex_zero") -> dict[str, Any]:
    """A flat body whose rows have 2 or 3 elements, with the first strike repeated at the end."""
    body = flat_payload(snapshot, endpoint)
    rows: list[list[float]] = [
        list(row[:2]) if i % 2 else list(row[:3]) for i, row in enumerate(snapshot["strikes"])
    ]
    if rows:
        rows.append([rows[0][0], rows[0][1]])
    body["strikes"] = rows
    return body


class LiveFeed:
    """A live feed: 1 Hz snapshots of one ticker x endpoint starting at `start_ts`.

    The model first runs `warmup` seconds before `start_ts` so the priors are already filled.
    """

    def __init__(
        self,
        ticker: str,
        endpoint: str,
        seed: int,
        start_ts: int,
        strikes: int = 100,
        warmup: int = max(PRIOR_WINDOWS),
    ) -> None:
        profile = profile_for(ticker)
        self.ticker = profile.ticker
        self.endpoint = endpoint
        self._model = FeedModel(profile, endpoint, f"live:{seed}:{self.ticker}:{endpoint}", strikes)
        for ts in range(start_ts - warmup, start_ts):
            self._model.snapshot(ts)
        self._next_ts = start_ts

    def next_snapshot(self) -> dict[str, Any]:
        """The snapshot of the next second."""
        snap = self._model.snapshot(self._next_ts)
        self._next_ts += 1
        return snap


_Body = dict[str, Any] | str
VARIANTS: tuple[Callable[[dict[str, Any], str], _Body], ...] = (
    lambda s, e: flat_payload(s, e),
    lambda s, e: flat_payload(s, e, time_format="ms"),
    lambda s, e: envelope_payload(s, e),
    lambda s, e: flat_payload(s, e, time_format="s_float", aliases=True),
    lambda s, e: flat_payload(s, e, time_format="iso_offset", zero_alias=True),
    lambda s, e: double_encoded(flat_payload(s, e)),
    lambda s, e: envelope_payload(s, e, kind="majors", time_format="ms"),
    lambda s, e: envelope_payload(s, e, kind="maxchange"),
    short_rows,
    dict_rows,
    lambda s, e: flat_payload(s, e) | {"ticker": s["ticker"].lower()},
)
"""Every body shape, in the order `gex_payloads` cycles through them."""


def gex_payloads(
    count: int,
    seed: int,
    start_ts: int,
    feeds: Sequence[tuple[str, str]] = (("SPX", "gex_zero"), ("NQ_NDX", "gex_zero")),
    strikes: int = 100,
    warmup: int = max(PRIOR_WINDOWS),
) -> Iterator[_Body]:
    """`count` bodies, one per feed per second, cycling through every shape variant."""
    live = [LiveFeed(t, e, seed, start_ts, strikes, warmup) for t, e in feeds]
    for i in range(count):
        feed = live[i % len(live)]
        yield VARIANTS[i % len(VARIANTS)](feed.next_snapshot(), feed.endpoint)
