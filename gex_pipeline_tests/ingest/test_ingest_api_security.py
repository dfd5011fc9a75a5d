"""Shared-secret auth, CORS and the non-loopback bind guard."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from gex_pipeline.settings import ApiSettings, Settings
from ingest_api.server import UnsafeBind, check_bind

SNAPSHOT = {"ticker": "SPX", "timestamp": 1763130600, "spot": 6734.25}
TOKEN = "s3cret-token-of-24-chars"


def test_wrong_token_is_401_and_stages_nothing(ingest_client: Callable, staged: Callable) -> None:
    client = ingest_client(GEX_INGEST_TOKEN=TOKEN)
    answer = client.post("/gex", json=SNAPSHOT, headers={"Authorization": "Bearer nope"})
    assert answer.status_code == 401
    assert answer.json()["detail"]["field"] == "token"
    assert staged("gex") == []


def test_missing_token_is_401(ingest_client: Callable) -> None:
    client = ingest_client(GEX_INGEST_TOKEN=TOKEN)
    assert client.post("/uw", json=[None, None, "x", "new_msg", {}]).status_code == 401


def test_bearer_token_is_accepted(ingest_client: Callable) -> None:
    client = ingest_client(GEX_INGEST_TOKEN=TOKEN)
    headers = {"Authorization": f"Bearer {TOKEN}"}
    assert client.post("/gex", json=SNAPSHOT, headers=headers).status_code == 202


def test_api_key_header_is_accepted(ingest_client: Callable) -> None:
    client = ingest_client(GEX_INGEST_TOKEN=TOKEN)
    assert client.post("/gex", json=SNAPSHOT, headers={"X-API-Key": TOKEN}).status_code == 202


def test_token_query_parameter_is_accepted(ingest_client: Callable) -> None:
    client = ingest_client(GEX_INGEST_TOKEN=TOKEN)
    assert client.post(f"/gex?token={TOKEN}", json=SNAPSHOT).status_code == 202


def test_no_token_configured_means_no_auth(ingest_client: Callable) -> None:
    assert ingest_client().post("/gex", json=SNAPSHOT).status_code == 202


def test_health_needs_no_token(ingest_client: Callable) -> None:
    assert ingest_client(GEX_INGEST_TOKEN=TOKEN).get("/health").status_code == 200


def test_cors_preflight_from_allowed_origin_is_answered(ingest_client: Callable) -> None:
    answer = ingest_client().options(
        "/gex_history_url",
        headers={
            "Origin": "https://app.gexbot.com",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type,x-api-key",
        },
    )
    assert answer.status_code == 200
    assert answer.headers["access-control-allow-origin"] == "https://app.gexbot.com"


def test_cors_preflight_from_other_origin_is_refused(ingest_client: Callable) -> None:
    answer = ingest_client().options(
        "/gex",
        headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"},
    )
    assert answer.status_code == 400
    assert "access-control-allow-origin" not in answer.headers


@pytest.mark.parametrize("path", ["/gex", "/uw", "/gex_history_url"])
def test_post_from_a_foreign_web_page_is_403_and_stages_nothing(
    ingest_client: Callable, staged: Callable, data_dir: Path, path: str
) -> None:
    # A text/plain POST skips the CORS preflight: only the Origin check stops a foreign page.
    answer = ingest_client().post(
        path,
        content=b'{"ticker": "SPX", "timestamp": 1763130600, "spot": 1.0}',
        headers={"Origin": "https://evil.example", "Content-Type": "text/plain;charset=UTF-8"},
    )
    assert answer.status_code == 403
    assert answer.json()["detail"]["field"] == "origin"
    assert staged("gex") == [] and staged("uw") == []
    assert not list((data_dir / "staging" / "history").rglob("*.json"))


def test_post_with_origin_null_is_403(ingest_client: Callable) -> None:
    answer = ingest_client().post("/gex", json=SNAPSHOT, headers={"Origin": "null"})
    assert answer.status_code == 403


def test_post_from_an_allowed_page_is_accepted(ingest_client: Callable, staged: Callable) -> None:
    answer = ingest_client().post(
        "/gex",
        content=b'{"ticker": "SPX", "timestamp": 1763130600, "spot": 1.0}',
        headers={"Origin": "https://www.gexbot.com", "Content-Type": "text/plain"},
    )
    assert answer.status_code == 202
    assert [r["ticker"] for r in staged("gex")] == ["SPX"]


def test_star_in_the_origin_list_allows_every_page(ingest_client: Callable) -> None:
    client = ingest_client(GEX_INGEST_CORS_ORIGINS="*")
    answer = client.post("/gex", json=SNAPSHOT, headers={"Origin": "https://any.example"})
    assert answer.status_code == 202


def test_cors_origins_are_configurable(ingest_client: Callable) -> None:
    client = ingest_client(GEX_INGEST_CORS_ORIGINS="https://mine.example")
    answer = client.post("/gex", json=SNAPSHOT, headers={"Origin": "https://mine.example"})
    assert answer.headers["access-control-allow-origin"] == "https://mine.example"


def _api(**env: str) -> ApiSettings:
    return Settings.from_env(env).api


def test_non_loopback_bind_without_token_is_refused() -> None:
    with pytest.raises(UnsafeBind, match="GEX_INGEST_TOKEN"):
        check_bind(_api(GEX_INGEST_HOST="0.0.0.0"))


def test_non_loopback_bind_with_token_is_allowed() -> None:
    check_bind(_api(GEX_INGEST_HOST="0.0.0.0", GEX_INGEST_TOKEN=TOKEN))


def test_non_loopback_bind_explicitly_allowed_without_token() -> None:
    check_bind(_api(GEX_INGEST_HOST="0.0.0.0", GEX_INGEST_ALLOW_REMOTE="1"))


def test_malformed_limit_setting_names_the_variable() -> None:
    with pytest.raises(ValueError, match="GEX_INGEST_MAX_BODY_GEX"):
        _api(GEX_INGEST_MAX_BODY_GEX="lots")
