"""Outside-in checks of the ingest intake: a real uvicorn server fed what real clients and attackers send.

Every request goes over TCP to `gex-pipeline serve` (httpx, or raw sockets where httpx would
normalise the request). Every refusal is checked for its status, the field it names and that it
changed no byte of the data directory; every acceptance for a staged record equal to the
normalised expectation. One server serves the module (token required, sealing by age off so that
open + sealed segments can be counted without a race); the last test forces a seal by stopping
its own server and finds exactly the acknowledged records in sealed staging.
"""

from __future__ import annotations

import contextlib
import gzip
import json
import os
import socket
import time
import zlib
from collections.abc import Callable, Iterable, Iterator
from http.client import HTTPResponse
from pathlib import Path
from typing import Any

import httpx
import pytest

from gex_pipeline.lib.staging.history_store import HistoryStore
from gex_pipeline_tests.support.servers import IngestServer, free_port

TOKEN = "tok-OUTSIDE-IN-NEVER-LOGGED"
SIG = "SIG-OUTSIDE-IN-NEVER-LOGGED"
TS_S = 1_763_130_600  # 2025-11-14T14:30:00Z
TS_MS = TS_S * 1000
NDX_FILE = "2025-11-14_NQ_NDX_classic_gex_zero.json.gz"
BLOB = "https://nfagexbotresearch.blob.core.windows.net/hist/"
UW_MAX_BATCH = 40
BODY_TIMEOUT_S = 2

SNAPSHOT: dict[str, Any] = {
    "ticker": "spx",
    "timestamp": TS_S,
    "endpoint": "gex_one",
    "spot_price": 6734.25,
    "zero_gamma": 6708.6,
    "sum_gex_vol": 0,
    "net_gex": 1712585.519,
    "min_dte": 0,
    "sec_min_dte": "1",
    "strikes": [[6700, -25.94, -8.91, [-11.9, -28.49, -55.89, -19.29, -31.29]], [6735, "132.54"]],
    "max_priors": [[6740, 170979.742]],
    "vendor_note": "kept",
}
# What SNAPSHOT must become in staging (docs/staging.md), id and received_at aside.
EXPECTED: dict[str, Any] = {
    "ticker": "SPX",
    "endpoint": "gex_one",
    "kind": "snapshot",
    "timestamp": TS_MS,
    "timestamp_source": "timestamp",
    "spot": 6734.25,
    "zero_gamma": 6708.6,
    "sum_gex_vol": 1712585.519,
    "sum_gex_oi": None,
    "major_pos_vol": None,
    "major_neg_vol": None,
    "major_pos_oi": None,
    "major_neg_oi": None,
    "min_dte": 0,
    "sec_min_dte": 1,
    "delta_risk_reversal": None,
    "max_priors": [[6740.0, 170979.742]],
    "max_change": None,
    "strikes": [
        [6700.0, -25.94, -8.91, [-11.9, -28.49, -55.89, -19.29, -31.29]],
        [6735.0, 132.54, None, None],
    ],
    "extra": {"vendor_note": "kept"},
}
TRADE = [
    None,
    None,
    "option_trades_super_algo:SPX",
    "new_msg",
    {"data": {"id": "5c7f9a1e-trade", "option_chain_id": "SPXW251114P06700000", "price": "4.10"}},
]
MARKET = [None, None, "market_agg_socket", "market-state", {"data": {"call_premium": "1.5"}}]
REPLY = [None, "12", "phoenix", "phx_reply", {"response": {}, "status": "ok"}]
HEARTBEAT = {"topic": "phoenix", "event": "heartbeat", "payload": {}}


class Intake:
    """The module's server, an authenticated client and views of its data directory."""

    def __init__(self, server: IngestServer, data_dir: Path) -> None:
        self.server = server
        self.data_dir = data_dir
        self.client = httpx.Client(
            base_url=server.base_url, headers={"X-API-Key": TOKEN}, timeout=20
        )

    def post(self, path: str, body: Any, **headers: str) -> httpx.Response:
        """POST raw bytes/str as given, anything else as JSON text."""
        content = body if isinstance(body, bytes | str) else json.dumps(body)
        return self.client.post(path, content=content, headers=headers)

    def files(self) -> dict[str, bytes]:
        """Every file under the data directory with its bytes."""
        return {
            str(path.relative_to(self.data_dir)): path.read_bytes()
            for path in sorted(self.data_dir.rglob("*"))
            if path.is_file()
        }

    def records(self, stream: str) -> list[dict[str, Any]]:
        """Every record of `stream` in sealed and open segments."""
        root = self.data_dir / "staging" / stream
        paths = sorted((root / "sealed").glob("*.jsonl")) + sorted((root / "open").glob("*.open"))
        return [json.loads(line) for path in paths for line in path.read_bytes().splitlines()]

    def record(self, stream: str, record_id: str) -> dict[str, Any]:
        """The one staged record of `stream` with `record_id`."""
        found = [r for r in self.records(stream) if r["id"] == record_id]
        assert len(found) == 1, f"{len(found)} records with id {record_id}"
        return found[0]

    @contextlib.contextmanager
    def unchanged(self) -> Iterator[None]:
        """Assert that no file of the data directory is created, removed or changed."""
        before = self.files()
        yield
        assert self.files() == before

    def refuse(self, path: str, body: Any, status: int, field: str, **headers: str) -> dict:
        """POST, expect a refusal naming `field` that stages nothing; return its detail."""
        with self.unchanged():
            answer = self.post(path, body, **headers)
        assert answer.status_code == status, answer.text
        detail = answer.json()["detail"]
        assert detail["field"] == field, detail
        return detail


@pytest.fixture(scope="module")
def intake(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Intake]:
    """One real server for the module: token required, segments never sealed by age or size,
    /uw batches of at most `UW_MAX_BATCH` messages, bodies due within `BODY_TIMEOUT_S`.
    """
    root = tmp_path_factory.mktemp("outside-in")
    data_dir = root / "data"
    data_dir.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("GEX_")}
    env.update(
        GEX_DATA_DIR=str(data_dir),
        GEX_SECRETS_DIR=str(root / "secrets"),
        GEX_INGEST_HOST="127.0.0.1",
        GEX_INGEST_PORT=str(free_port()),
        GEX_INGEST_TOKEN=TOKEN,
        GEX_INGEST_SEAL_AGE_MS=str(3_600_000),
        GEX_INGEST_SEAL_BYTES=str(2**30),
        GEX_INGEST_UW_MAX_BATCH=str(UW_MAX_BATCH),
        GEX_INGEST_BODY_TIMEOUT_S=str(BODY_TIMEOUT_S),
        PYTHONUNBUFFERED="1",
    )
    server = IngestServer(env, root / "ingest.log").start()
    intake = Intake(server, data_dir)
    try:
        yield intake
    finally:
        intake.client.close()
        server.kill()


def content(record: dict[str, Any]) -> dict[str, Any]:
    """A staged gex record without its per-request identity and its derived content hash."""
    return {k: v for k, v in record.items() if k not in ("id", "received_at", "content_hash")}


def accepted_gex(intake: Intake, body: Any, **headers: str) -> dict[str, Any]:
    """POST /gex, expect 202 and return the staged record's content."""
    answer = intake.post("/gex", body, **headers)
    assert answer.status_code == 202, answer.text
    return content(intake.record("gex", answer.json()["id"]))


def snapshot(**fields: Any) -> dict[str, Any]:
    """SNAPSHOT with `fields` replaced."""
    return {**SNAPSHOT, **fields}


# --- raw HTTP ------------------------------------------------------------------------------


def _connect(intake: Intake) -> socket.socket:
    return socket.create_connection(("127.0.0.1", intake.server.port), timeout=10)


def raw_request(
    intake: Intake, head: str, parts: Iterable[bytes] = (), pause_s: float = 0.0
) -> tuple[int, bytes]:
    """Send `head` (request line + headers, token added) then `parts`; return status and body.

    Sending stops quietly when the server has already answered and closed.
    """
    lines = head.rstrip("\r\n") + f"\r\nX-API-Key: {TOKEN}\r\nConnection: close\r\n\r\n"
    with _connect(intake) as sock:
        sock.sendall(lines.encode("latin-1"))
        for part in parts:
            if pause_s:
                time.sleep(pause_s)
            try:
                sock.sendall(part)
            except (BrokenPipeError, ConnectionResetError):
                break
        response = HTTPResponse(sock)
        response.begin()
        return response.status, response.read()


def chunked(data: bytes, size: int) -> list[bytes]:
    """`data` as HTTP/1.1 chunks of `size` bytes, with the last chunk."""
    pieces = [data[i : i + size] for i in range(0, len(data), size)]
    return [f"{len(p):x}\r\n".encode() + p + b"\r\n" for p in pieces] + [b"0\r\n\r\n"]


# --- /gex: bodies and encodings -------------------------------------------------------------


def test_flat_snapshot_is_staged_exactly_as_normalised(intake: Intake) -> None:
    assert accepted_gex(intake, SNAPSHOT) == EXPECTED


def test_utf8_bom_body_is_staged_like_the_plain_body(intake: Intake) -> None:
    assert accepted_gex(intake, b"\xef\xbb\xbf" + json.dumps(SNAPSHOT).encode()) == EXPECTED


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-32"])
def test_utf16_or_utf32_body_is_400_naming_body(intake: Intake, encoding: str) -> None:
    intake.refuse("/gex", json.dumps(SNAPSHOT).encode(encoding), 400, "body")


@pytest.mark.parametrize(
    "content_type",
    [
        "application/x-www-form-urlencoded",
        "text/plain;charset=UTF-8",
        "application/octet-stream",
        "application/json; charset=utf-16",
    ],
)
def test_any_content_type_is_parsed_as_json(intake: Intake, content_type: str) -> None:
    assert accepted_gex(intake, SNAPSHOT, **{"Content-Type": content_type}) == EXPECTED


@pytest.mark.parametrize(
    ("encoding", "compress"),
    [("gzip", gzip.compress), ("x-gzip", gzip.compress), ("deflate", zlib.compress)],
)
def test_compressed_body_is_decoded_and_staged(
    intake: Intake, encoding: str, compress: Callable[[bytes], bytes]
) -> None:
    body = compress(json.dumps(SNAPSHOT).encode())
    assert accepted_gex(intake, body, **{"Content-Encoding": encoding}) == EXPECTED


@pytest.mark.parametrize("encoding", ["br", "zstd", "gzip, gzip", "compress"])
def test_unsupported_content_encoding_is_415_naming_it(intake: Intake, encoding: str) -> None:
    body = json.dumps(SNAPSHOT).encode()
    intake.refuse("/gex", body, 415, "content-encoding", **{"Content-Encoding": encoding})


def test_compressed_body_decoding_beyond_the_limit_is_413(intake: Intake) -> None:
    bomb = gzip.compress(b" " * (3 * 2**20))  # 3 MiB of spaces in a few KiB, /gex limit 2 MiB
    intake.refuse("/gex", bomb, 413, "body", **{"Content-Encoding": "gzip"})


def test_corrupt_compressed_body_is_400_naming_body(intake: Intake) -> None:
    body = gzip.compress(json.dumps(SNAPSHOT).encode())[:-12]
    intake.refuse("/gex", body, 400, "body", **{"Content-Encoding": "gzip"})


def test_empty_body_is_400_naming_body(intake: Intake) -> None:
    intake.refuse("/gex", b"", 400, "body")


@pytest.mark.parametrize("body", ["null", "[]", '"string"', "42", "true", '"[1, 2]"'])
def test_json_that_is_not_an_object_is_422_naming_body(intake: Intake, body: str) -> None:
    intake.refuse("/gex", body, 422, "body")


def test_json_nested_thousands_deep_is_422_naming_body(intake: Intake) -> None:
    body = json.dumps(snapshot(vendor=0)).replace(
        '"vendor": 0', '"vendor": ' + "[" * 5000 + "]" * 5000
    )
    intake.refuse("/gex", body, 422, "body")


def test_unknown_field_nested_beyond_the_limit_is_422_naming_it(intake: Intake) -> None:
    body = json.dumps(snapshot(vendor=0)).replace(
        '"vendor": 0', '"vendor": ' + "[" * 100 + "]" * 100
    )
    intake.refuse("/gex", body, 422, "vendor")


@pytest.mark.parametrize(
    "literal", ["1e400", "-1e400", "1" + "0" * 400, "-1" + "0" * 5000, "NaN", "Infinity"]
)
def test_number_beyond_float_range_is_422_naming_it(intake: Intake, literal: str) -> None:
    body = json.dumps(snapshot(zero_gamma=0)).replace('"zero_gamma": 0', f'"zero_gamma": {literal}')
    intake.refuse("/gex", body, 422, "zero_gamma")


def test_negative_zero_is_staged_as_zero(intake: Intake) -> None:
    body = json.dumps(snapshot(zero_gamma=1)).replace('"zero_gamma": 1', '"zero_gamma": -0')
    assert accepted_gex(intake, body) == {**EXPECTED, "zero_gamma": 0.0}


@pytest.mark.parametrize(("text", "value"), [(" 6708.6 ", 6708.6), ("+6.7086e3", 6708.6)])
def test_numeric_string_is_staged_as_its_number(intake: Intake, text: str, value: float) -> None:
    assert accepted_gex(intake, snapshot(zero_gamma=text)) == {**EXPECTED, "zero_gamma": value}


@pytest.mark.parametrize(
    "text", ["6,708.6", "6 708.6", "0x1A34", "6_708.6", "\u0666\u0667", "NaN", "inf", "", "1e999"]
)
def test_non_numeric_string_is_422_naming_the_field(intake: Intake, text: str) -> None:
    intake.refuse("/gex", snapshot(zero_gamma=text), 422, "zero_gamma")


def test_strike_cell_that_is_not_a_number_is_422_naming_the_cell(intake: Intake) -> None:
    strikes = [[6700, 1.5], [6735, "1,5"]]
    intake.refuse("/gex", snapshot(strikes=strikes), 422, "strikes[1][1]")


def test_dte_beyond_the_integer_column_is_422_naming_it(intake: Intake) -> None:
    intake.refuse("/gex", snapshot(min_dte=1e300), 422, "min_dte")


# --- /gex: tickers, endpoints, timestamps, keys ---------------------------------------------


@pytest.mark.parametrize(
    ("sent", "staged"),
    [("spx", "SPX"), (" nq_ndx ", "NQ_NDX"), ("ABCDEFGHIJ_12345", "ABCDEFGHIJ_12345")],
)
def test_ticker_is_upper_cased_and_trimmed(intake: Intake, sent: str, staged: str) -> None:
    assert accepted_gex(intake, snapshot(ticker=sent)) == {**EXPECTED, "ticker": staged}


@pytest.mark.parametrize(
    "ticker",
    [
        "ABCDEFGHIJ_123456",  # 17 characters
        "../SPX",
        "S PX",
        "SP\u0425",  # Cyrillic Ha
        "\uff33\uff30\uff38",  # full-width SPX
        "\u00df",  # upper-cases to SS
        "\u017fPX",  # long s: upper-cases to SPX
        "SPX\u200b",
        "",
        "   ",
    ],
)
def test_ticker_that_is_not_plain_ascii_symbol_is_422_naming_ticker(
    intake: Intake, ticker: str
) -> None:
    intake.refuse("/gex", snapshot(ticker=ticker), 422, "ticker")


def test_missing_ticker_is_422_naming_ticker(intake: Intake) -> None:
    body = {k: v for k, v in SNAPSHOT.items() if k != "ticker"}
    intake.refuse("/gex", body, 422, "ticker")


def test_endpoint_outside_the_known_set_is_422_naming_endpoint(intake: Intake) -> None:
    intake.refuse("/gex", snapshot(endpoint="gex_two"), 422, "endpoint")


@pytest.mark.parametrize(
    ("sent", "ms"),
    [
        ("2025-11-15T04:30:00+14:00", TS_MS),
        ("2025-11-14T02:30:00-12:00", TS_MS),
        ("2025-11-14T20:15:00+05:45", TS_MS),
        ("2025-11-14T14:30:00.123456789Z", TS_MS + 123),
        ("2025-11-14 14:30:00Z", TS_MS),
        ("20251114T143000Z", TS_MS),
        (" 1763130600 ", TS_MS),
        (1763130600.5, TS_MS + 500),
        (TS_MS + 7, TS_MS + 7),
        (str(TS_MS), TS_MS),
        ("1763130600000000", TS_MS),  # microseconds
        (1_763_130_600_000_999_999, TS_MS),  # nanoseconds, truncated
        (99_999_999_999, None),  # largest seconds value: year 5138, refused as the future
        (100_000_000_000, None),  # smallest ms value: 1973, refused as before 2000
    ],
)
def test_timestamp_forms_are_staged_as_utc_ms_or_refused(
    intake: Intake, sent: Any, ms: int | None
) -> None:
    if ms is None:
        intake.refuse("/gex", snapshot(timestamp=sent), 422, "timestamp")
    else:
        assert accepted_gex(intake, snapshot(timestamp=sent)) == {**EXPECTED, "timestamp": ms}


@pytest.mark.parametrize(
    "sent",
    [
        "2016-12-31T23:59:60Z",  # leap second
        "2025-11-14T14:30:00",  # no offset: ambiguous
        "2025-11-14T14:30:00+24:00",
        "14/11/2025 14:30",
        True,
    ],
)
def test_unusable_timestamp_is_422_naming_timestamp(intake: Intake, sent: Any) -> None:
    intake.refuse("/gex", snapshot(timestamp=sent), 422, "timestamp")


def test_duplicate_keys_take_the_last_value_in_answer_and_staging_alike(intake: Intake) -> None:
    body = json.dumps(SNAPSHOT).replace('"ticker": "spx"', '"ticker": "spx", "ticker": "qqq"')
    answer = intake.post("/gex", body)
    assert answer.status_code == 202
    assert answer.json()["ticker"] == "QQQ"
    assert content(intake.record("gex", answer.json()["id"])) == {**EXPECTED, "ticker": "QQQ"}


def test_double_encoded_envelope_is_staged_like_the_flat_snapshot(intake: Intake) -> None:
    envelope = {"ticker": "SPX", "endpoint": "gex_one", "payload": json.dumps(SNAPSHOT)}
    assert accepted_gex(intake, json.dumps(json.dumps(envelope))) == EXPECTED


# --- transport: sizes, chunking, lying lengths, slow bodies -------------------------------


def test_chunked_body_over_the_limit_without_length_is_413(intake: Intake) -> None:
    big = json.dumps(snapshot(vendor_note="a" * (3 * 2**20))).encode()
    with intake.unchanged():
        status, body = raw_request(
            intake,
            "POST /gex HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked",
            chunked(big, 2**16),
        )
    assert status == 413
    assert json.loads(body)["detail"]["field"] == "body"


def test_declared_length_over_the_limit_is_413_before_the_body_is_read(intake: Intake) -> None:
    with intake.unchanged():
        status, body = raw_request(
            intake, "POST /uw HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 99999999999"
        )
    assert status == 413
    assert json.loads(body)["detail"]["field"] == "body"


def test_small_chunked_body_is_staged(intake: Intake) -> None:
    status, body = raw_request(
        intake,
        "POST /gex HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked",
        chunked(json.dumps(SNAPSHOT).encode(), 7),
    )
    assert status == 202
    assert content(intake.record("gex", json.loads(body)["id"])) == EXPECTED


def test_content_length_shorter_than_the_body_is_refused(intake: Intake) -> None:
    data = json.dumps(SNAPSHOT).encode()
    with intake.unchanged():
        status, body = raw_request(
            intake, "POST /gex HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 20", [data]
        )
    assert status == 400
    assert json.loads(body)["detail"]["field"] == "body"


def test_content_length_longer_than_a_body_cut_short_is_never_acknowledged(
    intake: Intake,
) -> None:
    data = json.dumps(SNAPSHOT).encode()
    head = f"POST /gex HTTP/1.1\r\nHost: 127.0.0.1\r\nX-API-Key: {TOKEN}\r\nContent-Length: {len(data) + 50}"
    with intake.unchanged(), _connect(intake) as sock:
        sock.sendall(head.encode() + b"\r\n\r\n" + data)
        sock.shutdown(socket.SHUT_WR)
        answer = b""
        while chunk := sock.recv(4096):
            answer += chunk
    assert not answer.startswith(b"HTTP/1.1 2"), answer


def test_client_hanging_up_mid_body_is_not_logged_as_a_server_error(intake: Intake) -> None:
    data = json.dumps(SNAPSHOT).encode()
    head = f"POST /uw HTTP/1.1\r\nHost: 127.0.0.1\r\nX-API-Key: {TOKEN}\r\nContent-Length: {len(data) + 9}"
    with _connect(intake) as sock:
        sock.sendall(head.encode() + b"\r\n\r\n" + data)
        sock.shutdown(socket.SHUT_WR)
        while sock.recv(4096):
            pass
    assert intake.client.get("/health").status_code == 200
    time.sleep(0.2)  # let the log line of the abandoned request reach the file
    log = intake.server.log()
    assert "Exception in ASGI application" not in log
    assert "Traceback" not in log


def test_body_that_stalls_is_408_naming_body_and_stages_nothing(intake: Intake) -> None:
    data = json.dumps(SNAPSHOT).encode()
    with intake.unchanged():
        status, body = raw_request(
            intake,
            f"POST /gex HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: {len(data)}",
            [data[:-5]],  # the rest never comes: the server must give up after BODY_TIMEOUT_S
        )
    assert status == 408
    assert json.loads(body)["detail"]["field"] == "body"


def test_slow_body_is_staged_once_complete(intake: Intake) -> None:
    data = json.dumps(SNAPSHOT).encode()
    parts = [data[i : i + 40] for i in range(0, len(data), 40)][:12]
    parts.append(data[40 * 12 :])
    status, body = raw_request(
        intake, f"POST /gex HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: {len(data)}", parts, 0.05
    )
    assert status == 202
    assert content(intake.record("gex", json.loads(body)["id"])) == EXPECTED


# --- methods, paths, auth ----------------------------------------------------------------


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE", "PATCH"])
@pytest.mark.parametrize("path", ["/gex", "/uw", "/gex_history_url"])
def test_wrong_method_is_405_and_stages_nothing(intake: Intake, method: str, path: str) -> None:
    with intake.unchanged():
        answer = intake.client.request(method, path, content=json.dumps(SNAPSHOT))
    assert answer.status_code == 405


@pytest.mark.parametrize("path", ["/gexx", "/GEX", "/api/gex", "/uw/extra", "/gex_history_url/x/y"])
def test_unknown_path_is_404_and_stages_nothing(intake: Intake, path: str) -> None:
    with intake.unchanged():
        answer = intake.client.post(path, content=json.dumps(SNAPSHOT))
    assert answer.status_code == 404


@pytest.mark.parametrize(
    "auth",
    [
        {"params": {"token": "wrong"}},
        {"params": {"token": TOKEN[:-1]}},
        {"headers": {"Authorization": f"Basic {TOKEN}"}},
        {"headers": {"Authorization": "Bearer"}},
        {"headers": {"X-API-Key": ""}},
        {},
    ],
)
def test_missing_or_wrong_token_is_401_and_stages_nothing(
    intake: Intake, auth: dict[str, Any]
) -> None:
    with intake.unchanged(), httpx.Client(base_url=intake.server.base_url, timeout=20) as bare:
        answer = bare.post("/gex", content=json.dumps(SNAPSHOT), **auth)
    assert answer.status_code == 401
    assert answer.json()["detail"]["field"] == "token"


def test_token_in_the_query_string_is_accepted(intake: Intake) -> None:
    with httpx.Client(base_url=intake.server.base_url, timeout=20) as bare:
        answer = bare.post("/gex", params={"token": TOKEN}, content=json.dumps(SNAPSHOT))
    assert answer.status_code == 202
    assert content(intake.record("gex", answer.json()["id"])) == EXPECTED


# --- /uw ---------------------------------------------------------------------------------


def test_uw_batch_mixing_control_frames_and_data_stages_only_the_data(intake: Intake) -> None:
    answer = intake.post("/uw", [REPLY, TRADE, HEARTBEAT, MARKET])
    assert answer.status_code == 202
    body = answer.json()
    assert (body["received"], body["ignored"]) == (2, 2)
    staged = [intake.record("uw", record_id) for record_id in body["ids"]]
    assert [(r["form"], r["channel"], r["event"], r["payload"]) for r in staged] == [
        ("phoenix", TRADE[2], TRADE[3], TRADE[4]),
        ("phoenix", MARKET[2], MARKET[3], MARKET[4]),
    ]
    assert staged[0]["id"] == "5c7f9a1e-trade"


def test_uw_batch_of_control_frames_only_is_200_and_stages_nothing(intake: Intake) -> None:
    with intake.unchanged():
        answer = intake.post("/uw", [REPLY, HEARTBEAT])
    assert answer.status_code == 200
    assert answer.json()["status"] == "ignored"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ([TRADE, MARKET, [None, None, "", "new_msg", {}]], "[2][2]"),
        ([TRADE, {"event": "new_msg", "payload": {}}], "[1].topic"),
        ([TRADE, [1.5, None, "x", "new_msg", {}]], "[1][0]"),
        ([TRADE, None], "[1]"),
        ([None, None, 5, "phx_reply", {}], "[2]"),
        ([None, None, "x", "new_msg"], "body"),
        ([], "body"),
        ("null", "body"),
    ],
)
def test_uw_bad_message_alone_or_in_a_batch_is_422_naming_it_and_stages_nothing(
    intake: Intake, body: Any, field: str
) -> None:
    intake.refuse("/uw", body, 422, field)


def test_uw_batch_over_the_configured_limit_is_422_naming_body(intake: Intake) -> None:
    intake.refuse("/uw", [MARKET] * (UW_MAX_BATCH + 1), 422, "body")


def test_uw_batch_at_the_configured_limit_is_staged_whole(intake: Intake) -> None:
    before = len(intake.records("uw"))
    answer = intake.post("/uw", [MARKET] * UW_MAX_BATCH)
    assert answer.status_code == 202
    assert answer.json()["received"] == UW_MAX_BATCH
    assert len(intake.records("uw")) == before + UW_MAX_BATCH


def test_uw_number_beyond_float_range_is_422_naming_its_path(intake: Intake) -> None:
    body = '[null, null, "x", "new_msg", {"data": {"size": 1' + "0" * 5000 + "}}]"
    intake.refuse("/uw", body, 422, "[4].data.size")


def test_uw_invalid_json_is_400_naming_body(intake: Intake) -> None:
    intake.refuse("/uw", '[null, null, "x", "new_msg", {"a": 1}', 400, "body")


# --- /gex_history_url ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        f"https://user:{SIG}@hist.gex.bot/x/{NDX_FILE}",
        f"https://hist.gex.bot@evil.example/x/{NDX_FILE}",
        f"https://1.2.3.4/x/{NDX_FILE}",
        f"https://16909060/x/{NDX_FILE}",
        f"https://0x7f.1/x/{NDX_FILE}",
        f"https://[::ffff:127.0.0.1]/x/{NDX_FILE}",
        f"https://hist.gex.bot:8443/x/{NDX_FILE}?sig={SIG}",
        f"https://hist.gex.bot\\@evil.example/x/{NDX_FILE}",
        f"https://evil.example\\hist.gex.bot/{NDX_FILE}",
        f"https://hist.gex.bot/x/%2e%2e/{NDX_FILE}",
        f"https://hist.gex.bot/x/../{NDX_FILE}",
        f"https://evil.example#@hist.gex.bot/{NDX_FILE}",
        f"https://evil.example/?hist.gex.bot/{NDX_FILE}&sig={SIG}",
        f"https://hist.g\u0435x.bot/x/{NDX_FILE}",  # Cyrillic e
        f"https://hist.xn--gx-hmc.bot/x/{NDX_FILE}",
        f"https:/hist.gex.bot/x/{NDX_FILE}",
        f"http://hist.gex.bot/x/{NDX_FILE}",
        f"https://hist.gex.bot/x/..%2F..%2F{NDX_FILE}",
        f"https://hist.gex.bot/x/%FF{NDX_FILE}",
        f"https://evilhist.gex.bot/x/{NDX_FILE}",
        f"https://hist.gex.bot.evil.example/x/{NDX_FILE}",
    ],
)
def test_hostile_history_url_is_422_naming_url_and_queues_nothing(intake: Intake, url: str) -> None:
    detail = intake.refuse("/gex_history_url", {"url": url}, 422, "url")
    assert SIG not in json.dumps(detail)


def test_upper_case_host_with_trailing_dot_is_the_same_file(intake: Intake) -> None:
    name = "2025-11-13_SPX_classic_gex_full.json"
    first = intake.post("/gex_history_url", {"url": f"https://hist.gex.bot/gb/{name}"})
    second = intake.post("/gex_history_url", {"url": f"HTTPS://HIST.GEX.BOT./gb/{name}"})
    assert (first.status_code, second.status_code) == (202, 202)
    assert second.json()["id"] == first.json()["id"]
    assert (second.json()["duplicate"], second.json()["post_count"]) == (True, 2)


def test_repost_with_a_new_signature_keeps_one_request_with_the_newest_url(
    intake: Intake,
) -> None:
    name = "2025-11-12_NQ_NDX_classic_gex_zero.json.gz"

    def beacon(sig: str) -> httpx.Response:
        url = f"{BLOB}{name}?sv=2024-01-01&sig={sig}"
        body = json.dumps({"url": url, "gex_type": "gex_zero", "ticker": "NDX"})
        return intake.post("/gex_history_url", body, **{"Content-Type": "text/plain;charset=UTF-8"})

    first, second = beacon(f"{SIG}-OLD"), beacon(f"{SIG}-NEW")
    assert (first.status_code, second.status_code) == (202, 202)
    request_id = first.json()["id"]
    assert second.json()["id"] == request_id
    status = intake.client.get(f"/gex_history_url/{request_id}")
    assert status.json()["url"] == f"{BLOB}{name}"
    assert all(SIG not in a.text for a in (first, second, status))
    assert all(SIG.encode() not in data for data in intake.files().values())
    secrets_dir = intake.data_dir.parent / "secrets"
    stored = HistoryStore(intake.data_dir, secrets_dir).load_request(request_id)
    assert stored is not None
    assert stored.signed_url.endswith(f"sig={SIG}-NEW")


def test_history_beacon_with_ticker_from_the_file_name_says_so(intake: Intake) -> None:
    url = f"{BLOB}{NDX_FILE}?sv=1&sig={SIG}"
    answer = intake.post("/gex_history_url", {"url": url, "ticker": "NDX"})
    assert answer.status_code == 202
    assert (answer.json()["ticker"], answer.json()["overrides"]) == ("NQ_NDX", {"ticker": "NDX"})


def test_history_url_without_any_ticker_is_422_naming_ticker(intake: Intake) -> None:
    body = {"url": "https://hist.gex.bot/gb/export.json", "endpoint": "gex_zero"}
    intake.refuse("/gex_history_url", body, 422, "ticker")


# --- logs ------------------------------------------------------------------------------------


def test_server_log_never_shows_the_token_or_a_signature(intake: Intake) -> None:
    with httpx.Client(base_url=intake.server.base_url, timeout=20) as bare:
        q = {"token": TOKEN}
        bare.post("/gex", params=q, content=json.dumps(SNAPSHOT))
        bare.post("/gex", params=q, content="{")
        bare.post("/gex", params={"token": f"{TOKEN}-wrong"}, content=json.dumps(SNAPSHOT))
        bare.post("/nowhere", params=q, content="{}")
        bare.get("/gex", params=q)
        url = f"{BLOB}{NDX_FILE}?sv=1&sig={SIG}"
        bare.post("/gex_history_url", params=q, json={"url": url})
        bare.post("/gex_history_url", params=q, json={"url": url.replace(".net/", ".net:8443/")})
        bare.post("/gex_history_url", params=q, json={"url": url, "ticker": "\u00df"})
    log = intake.server.log()
    assert "refused POST /gex" in log
    assert TOKEN not in log
    assert SIG not in log
    assert "sig=" not in log


# --- forced seal ----------------------------------------------------------------------------


def test_after_a_forced_seal_exactly_the_acknowledged_records_are_sealed(
    ingest_server: Callable[..., IngestServer], data_dir: Path
) -> None:
    server = ingest_server(GEX_INGEST_SEAL_AGE_MS="100")
    acked: dict[str, list[str]] = {"gex": [], "uw": []}
    with httpx.Client(base_url=server.base_url, timeout=20) as client:
        for n in range(6):
            good = client.post("/gex", json=snapshot(timestamp=TS_S + n))
            bad = client.post("/gex", json=snapshot(timestamp=TS_S + n, ticker="\u00df"))
            assert (good.status_code, bad.status_code) == (202, 422)
            acked["gex"].append(good.json()["id"])
            uw = client.post("/uw", json=[REPLY, TRADE, MARKET])
            assert uw.status_code == 202
            acked["uw"].extend(uw.json()["ids"])
            assert client.post("/uw", json=[MARKET, [None]]).status_code == 422
            time.sleep(0.05)
    assert server.stop()
    for stream in ("gex", "uw"):
        root = data_dir / "staging" / stream
        assert list((root / "open").iterdir()) == []
        lines = [
            json.loads(line)
            for path in sorted((root / "sealed").glob("*.jsonl"))
            for line in path.read_bytes().splitlines()
        ]
        assert sorted(r["id"] for r in lines) == sorted(acked[stream])
    gex = [
        json.loads(line)
        for path in sorted((data_dir / "staging" / "gex" / "sealed").glob("*.jsonl"))
        for line in path.read_bytes().splitlines()
    ]
    assert sorted(r["timestamp"] for r in gex) == [TS_MS + 1000 * n for n in range(6)]
    assert all(content(r) == {**EXPECTED, "timestamp": r["timestamp"]} for r in gex)
