"""LAN mode in one switch: userscripts on the network can post without a token, the origin
allow-list still protects the API from other web pages, the start says what is exposed, and the
refusals without it say which setting to change."""

from __future__ import annotations

import socket
from collections.abc import Callable

import httpx
import pytest

from gex_pipeline.cli.main import COMMANDS, _child_env, main
from gex_pipeline.settings import Settings
from gex_pipeline_tests.support.servers import IngestServer
from ingest_api.server import UnsafeBind, check_bind

PAGE = "https://unusualwhales.com"
STATE = [None, None, "market_agg_socket", "market-state", {"data": {"call_premium": "1"}}]


def test_lan_mode_binds_every_interface_unless_a_host_is_given() -> None:
    assert Settings.from_env({"GEX_INGEST_LAN": "1"}).api.host == "0.0.0.0"
    named = Settings.from_env({"GEX_INGEST_LAN": "1", "GEX_INGEST_HOST": "192.168.1.20"}).api
    assert (named.host, named.lan) == ("192.168.1.20", True)
    assert Settings.from_env({}).api.host == "127.0.0.1"


def test_lan_mode_may_bind_the_network_without_a_token() -> None:
    check_bind(Settings.from_env({"GEX_INGEST_LAN": "1"}).api)
    with pytest.raises(UnsafeBind, match="GEX_INGEST_LAN=1"):
        check_bind(Settings.from_env({"GEX_INGEST_HOST": "0.0.0.0"}).api)


def test_up_lan_runs_the_stack_in_lan_mode(monkeypatch: pytest.MonkeyPatch, data_dir) -> None:
    started: list[Settings] = []
    monkeypatch.setitem(COMMANDS, "up", lambda _args, s: started.append(s) or 0)
    assert main(["up", "--lan"]) == 0
    [settings] = started
    assert (settings.api.lan, settings.api.host) == (True, "0.0.0.0")
    assert _child_env(settings)["GEX_INGEST_LAN"] == "1"  # the `serve` child's setting


def _post(server: IngestServer, host: str, **headers: str) -> httpx.Response:
    return httpx.post(
        f"{server.base_url}/uw", json=STATE, headers={"Host": f"{host}:{server.port}", **headers}
    )


def test_lan_server_admits_lan_names_and_prints_what_it_exposes(ingest_server: Callable) -> None:
    # bound to loopback here (tests never listen on the network); the Host header is what a LAN
    # client would send
    server = ingest_server(GEX_INGEST_LAN="1", GEX_INGEST_HOST="127.0.0.1")
    local_name = f"{socket.gethostname().lower()}.local"
    assert _post(server, "192.168.1.20").status_code == 202
    assert _post(server, local_name).status_code == 202
    browser = _post(server, "192.168.1.20", Origin=PAGE)
    assert (browser.status_code, browser.headers["access-control-allow-origin"]) == (202, PAGE)
    other_page = _post(server, "192.168.1.20", Origin="https://evil.example")
    assert (other_page.status_code, other_page.json()["detail"]["field"]) == (403, "origin")
    rebound = _post(server, "evil.example", Origin=PAGE)
    assert rebound.status_code == 421
    assert "GEX_INGEST_ALLOWED_HOSTS" in rebound.json()["detail"]["message"]
    log = server.log()
    assert "LAN mode (GEX_INGEST_LAN=1): the ingest API listens on 127.0.0.1:" in log
    assert f"http://{local_name}:{server.port}/uw" in log
    assert "web pages allowed to post (GEX_INGEST_CORS_ORIGINS): https://gexbot.com" in log
    assert "no token: any program on this network can post" in log


def test_without_lan_mode_a_lan_address_is_refused_naming_the_switch(
    ingest_server: Callable,
) -> None:
    answer = _post(ingest_server(), "192.168.1.20", Origin=PAGE)
    assert answer.status_code == 421
    assert answer.headers["access-control-allow-origin"] == PAGE
    assert "GEX_INGEST_LAN=1" in answer.json()["detail"]["message"]
