"""Downloads over real TLS: the connection goes to the checked IP and still verifies the host name."""

from __future__ import annotations

import ssl
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from gex_pipeline.lib.history.download import DownloadError, download_day_file
from gex_pipeline.lib.history.url_policy import UrlPolicy
from gex_pipeline.settings import DownloadLimits
from gex_pipeline_tests.support.certificates import self_signed

BODY = b'[{"timestamp": 1763130600, "strikes": []}]'


class _Handler(BaseHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        return

    def do_GET(self) -> None:
        self.server.hosts.append(self.headers.get("Host"))  # type: ignore[attr-defined]
        self.send_response(200)
        self.send_header("Content-Length", str(len(BODY)))
        self.end_headers()
        self.wfile.write(BODY)


@pytest.fixture
def tls_server(tmp_path: Path) -> Iterator[tuple[ThreadingHTTPServer, Path]]:
    cert, key = self_signed(["localhost"], tmp_path)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.hosts = []  # type: ignore[attr-defined]
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server, cert
    finally:
        server.shutdown()
        server.server_close()


def _policy(port: int) -> UrlPolicy:
    return UrlPolicy(allowed_hosts=(f"localhost:{port}",), allow_private=True)


def test_https_download_to_the_pinned_ip_verifies_the_host_name(tls_server, tmp_path):
    server, cert = tls_server
    port = server.server_address[1]
    trust = ssl.create_default_context(cafile=str(cert))
    result = download_day_file(
        f"https://localhost:{port}/d.json?sig=x",
        tmp_path / "d.json",
        _policy(port),
        DownloadLimits(),
        verify=trust,
    )
    assert result.path.read_bytes() == BODY
    assert server.hosts == [f"localhost:{port}"]


def test_https_download_with_an_untrusted_certificate_fails_without_retrying(tls_server, tmp_path):
    server, _ = tls_server
    port = server.server_address[1]
    sleeps: list[float] = []
    with pytest.raises(DownloadError) as info:
        download_day_file(
            f"https://localhost:{port}/d.json?sig=x",
            tmp_path / "d.json",
            _policy(port),
            DownloadLimits(retries=3),
            sleep=sleeps.append,
        )
    assert info.value.kind == "http_error"
    assert "certificate" in info.value.message
    assert sleeps == []
    assert not (tmp_path / "d.json").exists()
