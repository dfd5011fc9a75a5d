"""`/health`, `/ready`, `/metrics` and the OpenAPI docs."""

from __future__ import annotations

from collections.abc import Callable

from gex_pipeline_tests.support.metrics import sample

SNAPSHOT = {"ticker": "SPX", "timestamp": 1763130600, "spot": 6734.25}


def test_health_names_the_service(ingest_client: Callable) -> None:
    answer = ingest_client().get("/health")
    assert answer.status_code == 200
    assert answer.json()["service"] == "gex-pipeline"


def test_ready_when_staging_is_writable(ingest_client: Callable) -> None:
    answer = ingest_client(GEX_INGEST_MIN_FREE_MB="0").get("/ready")
    assert answer.status_code == 200
    assert answer.json()["status"] == "ready"


def test_not_ready_when_free_disk_is_below_threshold(ingest_client: Callable) -> None:
    answer = ingest_client(GEX_INGEST_MIN_FREE_MB=str(2**40)).get("/ready")
    assert answer.status_code == 503
    assert "free disk" in answer.json()["problems"][0]


def test_metrics_count_accepted_and_rejected_requests(ingest_client: Callable) -> None:
    client = ingest_client()
    client.post("/gex", json=SNAPSHOT)
    client.post("/gex", content=b"{")
    text = client.get("/metrics").text
    assert sample(text, "gex_ingest_accepted_total", endpoint="/gex") == 1
    assert sample(text, "gex_ingest_rejected_total", endpoint="/gex", reason="invalid_json") == 1
    assert sample(text, "gex_ingest_ack_seconds_count", endpoint="/gex") == 1
    assert sample(text, "gex_staging_segments", stream="gex", state="open") == 1
    assert sample(text, "gex_ingest_records_total", endpoint="/gex") == 1


def test_metrics_count_staged_bytes(ingest_client: Callable, data_dir) -> None:
    client = ingest_client()
    client.post("/gex", json=SNAPSHOT)
    staged_bytes = sum(p.stat().st_size for p in (data_dir / "staging" / "gex").rglob("*.open"))
    text = client.get("/metrics").text
    assert sample(text, "gex_ingest_staged_bytes_total", stream="gex") == staged_bytes


def test_openapi_documents_every_endpoint(ingest_client: Callable) -> None:
    paths = ingest_client().get("/openapi.json").json()["paths"]
    assert {"/gex", "/uw", "/gex_history_url", "/gex_history_url/{request_id}"} <= set(paths)
    assert "422" in paths["/gex"]["post"]["responses"]
