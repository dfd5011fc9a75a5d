"""Downloads over real TLS: the connection goes to the checked IP and still verifies the host name."""

from __future__ import annotations

import datetime as dt
import ssl
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from gex_pipeline.lib.history.download import DownloadError, download_day_file
from gex_pipeline.lib.history.url_policy import UrlPolicy
from gex_pipeline.settings import DownloadLimits

BODY = b'[{"timestamp": 1763130600, "strikes": []}]'


def _certificate(tmp_path: Path, name: str) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp_path / f"{name}.pem", tmp_path / f"{name}.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


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
    cert, key = _certificate(tmp_path, "localhost")
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
