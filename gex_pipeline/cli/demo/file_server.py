"""A throw-away HTTP file server on 127.0.0.1 that serves one directory (demo history downloads)."""

from __future__ import annotations

import functools
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any


class _QuietHandler(SimpleHTTPRequestHandler):
    """Serves files without logging each request to stderr; counts successful downloads."""

    def log_message(self, format: str, *args: Any) -> None:
        return

    def do_GET(self) -> None:
        super().do_GET()
        server = self.server
        if isinstance(server, LocalFileServer.Server):
            with server.lock:
                server.requests.append(self.path)


class LocalFileServer:
    """Serve `directory` over plain http on 127.0.0.1:`port` (0 = a free port) in a thread.

    Use as a context manager; `url_for(name)` is the download URL of a file in the directory.
    """

    class Server(ThreadingHTTPServer):
        """The HTTP server, remembering the paths it was asked for."""

        daemon_threads = True

        def __init__(self, address: tuple[str, int], handler: Any) -> None:
            super().__init__(address, handler)
            self.lock = threading.Lock()
            self.requests: list[str] = []

    def __init__(self, directory: Path, port: int = 0) -> None:
        handler = functools.partial(_QuietHandler, directory=str(directory))
        self._server = self.Server(("127.0.0.1", port), handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def port(self) -> int:
        """The bound port."""
        return int(self._server.server_address[1])

    @property
    def requests(self) -> list[str]:
        """Paths requested with GET so far."""
        with self._server.lock:
            return list(self._server.requests)

    def url_for(self, name: str) -> str:
        """`http://127.0.0.1:<port>/<name>`."""
        return f"http://127.0.0.1:{self.port}/{name}"

    def __enter__(self) -> LocalFileServer:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
