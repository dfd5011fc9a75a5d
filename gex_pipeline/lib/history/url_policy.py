"""Which history download URLs may be fetched: https, allow-listed hosts, public addresses only.

The allow-list is matched against the *parsed* host, exactly (case-insensitive, one trailing dot
ignored): `https://evil.example/?hist.gex.bot` and `https://hist.gex.bot@evil.example/` are refused.
Entries are `host` (default port only) or `host:port` (exactly that port). The allow-list always
applies; `allow_http` also lets plain http through and `allow_private` lets IP literals and
private/loopback addresses through (local mirrors, tests).
Paths with `.`/`..` segments are refused. Hosts must be ASCII (punycode for IDNs):
Unicode host names are refused rather than mapped, so no client maps them differently than we do.
Query strings carry signatures (`sig=`): no message here quotes a URL, and `redact_url` / `url_key`
keep only `scheme://host[:port]/path`.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING
from urllib.parse import SplitResult, quote, urlsplit

from gex_pipeline.lib.payloads.errors import PayloadError

if TYPE_CHECKING:
    from gex_pipeline.settings import HistorySettings

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

MAX_URL_LENGTH = 4096
DEFAULT_PORTS: dict[str, int] = {"https": 443, "http": 80}
METADATA_ADDRESSES: frozenset[IPAddress] = frozenset(
    {ipaddress.ip_address("169.254.169.254"), ipaddress.ip_address("fd00:ec2::254")}
)
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_FORBIDDEN_CHARS = re.compile(r"[\x00-\x20\x7f-\x9f\\\s]")
_HOST_LABEL = re.compile(r"[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?")
_NUMERIC_LABEL = re.compile(r"0x[0-9a-f]*|[0-9]+")
_PERCENT = re.compile(r"%([0-9A-Fa-f]{2})")
_PATH_SAFE = "/%!$&'()*+,;=:@"  # kept as they are in a path; letters, digits and -._~ always are
_UNRESERVED = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")


class UrlRefused(PayloadError):
    """A URL the policy does not allow (HTTP 422 on field `url`); the message never quotes it."""

    def __init__(self, message: str) -> None:
        super().__init__("url", message)


@dataclass(frozen=True)
class UrlPolicy:
    """Allowed hosts (`host` or `host:port`) and the two escape hatches for local mirrors/tests."""

    allowed_hosts: tuple[str, ...]
    allow_http: bool = False
    allow_private: bool = False
    _entries: frozenset[tuple[str, int | None]] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_entries", frozenset(map(_parse_entry, self.allowed_hosts)))

    @classmethod
    def from_settings(cls, history: HistorySettings) -> UrlPolicy:
        """The policy of `GEX_HISTORY_ALLOWED_HOSTS`, `GEX_HISTORY_ALLOW_HTTP/_PRIVATE`."""
        return cls(
            allowed_hosts=history.allowed_hosts,
            allow_http=history.allow_http,
            allow_private=history.allow_private,
        )

    def escape_hatches(self) -> tuple[str, ...]:
        """The settings that relax the policy and are on (each deserves a loud warning)."""
        hatches = (
            ("GEX_HISTORY_ALLOW_HTTP", self.allow_http),
            ("GEX_HISTORY_ALLOW_PRIVATE", self.allow_private),
        )
        return tuple(name for name, on in hatches if on)

    def allows(self, host: str, port: int | None, scheme: str) -> bool:
        """True when `host` (normalised) on `port` (None = default) is on the allow-list."""
        default = DEFAULT_PORTS[scheme]
        if (port is None or port == default) and (host, None) in self._entries:
            return True
        return (host, default if port is None else port) in self._entries

    def lists_host(self, host: str) -> bool:
        """True when `host` (normalised) appears in the allow-list with any port."""
        return any(entry_host == host for entry_host, _ in self._entries)


def check_url(url: str, policy: UrlPolicy) -> SplitResult:
    """The split `url` when `policy` allows fetching it; `UrlRefused` saying why otherwise."""
    if not isinstance(url, str):
        raise UrlRefused("must be a string")
    if not url:
        raise UrlRefused("must not be empty")
    if len(url) > MAX_URL_LENGTH:
        raise UrlRefused(f"is longer than {MAX_URL_LENGTH} characters")
    if _FORBIDDEN_CHARS.search(url):
        raise UrlRefused("contains whitespace, control characters or backslashes")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise UrlRefused("is not a valid URL (host or port)") from None
    scheme = parts.scheme.lower()
    if scheme != "https" and not (scheme == "http" and policy.allow_http):
        raise UrlRefused("scheme must be https" + (" or http" if policy.allow_http else ""))
    if "@" in parts.netloc:
        raise UrlRefused("must not contain user information (user:password@)")
    if _has_dot_segment(parts.path):
        raise UrlRefused("path must not contain dot segments (. or .., escaped or not)")
    host = normalise_host(parts.hostname or "", bracketed="[" in parts.netloc)
    ip = _ip_literal(host, bracketed="[" in parts.netloc)
    if ip is not None:
        if not policy.allow_private:
            raise UrlRefused("IP address hosts are not allowed")
        host = str(ip)
    if not policy.allows(host, port, scheme):
        if policy.lists_host(host):
            shown = DEFAULT_PORTS[scheme] if port is None else port
            raise UrlRefused(f"port {shown} is not allowed for host {host}")
        raise UrlRefused(f"host {host} is not in the allowed list")
    return parts


def _has_dot_segment(path: str) -> bool:
    """True when a segment of `path` is `.` or `..` once unreserved escapes (`%2e`) are decoded:
    clients and servers resolve them differently, so one file could get two identities.
    """
    return any(
        _PERCENT.sub(_unescape_unreserved, segment) in (".", "..") for segment in path.split("/")
    )


def normalise_host(host: str, bracketed: bool = False) -> str:
    """Lower-case ASCII host without its trailing dot; `UrlRefused` for anything else."""
    if not host:
        raise UrlRefused("has no host")
    if not host.isascii():
        raise UrlRefused("host must be ASCII (use the punycode form of the name)")
    host = host.lower()
    if bracketed:
        return host
    host = host.removesuffix(".")
    if not all(_HOST_LABEL.fullmatch(label) for label in host.split(".")) or len(host) > 253:
        raise UrlRefused("host is not a valid host name")
    return host


def _ip_literal(host: str, bracketed: bool) -> IPAddress | None:
    """The address when `host` is an IP literal; non-canonical numeric forms are refused."""
    if bracketed:
        if "%" in host:
            raise UrlRefused("IPv6 zone identifiers are not allowed")
        try:
            return ipaddress.IPv6Address(host)
        except ValueError:
            raise UrlRefused("host is not a valid IPv6 address") from None
    try:
        return ipaddress.IPv4Address(host)
    except ValueError:
        pass
    if _NUMERIC_LABEL.fullmatch(host.rsplit(".", 1)[-1]):
        raise UrlRefused("host is a non-canonical IP address (octal, hex or integer form)")
    return None


def check_ip_allowed(ip: IPAddress, policy: UrlPolicy) -> None:
    """`UrlRefused` when `ip` (or an IPv4 address embedded in it) is not a public address.

    Loopback, private, link-local, multicast, reserved, unspecified, shared and cloud metadata
    addresses are refused unless `policy.allow_private`.
    """
    if policy.allow_private:
        return
    for candidate in _with_embedded(ip):
        reason = _blocked_reason(candidate)
        if reason is not None:
            raise UrlRefused(f"address {ip} is {reason}")


def _with_embedded(ip: IPAddress) -> Iterator[IPAddress]:
    """`ip` and the IPv4 addresses it leads to (an IPv4-mapped address is its IPv4 address)."""
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        yield ip.ipv4_mapped
        return
    yield ip
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.sixtofour is not None:
            yield ip.sixtofour
        if ip.teredo is not None:
            yield from ip.teredo
        if ip in _NAT64:
            yield ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)


def _blocked_reason(ip: IPAddress) -> str | None:
    checks = (
        (ip in METADATA_ADDRESSES, "a cloud metadata address"),
        (ip.is_loopback, "a loopback address"),
        (ip.is_unspecified, "the unspecified address"),
        (ip.is_link_local, "a link-local address"),
        (ip.is_multicast, "a multicast address"),
        (ip.is_private, "a private address"),
        (ip.is_reserved, "a reserved address"),
        (not ip.is_global, "not a public address"),
    )
    return next((reason for blocked, reason in checks if blocked), None)


def resolve_and_check(host: str, port: int, policy: UrlPolicy) -> list[str]:
    """Resolve `host` and return its addresses when every one passes `check_ip_allowed`.

    Raises `UrlRefused` when any address is refused (or none is found), `OSError`
    (`socket.gaierror`) when the name does not resolve. Connect to the returned addresses only,
    so a second DNS answer cannot swap in a private address.
    """
    addresses: list[str] = []
    for *_, sockaddr in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM):
        address = str(sockaddr[0]).split("%", 1)[0]
        check_ip_allowed(ipaddress.ip_address(address), policy)
        if address not in addresses:
            addresses.append(address)
    if not addresses:
        raise UrlRefused(f"host {host} resolves to no address")
    return addresses


def url_key(url: str) -> str:
    """`scheme://host[:port]/path` of `url`: the identity of a file whatever its signature.

    Scheme and host lower-cased, trailing dot, default port, user info, query and fragment dropped,
    percent-escapes of unreserved characters decoded, other characters (non-ASCII) percent-encoded
    as UTF-8 the way HTTP clients send them. Raises ValueError when `url` does not parse.
    """
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").removesuffix(".")
    if "[" in parts.netloc:
        host = f"[{host}]"
    port = parts.port
    shown_port = "" if port is None or port == DEFAULT_PORTS.get(scheme) else f":{port}"
    path = quote(_PERCENT.sub(_unescape_unreserved, parts.path), safe=_PATH_SAFE) or "/"
    return f"{scheme}://{host}{shown_port}{path}"


def redact_url(url: str) -> str:
    """`url_key` for logs and answers: no query, no user info, control characters escaped.

    Never raises; an unparseable value becomes `<unparseable url>`.
    """
    try:
        key = url_key(url)
    except (ValueError, TypeError, AttributeError):
        return "<unparseable url>"
    return _FORBIDDEN_CHARS.sub(lambda m: f"%{ord(m.group()):02X}", key)


# A URL or path followed by a query string, in free text (log lines, reprs of header lists).
_QUERY_IN_TEXT = re.compile(r"((?:[a-zA-Z][a-zA-Z0-9+.-]*://|/)[^\s'\"<>?]*)\?[^\s'\"<>]*")
REDACTED_QUERY = "?<redacted>"


def redact_text(text: str) -> str:
    """`text` with the query string of every URL or path in it replaced by `?<redacted>`."""
    return _QUERY_IN_TEXT.sub(lambda m: m.group(1) + REDACTED_QUERY, text)


def _unescape_unreserved(match: re.Match[str]) -> str:
    char = chr(int(match.group(1), 16))
    return char if char in _UNRESERVED else f"%{match.group(1).upper()}"


def _parse_entry(entry: str) -> tuple[str, int | None]:
    """`host`, `host:port`, `[v6]` or `[v6]:port` -> (normalised host, port or None)."""
    text = entry.strip().lower()
    host, port_text = text, ""
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        port_text = rest.removeprefix(":")
    elif text.count(":") == 1:
        host, port_text = text.split(":")
    if not port_text:
        port = None
    elif port_text.isdigit() and 0 < int(port_text) < 65536:
        port = int(port_text)
    else:
        raise ValueError(f"allowed host entry {entry!r} has an invalid port")
    if not host.isascii():
        host = host.encode("idna").decode("ascii")
    try:
        host = str(ipaddress.ip_address(host))
    except ValueError:
        host = host.removesuffix(".")
    return host, port
