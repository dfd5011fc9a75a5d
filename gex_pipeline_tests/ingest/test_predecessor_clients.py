"""What the predecessor's clients send is accepted through the API and lands typed, nothing lost.

The bodies are the shapes of the predecessor's own contract tests and models (its `/gex` model had
`max_change: Dict[str, float]` and `max_priors: Union[str, List[float]]`, dict strike rows with
`gamma_now`/`vanna`/`history`, `net_gex_*` names); they are written here from those facts.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

import duckdb
import pytest

from gex_pipeline.lib.db.schema import migrate
from gex_pipeline.lib.gex.live_load import load_segments
from gex_pipeline.lib.staging.reader import Segment

CONTRACT_SNAPSHOT = {
    "ticker": "NQ_NDX",
    "timestamp": 1640995200,
    "endpoint": "gex_zero",
    "spot": 15000.0,
    "zero_gamma": 123456.78,
    "net_gex_vol": 987654.32,
    "net_gex_oi": 567890.12,
    "major_pos_vol": 15200.0,
    "major_neg_vol": 14800.0,
    "major_pos_oi": 15250.0,
    "major_neg_oi": 14750.0,
    "delta_risk_reversal": 0.15,
    "strikes": [
        {
            "strike": 15000.0,
            "gamma_now": 1234.56,
            "vanna": 789.12,
            "history": [1200.0, 1150.0, 1100.0, 1050.0, 1000.0],
        },
        {"strike": 15100.0, "gamma_now": 987.65, "vanna": 654.32},
    ],
    "max_change": {"1h": 0.05, "24h": 0.12},
    "max_priors": [14800.0, 14900.0, 15000.0],
}


def _load(data_dir: Path) -> duckdb.DuckDBPyConnection:
    sealed = data_dir / "staging" / "gex" / "sealed"
    deadline = time.monotonic() + 10
    while not list(sealed.glob("*.jsonl")) and time.monotonic() < deadline:
        time.sleep(0.01)
    con = duckdb.connect()
    migrate(con)
    paths = sorted(sealed.glob("*.jsonl"))
    load_segments(con, [Segment(int(p.name[:20]), p) for p in paths])
    return con


def test_contract_snapshot_is_accepted_and_stored_typed(
    ingest_client: Callable, data_dir: Path
) -> None:
    # before: 422 {"field": "max_change.1h", "message": "must be a [strike, value] pair"}
    answer = ingest_client(GEX_INGEST_SEAL_AGE_MS="1").post("/gex", json=CONTRACT_SNAPSHOT)
    assert answer.status_code == 202, answer.text
    con = _load(data_dir)
    row = con.execute(
        "SELECT timestamp, spot, zero_gamma, sum_gex_vol, sum_gex_oi, delta_risk_reversal,"
        " max_priors, max_change::VARCHAR, extra, strike_count FROM gex_snapshots"
    ).fetchall()
    assert row == [
        (
            1_640_995_200_000,
            15000.0,
            123456.78,
            987654.32,
            567890.12,
            0.15,
            [[14800.0, None], [14900.0, None], [15000.0, None]],
            '{"1h":0.05,"24h":0.12}',
            None,
            2,
        )
    ]
    assert con.execute(
        "SELECT strike, gamma, oi_gamma, priors FROM gex_strikes ORDER BY strike"
    ).fetchall() == [
        (15000.0, 1234.56, 789.12, [1200.0, 1150.0, 1100.0, 1050.0, 1000.0]),
        (15100.0, 987.65, 654.32, None),
    ]


def test_max_priors_as_a_json_string_is_stored_typed(
    ingest_client: Callable, data_dir: Path
) -> None:
    body = {"ticker": "SPX", "timestamp": 1763130600, "spot": 1.0, "max_priors": "[[6740, 12.5]]"}
    assert ingest_client(GEX_INGEST_SEAL_AGE_MS="1").post("/gex", json=body).status_code == 202
    con = _load(data_dir)
    assert con.execute("SELECT max_priors FROM gex_snapshots").fetchall() == [([[6740.0, 12.5]],)]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"ticker": "NQ_NDX"}, "body"),  # no market data at all
        ({**CONTRACT_SNAPSHOT, "ticker": ""}, "ticker"),
        ({**CONTRACT_SNAPSHOT, "timestamp": "invalid-datetime"}, "timestamp"),
        ({**CONTRACT_SNAPSHOT, "max_change": {"1h": [1, 2, 3]}}, "max_change.1h"),
    ],
)
def test_what_is_really_unusable_is_refused_naming_the_field(
    ingest_client: Callable, staged: Callable, body: dict, field: str
) -> None:
    answer = ingest_client().post("/gex", content=json.dumps(body))
    assert (answer.status_code, answer.json()["detail"]["field"]) == (422, field)
    assert staged("gex") == []
