"""A real browser for end-to-end tests: headless Chromium from Debian's `chromium` package (`.ci/run`
installs it when absent), and an HTTPS server that plays the vendors' sites.

The browser maps the sites' names to the page server on 127.0.0.1 (`--host-resolver-rules`), so a
page really has the origin `https://unusualwhales.com`; the page server's certificate is
self-signed for those names (`--ignore-certificate-errors`). Pages report what they saw by POSTing
JSON to `/report` on their own origin. Nothing is skipped: a machine without Chromium fails the
test with the install command.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import ssl
import subprocess
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from gex_pipeline_tests.support.certificates import self_signed

INSTALL_HINT = "install Chromium: apt-get update && apt-get install -y chromium"
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--no-default-browser-check",
    "--ignore-certificate-errors",
)


def chromium_binary() -> str:
    """Path of Debian's Chromium; a RuntimeError with the install command when there is none."""
    found = shutil.which("chromium")
    if found is None:
        raise RuntimeError(f"Chromium not found; {INSTALL_HINT}")
    return found


class SiteServer:
    """HTTPS on 127.0.0.1 serving `pages[host]` at `/` for each site name; collects reports."""

    def __init__(self, pages: dict[str, str], folder: Path) -> None:
        owner = self
        self.pages = pages
        self.reports: dict[str, dict[str, Any]] = {}
        self._changed = threading.Condition()

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: object) -> None:
                return

            def do_GET(self) -> None:
                host = (self.headers.get("Host") or "").partition(":")[0]
                page = owner.pages.get(host) if self.path == "/" else None
                body = (page or "not found").encode()
                self.send_response(200 if page else 404)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_POST(self) -> None:
                report = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with owner._changed:
                    owner.reports[report["page"]] = report
                    owner._changed.notify_all()
                self.send_response(204)
                self.end_headers()

        cert, key = self_signed(list(pages), folder)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert, key)
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._server.socket = context.wrap_socket(self._server.socket, server_side=True)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    def resolver_rules(self) -> str:
        """`--host-resolver-rules` sending every site name's https port here."""
        return ", ".join(f"MAP {name}:443 127.0.0.1:{self.port}" for name in self.pages)

    def wait_for(self, page: str, timeout: float) -> dict[str, Any]:
        """The report of `page`, waiting up to `timeout` seconds for it."""
        with self._changed:
            if not self._changed.wait_for(lambda: page in self.reports, timeout):
                raise TimeoutError(f"page {page!r} did not report within {timeout} s")
            return self.reports[page]

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


class Chromium:
    """One headless Chromium with a new empty profile, opened on `url`; `close` kills it."""

    def __init__(self, url: str, resolver_rules: str, log_path: Path) -> None:
        self.profile = Path(tempfile.mkdtemp(prefix="gex-chromium-"))
        self.log_path = log_path
        with open(log_path, "ab") as log:
            self.proc = subprocess.Popen(
                [
                    chromium_binary(),
                    *CHROMIUM_FLAGS,
                    f"--user-data-dir={self.profile}",
                    f"--host-resolver-rules={resolver_rules}",
                    url,
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def close(self) -> None:
        """Kill the browser's process group (every Chromium process it started) and reap it."""
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=30)
        for _ in range(50):  # children of the group may still be exiting
            with contextlib.suppress(OSError):
                shutil.rmtree(self.profile)
                return
            time.sleep(0.1)
