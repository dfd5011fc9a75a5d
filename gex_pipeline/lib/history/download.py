"""Download one historical day file safely: allow-listed https hosts, checked IPs, size cap, retries.

Every hop (the first URL and each redirect) is re-checked against the URL policy and its resolved
addresses; the connection goes to the checked address (TLS still verifies the host name), so a DNS
answer that changes between check and connect cannot reach a private address. The body is streamed
into a temp file next to `dest` and renamed only when complete (length and gzip stream verified).
The signed query string never appears in errors, results or logs: only `redact_url` and a hash.
"""

from __future__ import annotations

import hashlib
import ipaddress
import logging
import os
import queue
import random
import ssl
import threading
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Literal
from urllib.parse import urljoin

import httpx

from gex_pipeline.lib.history.day_format import GZIP_MAGIC
from gex_pipeline.lib.history.url_policy import (
    METADATA_ADDRESSES,
    UrlPolicy,
    UrlRefused,
    check_url,
    redact_text,
    redact_url,
    resolve_and_check,
)
from gex_pipeline.lib.staging.durable_fs import fsync_dir
from gex_pipeline.settings import DownloadLimits

log = logging.getLogger(__name__)

DownloadErrorKind = Literal[
    "forbidden_or_expired",
    "not_found",
    "too_large",
    "refused_url",
    "http_error",
    "truncated",
    "timeout",
]

_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_CHUNK = 1 << 20
# Body chunks waiting for the gzip check's thread (at most this many x _CHUNK bytes in memory).
_QUEUED_CHUNKS = 8


class DownloadError(Exception):
    """A download that did not produce a complete file; `kind` says which failure it was."""

    def __init__(self, kind: DownloadErrorKind, message: str) -> None:
        super().__init__(message)
        self.kind: DownloadErrorKind = kind
        self.message = message

    def __str__(self) -> str:
        return f"{self.kind}: {self.message}"


class _Retryable(Exception):
    """A transient failure of one attempt (5xx, timeout, connection error, short body)."""

    def __init__(self, kind: DownloadErrorKind, message: str) -> None:
        super().__init__(message)
        self.kind: DownloadErrorKind = kind
        self.message = message


@dataclass(frozen=True)
class DownloadResult:
    """A complete day file on disk and what is safe to record about where it came from."""

    path: Path
    bytes: int
    sha256: str
    gzip: bool
    redacted_url: str
    url_hash: str


def url_hash(url: str) -> str:
    """sha256 hex of the full (signed) URL: identifies a link without revealing it."""
    return hashlib.sha256(url.encode()).hexdigest()


class _RedactQueries(logging.Filter):
    """Strip query strings from every URL in a log line (httpx's request lines, httpcore's DEBUG
    lines with response headers such as a redirect's `Location`)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = redact_text(message)
        if redacted != message:
            record.msg, record.args = redacted, None
        return True


_FILTER = _RedactQueries()
# Filters of a logger do not apply to its children's records: every logger that sees a URL.
URL_LOGGERS: tuple[str, ...] = (
    "httpx",
    "httpcore",
    "httpcore.connection",
    "httpcore.http11",
    "httpcore.http2",
    "httpcore.proxy",
    "httpcore.socks",
    __name__,
)


def _install_log_filter() -> None:
    for name in URL_LOGGERS:
        logger = logging.getLogger(name)
        if _FILTER not in logger.filters:
            logger.addFilter(_FILTER)


def _pinned_request(client: httpx.Client, url: str, policy: UrlPolicy) -> httpx.Request:
    """Check `url` (policy + resolved IPs) and build a GET that connects to a checked IP."""
    parts = check_url(url, policy)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    ips = resolve_and_check(host, port, policy)
    for ip in ips:
        _refuse_never_allowed(ipaddress.ip_address(ip))
    ip = ips[0]
    target = httpx.URL(url).copy_with(host=ip)
    return client.build_request(
        "GET",
        target,
        headers={"Host": parts.netloc.rpartition("@")[2], "Accept-Encoding": "identity"},
        extensions={"sni_hostname": host},
    )


def _refuse_never_allowed(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> None:
    """Metadata, link-local, multicast and unspecified addresses stay refused even when the policy
    allows private addresses (that switch is for loopback and LAN mirrors)."""
    mapped = ip.ipv4_mapped if isinstance(ip, ipaddress.IPv6Address) else None
    for candidate in (ip, mapped) if mapped else (ip,):
        if (
            candidate in METADATA_ADDRESSES
            or candidate.is_link_local
            or candidate.is_multicast
            or candidate.is_unspecified
        ):
            raise UrlRefused(f"address {ip} is never allowed (metadata or link-local)")


class _GzipCheck:
    """Incremental check that a byte stream is complete gzip (handles multi-member files) that
    decompresses to at most `max_out` bytes (`DownloadError` "too_large" beyond)."""

    def __init__(self, max_out: int, shown: str) -> None:
        self._d = zlib.decompressobj(wbits=31)
        self.finished = False
        self.max_out = max_out
        self.out = 0
        self.shown = shown

    def feed(self, data: bytes) -> None:
        while data:
            if self._d.eof:
                self._d = zlib.decompressobj(wbits=31)
            self.finished = False
            while data:  # at most one chunk of output at a time: a bomb never sits in memory
                self.out += len(self._d.decompress(data, _CHUNK))
                if self.out > self.max_out:
                    raise DownloadError(
                        "too_large",
                        f"{self.shown}: decompresses to more than {self.max_out} bytes "
                        "(GEX_HISTORY_MAX_DECOMPRESSED_BYTES)",
                    )
                data = self._d.unconsumed_tail
            data = self._d.unused_data
            self.finished = self._d.eof

    def complete(self) -> bool:
        return self.finished


class _GzipCheckThread:
    """Runs a `_GzipCheck` on its own thread, so decompressing the body overlaps receiving,
    writing and hashing it (zlib releases the GIL); what the check raises comes out of the next
    `feed` or of `close`."""

    def __init__(self, check: _GzipCheck) -> None:
        self.check = check
        self._chunks: queue.Queue[bytes | None] = queue.Queue(maxsize=_QUEUED_CHUNKS)
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="gzip-check", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while (data := self._chunks.get()) is not None:
            if self._error is None:
                try:
                    self.check.feed(data)
                except BaseException as exc:  # handed to the downloading thread
                    self._error = exc

    def _raise(self) -> None:
        if self._error is not None:
            raise self._error

    def feed(self, data: bytes) -> None:
        """Queue `data` for the check (blocks while the queue is full)."""
        self._raise()
        self._chunks.put(data)

    def close(self, *, check: bool = True) -> None:
        """Wait until every queued chunk is checked; with `check`, raise what the check raised."""
        self._chunks.put(None)
        self._thread.join()
        if check:
            self._raise()

    def complete(self) -> bool:
        """Whether the stream checked so far ends a gzip member (after `close`)."""
        return self.check.complete()


class _Sink:
    """Writes the body to a file, hashing it, enforcing the cap and checking gzip integrity."""

    def __init__(self, path: Path, limits: DownloadLimits, shown: str) -> None:
        self.path = path
        self.max_bytes = limits.max_bytes
        self.max_decompressed = limits.max_decompressed_bytes
        self.shown = shown
        self.digest = hashlib.sha256()
        self.size = 0
        self.gzip: _GzipCheckThread | None = None
        self._head = b""  # held back until the first two bytes decide gzip or not
        self._fh: BinaryIO | None = None

    def __enter__(self) -> _Sink:
        self._fh = self.path.open("wb")
        return self

    def __exit__(self, exc_type: object, *_: object) -> None:
        assert self._fh is not None
        try:
            if exc_type is None:
                if self._head:
                    self._emit(self._head)
                self._fh.flush()
                os.fsync(self._fh.fileno())
        finally:
            self._fh.close()
            if self.gzip is not None:
                self.gzip.close(check=exc_type is None)

    def write(self, chunk: bytes) -> None:
        self.size += len(chunk)
        if self.size > self.max_bytes:
            raise DownloadError(
                "too_large", f"{self.shown}: more than {self.max_bytes} bytes (the cap)"
            )
        if self.size - len(chunk) < 2:
            self._head += chunk
            if len(self._head) < 2:
                return
            self.gzip = (
                _GzipCheckThread(_GzipCheck(self.max_decompressed, self.shown))
                if self._head[:2] == GZIP_MAGIC
                else None
            )
            chunk, self._head = self._head, b""
        self._emit(chunk)

    def _emit(self, chunk: bytes) -> None:
        assert self._fh is not None
        self._fh.write(chunk)
        self.digest.update(chunk)
        if self.gzip is not None:
            self.gzip.feed(chunk)


def _fetch_once(
    client: httpx.Client,
    url: str,
    tmp: Path,
    policy: UrlPolicy,
    limits: DownloadLimits,
    shown: str,
) -> tuple[int, str, bool]:
    """One attempt: follow checked redirects, stream the body into `tmp`; (bytes, sha256, gzip)."""
    deadline = time.monotonic() + limits.total_timeout
    current = url
    for _hop in range(limits.max_redirects + 1):
        try:
            request = _pinned_request(client, current, policy)
        except UrlRefused as exc:
            raise DownloadError("refused_url", f"{shown}: {exc}") from None
        except OSError as exc:
            raise _Retryable("http_error", f"{shown}: host name lookup failed ({exc})") from None
        try:
            response = client.send(request, stream=True)
        except httpx.TimeoutException:
            raise _Retryable("timeout", f"{shown}: timed out connecting") from None
        except httpx.TransportError as exc:
            if _caused_by_certificate(exc):
                raise DownloadError(
                    "http_error", f"{shown}: the server's TLS certificate failed verification"
                ) from None
            raise _Retryable(
                "http_error", f"{shown}: connection failed ({type(exc).__name__})"
            ) from None
        try:
            if response.status_code in _REDIRECTS:
                location = response.headers.get("location")
                if not location:
                    raise DownloadError("http_error", f"{shown}: redirect without a Location")
                current = urljoin(current, location)
                continue
            _raise_for_status(response.status_code, shown)
            return _stream_body(response, tmp, limits, deadline, shown)
        finally:
            response.close()
    raise DownloadError("refused_url", f"{shown}: more than {limits.max_redirects} redirects")


def _caused_by_certificate(exc: BaseException) -> bool:
    """True when a certificate verification error is in `exc`'s chain (retrying cannot help)."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, ssl.SSLCertVerificationError):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def _raise_for_status(status: int, shown: str) -> None:
    if status in (401, 403):
        raise DownloadError(
            "forbidden_or_expired",
            f"{shown}: HTTP {status}: the signed link has expired or access is forbidden; "
            "post a fresh link from the vendor's site",
        )
    if status in (404, 410):
        raise DownloadError("not_found", f"{shown}: HTTP {status}: the file does not exist")
    if 500 <= status < 600:
        raise _Retryable("http_error", f"{shown}: HTTP {status} from the server")
    if status != 200:
        raise DownloadError("http_error", f"{shown}: unexpected HTTP {status}")


def _stream_body(
    response: httpx.Response,
    tmp: Path,
    limits: DownloadLimits,
    deadline: float,
    shown: str,
) -> tuple[int, str, bool]:
    declared = response.headers.get("content-length")
    expected = int(declared) if declared and declared.isdigit() else None
    if expected is not None and expected > limits.max_bytes:
        raise DownloadError(
            "too_large", f"{shown}: {expected} bytes announced, the cap is {limits.max_bytes}"
        )
    sink = _Sink(tmp, limits, shown)
    try:
        with sink:
            for chunk in response.iter_raw(_CHUNK):
                if time.monotonic() > deadline:
                    raise _Retryable(
                        "timeout", f"{shown}: not complete after {limits.total_timeout:.0f} s"
                    )
                sink.write(chunk)
    except httpx.TimeoutException:
        raise _Retryable("timeout", f"{shown}: read timed out after {sink.size} bytes") from None
    except httpx.TransportError:
        raise _Retryable(
            "truncated", f"{shown}: connection closed after {sink.size} of {expected or '?'} bytes"
        ) from None
    except zlib.error as exc:
        raise DownloadError("truncated", f"{shown}: corrupt gzip stream ({exc})") from None
    size = sink.size
    if expected is not None and size != expected:
        raise _Retryable("truncated", f"{shown}: got {size} of {expected} bytes")
    if size == 0:
        raise DownloadError("truncated", f"{shown}: empty body")
    if sink.gzip is not None and not sink.gzip.complete():
        raise DownloadError("truncated", f"{shown}: gzip stream ends early ({size} bytes)")
    return size, sink.digest.hexdigest(), sink.gzip is not None


def _backoff(attempt: int, limits: DownloadLimits) -> float:
    """Exponential backoff with full jitter for retry number `attempt` (1-based)."""
    cap = min(limits.backoff_max, limits.backoff_base * 2 ** (attempt - 1))
    return random.uniform(cap / 2, cap)


def download_day_file(
    url: str,
    dest: Path,
    policy: UrlPolicy,
    limits: DownloadLimits,
    *,
    verify: ssl.SSLContext | bool = True,
    sleep: Callable[[float], None] = time.sleep,
) -> DownloadResult:
    """Download `url` to `dest` (temp file + rename); raise `DownloadError` naming what failed.

    `verify` is the TLS trust (default: the certifi bundle); `sleep` waits between retries.
    """
    _install_log_filter()
    shown = redact_url(url)
    if hatches := policy.escape_hatches():
        log.warning("downloading %s with %s on (not for production)", shown, " and ".join(hatches))
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(f".{dest.name}.{os.getpid()}.part")
    timeout = httpx.Timeout(limits.read_timeout, connect=limits.connect_timeout)
    try:
        with httpx.Client(
            timeout=timeout, follow_redirects=False, trust_env=False, verify=verify
        ) as client:
            for attempt in range(limits.retries + 1):
                try:
                    size, sha, is_gzip = _fetch_once(client, url, tmp, policy, limits, shown)
                    break
                except _Retryable as exc:
                    if attempt >= limits.retries:
                        raise DownloadError(
                            exc.kind, f"{exc.message} (gave up after {attempt + 1} attempts)"
                        ) from None
                    delay = _backoff(attempt + 1, limits)
                    log.warning("%s; retry %d in %.1f s", exc.message, attempt + 1, delay)
                    sleep(delay)
        os.replace(tmp, dest)
        fsync_dir(dest.parent)
    finally:
        tmp.unlink(missing_ok=True)
    log.info("downloaded %s: %d bytes, gzip=%s", shown, size, is_gzip)
    return DownloadResult(dest, size, sha, is_gzip, shown, url_hash(url))
