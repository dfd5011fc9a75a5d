"""`POST /gex_history_url` and `GET /gex_history_url/{id}`: queueing, re-posts, refusals, redaction."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import httpx
from fastapi.testclient import TestClient

from gex_pipeline.lib.staging.history_store import HistoryStore

FILE = "2025-11-14_NQ_NDX_classic_gex_zero.json.gz"
BASE = f"https://nfagexbotresearch.blob.core.windows.net/hist/{FILE}"


def _beacon(sig: str) -> str:
    url = f"{BASE}?sv=2024-01-01&se=2025-11-14T22%3A00%3A00Z&sig={sig}"
    return json.dumps({"url": url, "gex_type": "gex_zero", "ticker": "NDX"})


def _post(client: TestClient, body: str) -> httpx.Response:
    return client.post(
        "/gex_history_url", content=body, headers={"Content-Type": "text/plain;charset=UTF-8"}
    )


def test_beacon_request_is_queued_with_file_name_override(
    ingest_client: Callable, data_dir: Path, secrets_dir: Path
) -> None:
    answer = _post(ingest_client(), _beacon("AAAA"))
    assert answer.status_code == 202
    body = answer.json()
    assert (body["status"], body["ticker"], body["endpoint"], body["trade_date"]) == (
        "queued",
        "NQ_NDX",
        "gex_zero",
        "2025-11-14",
    )
    assert body["overrides"] == {"ticker": "NDX"}
    assert "NQ_NDX" in body["note"]
    assert HistoryStore(data_dir, secrets_dir).list_request_ids() == [body["id"]]


def test_repost_answers_same_id_and_keeps_newest_signed_url(
    ingest_client: Callable, data_dir: Path, secrets_dir: Path
) -> None:
    client = ingest_client()
    first = _post(client, _beacon("OLDSIG")).json()
    second = _post(client, _beacon("NEWSIG")).json()
    assert second["id"] == first["id"]
    assert (first["duplicate"], second["duplicate"], second["post_count"]) == (False, True, 2)
    stored = HistoryStore(data_dir, secrets_dir).load_request(first["id"])
    assert stored is not None
    assert stored.signed_url.endswith("sig=NEWSIG")


def test_signature_never_appears_in_answers(ingest_client: Callable) -> None:
    client = ingest_client()
    queued = _post(client, _beacon("TOPSECRET"))
    status = client.get(f"/gex_history_url/{queued.json()['id']}")
    assert "TOPSECRET" not in queued.text
    assert "TOPSECRET" not in status.text
    assert status.json()["url"] == BASE


def test_url_on_unlisted_host_is_422_naming_url_and_queues_nothing(
    ingest_client: Callable, data_dir: Path, secrets_dir: Path
) -> None:
    body = json.dumps({"url": f"https://evil.example/?hist.gex.bot&sig=S3CR3T/{FILE}"})
    answer = _post(ingest_client(), body)
    assert answer.status_code == 422
    assert answer.json()["detail"]["field"] == "url"
    assert "S3CR3T" not in answer.text
    assert HistoryStore(data_dir, secrets_dir).list_request_ids() == []


def test_request_without_any_ticker_is_422(
    ingest_client: Callable, data_dir: Path, secrets_dir: Path
) -> None:
    body = json.dumps({"url": "https://hist.gex.bot/gb/some_file.json", "endpoint": "gex_zero"})
    answer = _post(ingest_client(), body)
    assert answer.status_code == 422
    assert HistoryStore(data_dir, secrets_dir).list_request_ids() == []


def test_status_is_pending_until_the_pipeline_reports(ingest_client: Callable) -> None:
    client = ingest_client()
    request_id = _post(client, _beacon("S")).json()["id"]
    assert client.get(f"/gex_history_url/{request_id}").json()["state"] == "pending"


def test_status_serves_the_pipeline_record(
    ingest_client: Callable, data_dir: Path, secrets_dir: Path
) -> None:
    client = ingest_client()
    request_id = _post(client, _beacon("S")).json()["id"]
    HistoryStore(data_dir, secrets_dir).write_status(
        request_id, "failed", now_ms=9, reason="HTTP 403: expired"
    )
    status = client.get(f"/gex_history_url/{request_id}").json()
    assert (status["state"], status["reason"]) == ("failed", "HTTP 403: expired")


def test_status_of_unknown_id_is_404(ingest_client: Callable) -> None:
    client = ingest_client()
    assert client.get(f"/gex_history_url/{'0' * 32}").status_code == 404
    assert client.get("/gex_history_url/not-an-id").status_code == 404


def test_json_request_with_body_fields_is_queued(ingest_client: Callable) -> None:
    body = {
        "url": "https://hist.gex.bot/gb-spx/2025-11-14_SPX_classic_gex_full.json",
        "endpoint": "gex_full",
        "ticker": "SPX",
        "metadata": {"source": "userscript"},
    }
    answer = ingest_client().post("/gex_history_url", json=body)
    assert answer.status_code == 202
    assert (answer.json()["ticker"], answer.json()["endpoint"]) == ("SPX", "gex_full")
    assert answer.json()["overrides"] == {}
    assert "note" not in answer.json()


def test_plain_http_url_is_refused(
    ingest_client: Callable, data_dir: Path, secrets_dir: Path
) -> None:
    body = json.dumps({"url": f"http://hist.gex.bot/gb/{FILE}"})
    answer = _post(ingest_client(), body)
    assert answer.status_code == 422
    assert answer.json()["detail"]["field"] == "url"
    assert HistoryStore(data_dir, secrets_dir).list_request_ids() == []


def test_oversized_history_body_is_413(
    ingest_client: Callable, data_dir: Path, secrets_dir: Path
) -> None:
    client = ingest_client(GEX_INGEST_MAX_BODY_HISTORY="100")
    answer = _post(client, _beacon("X" * 200))
    assert answer.status_code == 413
    assert HistoryStore(data_dir, secrets_dir).list_request_ids() == []
