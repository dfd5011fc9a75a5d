"""LAN mode (`GEX_INGEST_LAN=1`, or `gex-pipeline up --lan`): userscripts on this network may post.

The browser userscripts post to `http://<LAN host>:8877/uw` and cannot send a token. LAN mode binds
every interface (unless `GEX_INGEST_HOST` names one), needs no token, and admits in the `Host`
header this machine's host name, `<host name>.local` and any IP address: a DNS-rebinding page
always sends its own host name, never an address, so addresses are safe to admit. Web pages stay
limited to `GEX_INGEST_CORS_ORIGINS` (the `Origin` check): that list is what keeps other sites from
posting through a visitor's browser. Programs on the network (not browsers) can post too.
"""

from __future__ import annotations

import contextlib
import ipaddress
import socket

from gex_pipeline.settings import ApiSettings

# A TEST-NET-1 address: "connecting" a UDP socket to it sends nothing but picks the interface of
# the default route, whose address is the one the LAN knows this machine by.
_ROUTE_PROBE = ("192.0.2.1", 9)


def is_address(name: str) -> bool:
    """True for an IP address literal as a `Host` name holds it (`192.168.1.20`, `[fd00::1]`)."""
    try:
        ipaddress.ip_address(name.strip("[]"))
    except ValueError:
        return False
    return True


def lan_addresses() -> list[str]:
    """This machine's IPv4 addresses other than loopback, the default route's first."""
    found: list[str] = []
    with contextlib.suppress(OSError), socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.connect(_ROUTE_PROBE)
        found.append(probe.getsockname()[0])
    with contextlib.suppress(OSError):
        found += [
            info[4][0] for info in socket.getaddrinfo(socket.gethostname(), None, socket.AF_INET)
        ]
    return [a for a in dict.fromkeys(found) if not ipaddress.ip_address(a).is_loopback]


def lan_host_names() -> frozenset[str]:
    """The names LAN clients may give this machine: its host name and `<host name>.local`."""
    name = socket.gethostname().lower()
    return frozenset({name, f"{name}.local"})


def exposure_lines(api: ApiSettings) -> list[str]:
    """What LAN mode exposes, printed when the server (or `up`) starts."""
    bind = f"{api.host}:{api.port}" + (
        " (every interface)" if api.host in ("0.0.0.0", "::") else ""
    )
    hosts = [*lan_addresses(), *sorted(lan_host_names())]
    urls = ", ".join(f"http://{host}:{api.port}/uw" for host in hosts) or "none found"
    admitted = ["IP addresses", *sorted(lan_host_names()), *api.allowed_hosts]
    lines = [
        f"LAN mode (GEX_INGEST_LAN=1): the ingest API listens on {bind}",
        f"  userscripts on this network post to: {urls}",
        f"  Host names admitted: {', '.join(admitted)} (more: GEX_INGEST_ALLOWED_HOSTS)",
        f"  web pages allowed to post (GEX_INGEST_CORS_ORIGINS): {', '.join(api.cors_origins)}",
    ]
    if api.token:
        lines.append("  GEX_INGEST_TOKEN is set: userscripts, which cannot send it, get 401")
    else:
        lines.append(
            "  no token: any program on this network can post /gex, /uw and /gex_history_url"
        )
    return lines
