"""`gex-pipeline demo run`: push a short live stream, a few UW messages and one history import
through a running stack, so a newcomer sees data flow end to end."""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from gex_pipeline.cli.demo.file_server import LocalFileServer
from gex_pipeline.cli.demo.history_day import make_day_file
from gex_pipeline.cli.demo.live import LiveFeed, envelope_payload, flat_payload
from gex_pipeline.cli.demo.uw import MESSAGE_KINDS, UwStream
from gex_pipeline.lib.calendar.sessions import SESSIONS_START, last_calendar_day, previous_session

LIVE_FEEDS: tuple[tuple[str, str], ...] = (("SPX", "gex_zero"), ("NQ_NDX", "gex_zero"))
HISTORY_FEED: tuple[str, str] = ("NQ_NDX", "gex_zero")
HISTORY_SNAPSHOTS = 300
FINAL_STATES = ("done", "failed")
Say = Callable[[str], None]


@dataclass
class Tally:
    """Answers of the API to a series of posts."""

    accepted: int = 0
    ignored: int = 0
    refused: int = 0
    refusals: list[str] = field(default_factory=list)

    def count(self, response: httpx.Response) -> None:
        """Count one answer: 202 accepted, 200 acknowledged and dropped, anything else refused."""
        if response.status_code == 202:
            self.accepted += 1
        elif response.status_code == 200:
            self.ignored += 1
        else:
            self.refused += 1
            if len(self.refusals) < 3:
                self.refusals.append(describe_refusal(response))


@dataclass
class HistoryOutcome:
    """What became of the demo history request."""

    file_name: str
    url: str
    request_id: str | None = None
    state: str | None = None
    rows: dict[str, Any] | None = None
    reason: str | None = None
    refusal: str | None = None
    downloads: int = 0


def describe_refusal(response: httpx.Response) -> str:
    """`<status> <field>: <message>` from the API's error body (or its raw text)."""
    try:
        detail = response.json().get("detail")
    except ValueError:
        detail = None
    if isinstance(detail, dict):
        return f"{response.status_code} {detail.get('field')}: {detail.get('message')}"
    return f"{response.status_code} {response.text[:200]}"


def history_env_hint(port: int) -> str:
    """The settings under which the API accepts the demo's local http download URL."""
    return (
        "GEX_HISTORY_ALLOW_HTTP=1 GEX_HISTORY_ALLOW_PRIVATE=1 "
        f"GEX_HISTORY_ALLOWED_HOSTS=127.0.0.1:{port}"
    )


def _post_json(client: httpx.Client, path: str, body: object) -> httpx.Response:
    content = json.dumps(body, separators=(",", ":")).encode()
    return client.post(path, content=content, headers={"Content-Type": "application/json"})


def post_live_stream(
    client: httpx.Client,
    seconds: int,
    seed: int,
    say: Say,
) -> Tally:
    """Post 1 Hz snapshots of two feeds for `seconds` (first feed flat, second as envelope)."""
    start = int(time.time())
    feeds = [LiveFeed(t, e, seed, start) for t, e in LIVE_FEEDS]
    tally = Tally()
    say(f"live: {len(feeds)} feeds at 1 Hz for {seconds} s -> POST /gex")
    began = time.monotonic()
    for second in range(seconds):
        for i, feed in enumerate(feeds):
            snap = feed.next_snapshot()
            if i == 0:
                body = flat_payload(snap, feed.endpoint, time_format="ms")
            else:
                body = envelope_payload(snap, feed.endpoint)
            tally.count(_post_json(client, "/gex", body))
        time.sleep(max(0.0, began + second + 1 - time.monotonic()))
    return tally


def post_uw_messages(client: httpx.Client, seed: int, say: Say) -> Tally:
    """Post one UW message of each kind (trades, market state, control frames) -> POST /uw."""
    tally = Tally()
    say(f"uw: {len(MESSAGE_KINDS)} messages ({', '.join(MESSAGE_KINDS)}) -> POST /uw")
    for message in UwStream(seed, time.time()).messages(len(MESSAGE_KINDS)):
        tally.count(_post_json(client, "/uw", message))
    return tally


def history_trade_date(today: dt.date) -> dt.date:
    """The session before `today` (New York): the day of the demo's history file.

    Raises ValueError (field `history date`) when the trading calendar holds no session in the two
    weeks before `today`, i.e. `today` is outside the range the calendar covers.
    """
    previous = previous_session(today)
    if previous is None:
        raise ValueError(
            f"history date: no NYSE session in the two weeks before {today}; the trading "
            f"calendar covers {SESSIONS_START} to {last_calendar_day()}"
        )
    return previous.day


def run_history_import(
    client: httpx.Client,
    work_dir: Path,
    trade_date: dt.date,
    port: int,
    timeout: float,
    seed: int,
    say: Say,
) -> HistoryOutcome:
    """Serve a small generated day file of `trade_date` on 127.0.0.1:`port`, post its URL to
    `/gex_history_url` and keep serving until the request is done or failed, or `timeout` seconds
    have passed."""
    ticker, endpoint = HISTORY_FEED
    day = make_day_file(
        work_dir, trade_date, ticker, endpoint, seed=seed, snapshots=HISTORY_SNAPSHOTS
    )
    with LocalFileServer(work_dir, port) as server:
        outcome = HistoryOutcome(file_name=day.path.name, url=server.url_for(day.path.name))
        say(f"history: serving {outcome.url} -> POST /gex_history_url")
        answer = _post_json(
            client, "/gex_history_url", {"url": outcome.url, "ticker": ticker, "endpoint": endpoint}
        )
        if answer.status_code != 202:
            outcome.refusal = describe_refusal(answer)
            return outcome
        outcome.request_id = str(answer.json()["id"])
        deadline = time.monotonic() + timeout
        while True:
            status = client.get(f"/gex_history_url/{outcome.request_id}")
            if status.status_code == 200:
                body = status.json()
                outcome.state, outcome.rows = body.get("state"), body.get("rows")
                outcome.reason = body.get("reason")
            if outcome.state in FINAL_STATES or time.monotonic() >= deadline:
                break
            time.sleep(1.0)
        outcome.downloads = len(server.requests)
    return outcome
