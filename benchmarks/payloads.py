"""Parsing cost of the ingest hot path: µs per `/gex` snapshot and per `/uw` batch, no server.

Bounded: a fixed number of calls per case (about a second each). Run: `python -m benchmarks payloads`.
"""

from __future__ import annotations

import json
import time
import timeit
from collections.abc import Callable

from benchmarks.machine import describe
from gex_pipeline.lib.payloads.gex import parse_gex
from gex_pipeline.lib.payloads.uw import parse_uw

CALLS = 2000


def gex_body(strikes: int) -> bytes:
    """A flat snapshot with `strikes` 4-element rows of float values (int strikes, like SPX)."""
    rows = [
        [6500 + 5 * i, 12.5 - i * 0.1, 3.25 + i * 0.01, [1.1, -2.2, 3.3, -4.4, 5.5]]
        for i in range(strikes)
    ]
    body = {
        "ticker": "SPX",
        "timestamp": 1763130600,
        "spot": 6734.25,
        "sum_gex_vol": 1712585.519,
        "net_gex_oi": 51521.105,
        "min_dte": 0,
        "strikes": rows,
        "max_priors": [[6740, 170979.742]] * 6,
    }
    return json.dumps(body).encode()


def uw_batch(size: int) -> bytes:
    """A batch of `size` option-trade Phoenix frames with string numbers."""
    frames = [
        [None, None, "option_trades_super_algo", "new_msg",
         {"data": {"id": f"trade-{i}", "option_chain_id": "SPXW251114P06700000", "price": "4.10",
                   "size": 100, "premium": "41000.00", "tags": ["bid_side"]}}]
        for i in range(size)
    ]  # fmt: skip
    return json.dumps(frames).encode()


def _per_call_us(call: Callable[[], object]) -> float:
    return timeit.timeit(call, number=CALLS) / CALLS * 1e6


def main() -> None:
    """Print µs per call for 50/150/300-strike snapshots and a 20-message /uw batch."""
    print(describe())
    now_ms = int(time.time() * 1000)
    for strikes in (50, 150, 300):
        body = gex_body(strikes)
        micros = _per_call_us(lambda body=body: parse_gex(body, now_ms))
        decode = _per_call_us(lambda body=body: json.loads(body))
        print(
            f"parse_gex {strikes:>3} strikes ({len(body):>6} B): {micros:7.1f} µs/call"
            f"  (stdlib json.loads alone: {decode:6.1f} µs)"
        )
    batch = uw_batch(20)
    micros = _per_call_us(lambda: parse_uw(batch, now_ms))
    print(f"parse_uw  20-message batch ({len(batch):>6} B): {micros:7.1f} µs/call")
