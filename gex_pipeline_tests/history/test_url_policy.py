"""URL policy for history downloads: exact allow-list on the parsed host, no private targets."""

from __future__ import annotations

import ipaddress
import socket
from pathlib import Path
from typing import Any

import pytest

from gex_pipeline.lib.history.url_policy import (
    UrlPolicy,
    UrlRefused,
    check_ip_allowed,
    check_url,
    redact_url,
    resolve_and_check,
    url_key,
)
from gex_pipeline.settings import DEFAULT_HISTORY_HOSTS, Settings

POLICY = UrlPolicy(DEFAULT_HISTORY_HOSTS)
SIGNED = (
    "https://nfagexbotresearch.blob.core.windows.net/hist/2025-11-14_NQ_NDX_classic_gex_zero.json.gz"
    "?sv=2024-01-01&se=2025-11-14T22%3A00%3A00Z&sig=SECRETSIG"
)


def refused(url: Any, policy: UrlPolicy = POLICY) -> UrlRefused:
    with pytest.raises(UrlRefused) as info:
        check_url(url, policy)
    assert info.value.field == "url" and info.value.status == 422
    return info.value


@pytest.mark.parametrize(
    "url",
    [
        "https://hist.gex.bot/gb-spx/2025-11-14_SPX_classic_gex_full.json",
        "https://hist.gexbot.com/x/2025-11-14_SPX_classic_gex_full.json",
        "https://app.gexbot.com/x.json",
        SIGNED,
    ],
)
def test_default_hosts_over_https_are_allowed(url: str) -> None:
    assert check_url(url, POLICY).scheme == "https"


@pytest.mark.parametrize(
    "url",
    ["https://HIST.GEX.BOT/x.json", "https://hist.gex.bot./x.json", "https://hist.gex.bot:443/x"],
)
def test_case_trailing_dot_and_explicit_default_port_are_allowed(url: str) -> None:
    assert check_url(url, POLICY).path.startswith("/x")


def test_at_sign_in_the_path_is_not_user_info() -> None:
    assert (
        check_url("https://hist.gex.bot/a@evil.example/x.json", POLICY).hostname == "hist.gex.bot"
    )


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("https://evil.example/?hist.gex.bot", "not in the allowed list"),
        ("https://evil.example/hist.gex.bot/x.json", "not in the allowed list"),
        ("https://evil.example#hist.gex.bot", "not in the allowed list"),
        ("https://hist.gex.bot.evil.example/", "not in the allowed list"),
        ("https://evilhist.gex.bot/", "not in the allowed list"),
        ("https://sub.hist.gex.bot/", "not in the allowed list"),
        ("https://xn--hst-gla.gex.bot/", "not in the allowed list"),
        ("https://hist.gex.bot@evil.example/", "user information"),
        ("https://user:pw@hist.gex.bot/", "user information"),
        ("http://hist.gex.bot/x.json", "scheme"),
        ("ftp://hist.gex.bot/x.json", "scheme"),
        ("file:///etc/passwd", "scheme"),
        ("//hist.gex.bot/x.json", "scheme"),
        ("hist.gex.bot/x.json", "scheme"),
        ("https://hist.gex.bot:8443/x.json", "port 8443"),
        ("https://hist.gex.bot:80/x.json", "port 80"),
        ("https://hist.gex.bot:abc/x.json", "not a valid URL"),
        ("https://127.0.0.1/x.json", "IP address"),
        ("https://[::1]/x.json", "IP address"),
        ("https://[::ffff:127.0.0.1]/", "IP address"),
        ("https://169.254.169.254/latest/meta-data", "IP address"),
        ("https://0x7f000001/", "non-canonical IP"),
        ("https://2130706433/", "non-canonical IP"),
        ("https://0177.0.0.1/", "non-canonical IP"),
        ("https://127.1/", "non-canonical IP"),
        ("https://hïst.gex.bot/x.json", "ASCII"),
        ("https://hist.gex.bot\\@evil.example/", "backslashes"),
        ("https://hist.gex.bot\\.evil.example/", "backslashes"),
        ("https://hist.gex.bot/x .json", "whitespace"),
        ("https://hist.gex.bot/x\n.json", "control"),
        ("https://hist.gex.bot/x\x00.json", "control"),
        ("https://hist.gex.bot..", "not a valid host name"),
        ("https://hist%2Egex.bot/", "not a valid host name"),
        ("https:///x.json", "no host"),
        ("https://[::1/", "not a valid URL"),
        ("https://hist.gex.bot/" + "a" * 5000, "longer than"),
        ("", "empty"),
    ],
)
def test_hostile_or_malformed_url_is_refused_saying_why(url: str, why: str) -> None:
    assert why in refused(url).message


def test_non_string_url_is_refused() -> None:
    assert "string" in refused(["https://hist.gex.bot/x"]).message


def test_refusal_messages_never_quote_the_signature() -> None:
    policy = UrlPolicy(("other.example",))
    hostile = [SIGNED, SIGNED.replace("https", "http"), SIGNED.replace(".net/", ".net:8443/")]
    for url in hostile:
        error = refused(url, policy)
        assert "sig" not in str(error) and "SECRETSIG" not in error.message


def test_allow_http_lets_plain_http_through() -> None:
    policy = UrlPolicy(DEFAULT_HISTORY_HOSTS, allow_http=True)
    assert check_url("http://hist.gex.bot/x.json", policy).scheme == "http"


def test_allow_http_still_applies_the_allow_list() -> None:
    assert (
        "not in the allowed list"
        in refused("http://evil.example/", UrlPolicy((), allow_http=True)).message
    )


def test_host_port_entry_allows_exactly_that_port() -> None:
    policy = UrlPolicy(("mirror.example:8443",))
    assert check_url("https://mirror.example:8443/x.json", policy).port == 8443
    assert "port 8444" in refused("https://mirror.example:8444/x.json", policy).message
    assert "port 443" in refused("https://mirror.example/x.json", policy).message


def test_allow_private_lets_a_listed_ip_literal_through() -> None:
    policy = UrlPolicy(("127.0.0.1:8123",), allow_http=True, allow_private=True)
    assert check_url("http://127.0.0.1:8123/x.json", policy).port == 8123


def test_allow_private_lets_a_listed_ipv6_literal_through() -> None:
    policy = UrlPolicy(("[::1]:8123",), allow_private=True)
    assert check_url("https://[::1]:8123/x.json", policy).hostname == "::1"


def test_allow_private_does_not_lift_the_allow_list() -> None:
    policy = UrlPolicy(("127.0.0.1:8123",), allow_http=True, allow_private=True)
    assert "not in the allowed list" in refused("http://10.0.0.1:8123/", policy).message


def test_allow_private_still_refuses_non_canonical_ip_forms() -> None:
    policy = UrlPolicy(("127.0.0.1",), allow_private=True)
    assert "non-canonical" in refused("https://2130706433/", policy).message


def test_allowed_host_entries_are_case_and_dot_insensitive() -> None:
    assert (
        check_url("https://mirror.example/x", UrlPolicy(("Mirror.Example.",))).hostname
        == "mirror.example"
    )


def test_allowed_host_entry_with_a_bad_port_fails_loudly() -> None:
    with pytest.raises(ValueError, match="invalid port"):
        UrlPolicy(("mirror.example:http",))


def test_policy_comes_from_settings(tmp_path: Path) -> None:
    settings = Settings.from_env(
        {
            "GEX_DATA_DIR": str(tmp_path),
            "GEX_HISTORY_ALLOWED_HOSTS": "mirror.example:9000, other.example",
            "GEX_HISTORY_ALLOW_HTTP": "1",
            "GEX_HISTORY_ALLOW_PRIVATE": "true",
        }
    )
    assert UrlPolicy.from_settings(settings.history) == UrlPolicy(
        ("mirror.example:9000", "other.example"), allow_http=True, allow_private=True
    )


# --- addresses --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "10.1.2.3",
        "172.16.0.1",
        "192.168.1.1",
        "100.64.0.1",
        "169.254.169.254",
        "0.0.0.0",
        "224.0.0.1",
        "240.0.0.1",
        "::1",
        "::",
        "fe80::1",
        "fc00::1",
        "fd00:ec2::254",
        "ff02::1",
        "::ffff:127.0.0.1",
        "::ffff:169.254.169.254",
        "64:ff9b::a00:1",
        "2002:7f00:1::",
    ],
)
def test_non_public_address_is_refused(address: str) -> None:
    with pytest.raises(UrlRefused):
        check_ip_allowed(ipaddress.ip_address(address), POLICY)


def test_metadata_address_is_named_as_such() -> None:
    with pytest.raises(UrlRefused, match="metadata"):
        check_ip_allowed(ipaddress.ip_address("169.254.169.254"), POLICY)


@pytest.mark.parametrize("address", ["8.8.8.8", "20.60.1.2", "2606:4700::1111", "::ffff:8.8.8.8"])
def test_public_address_is_allowed(address: str) -> None:
    check_ip_allowed(ipaddress.ip_address(address), POLICY)


def test_allow_private_allows_private_addresses() -> None:
    check_ip_allowed(ipaddress.ip_address("127.0.0.1"), UrlPolicy((), allow_private=True))


def test_resolving_to_loopback_is_refused() -> None:
    with pytest.raises(UrlRefused, match="loopback"):
        resolve_and_check("localhost", 443, POLICY)


def test_resolving_to_loopback_is_allowed_with_allow_private() -> None:
    assert "127.0.0.1" in resolve_and_check("localhost", 443, UrlPolicy((), allow_private=True))


def test_one_private_address_among_public_ones_refuses_the_host(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    answers = [
        (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("20.60.1.2", 443)),
        (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("10.0.0.5", 443)),
    ]
    monkeypatch.setattr(socket, "getaddrinfo", lambda *args, **kwargs: answers)
    with pytest.raises(UrlRefused, match="private"):
        resolve_and_check("hist.gex.bot", 443, POLICY)


def test_public_addresses_are_returned_once_each(monkeypatch: pytest.MonkeyPatch) -> None:
    answers = [
        (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("20.60.1.2", 443)),
        (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("20.60.1.2", 443)),
        (socket.AF_INET6, socket.SOCK_STREAM, 6, "", ("2606:4700::1111", 443, 0, 0)),
    ]
    monkeypatch.setattr(socket, "getaddrinfo", lambda *args, **kwargs: answers)
    assert resolve_and_check("hist.gex.bot", 443, POLICY) == ["20.60.1.2", "2606:4700::1111"]


# --- redaction and keys -----------------------------------------------------------------------


def test_url_key_drops_the_query_and_keeps_the_path() -> None:
    assert url_key(SIGNED) == (
        "https://nfagexbotresearch.blob.core.windows.net/hist/2025-11-14_NQ_NDX_classic_gex_zero.json.gz"
    )


def test_url_key_is_the_same_for_two_signatures_of_one_file() -> None:
    assert url_key(SIGNED) == url_key(SIGNED.replace("SECRETSIG", "OTHER") + "#frag")


def test_url_key_normalises_case_dot_default_port_user_info_and_unreserved_escapes() -> None:
    assert url_key("HTTPS://u:p@Hist.Gex.Bot.:443/a/2025%2D11%2D14_NQ%5fNDX%2F.json") == (
        "https://hist.gex.bot/a/2025-11-14_NQ_NDX%2F.json"
    )


def test_url_key_keeps_a_non_default_port() -> None:
    assert url_key("https://mirror.example:8443/x?sig=1") == "https://mirror.example:8443/x"


@pytest.mark.parametrize(
    "url",
    [
        SIGNED,
        SIGNED.replace("?", "#"),
        "https://user:sig=pw@hist.gex.bot/x?sig=1",
        "https://h/x?a=1&sig=2",
    ],
)
def test_redacted_url_never_shows_a_signature_or_password(url: str) -> None:
    assert "sig=" not in redact_url(url) and "pw" not in redact_url(url)


@pytest.mark.parametrize("value", [None, 42, "https://[::1", "https://h:99999999/"])
def test_redact_url_never_raises(value: Any) -> None:
    assert redact_url(value) == "<unparseable url>"


def test_redact_url_leaves_no_control_characters() -> None:
    redacted = redact_url("https://hist.gex.bot/a\nb\x00\x1b[31m")
    assert redacted.startswith("https://hist.gex.bot/a")
    assert not any(ord(char) < 0x20 for char in redacted)


def test_ipv6_literal_is_compared_in_its_canonical_form() -> None:
    policy = UrlPolicy(("[0:0:0:0:0:0:0:1]:8123",), allow_private=True)
    assert check_url("https://[::0001]:8123/x.json", policy).port == 8123


@pytest.mark.parametrize(
    "path",
    ["/x/../f.json", "/x/./f.json", "/x/%2e%2e/f.json", "/x/%2E./f.json", "/x/.%2e", "/.."],
)
def test_dot_segments_in_the_path_are_refused(path: str) -> None:
    assert "dot segments" in str(refused(f"https://hist.gex.bot{path}"))


@pytest.mark.parametrize("path", ["/x/f..json", "/.well/x.json", "/x/...json", "/x/%2e%2e.json"])
def test_dots_inside_path_segments_are_allowed(path: str) -> None:
    assert check_url(f"https://hist.gex.bot{path}", POLICY).path == path


def test_url_key_is_the_same_for_a_raw_and_a_percent_encoded_non_ascii_path() -> None:
    raw = url_key("https://hist.gex.bot/x/\u00e9t\u00e9 1.json?sig=1")
    assert raw == url_key("https://hist.gex.bot/x/%c3%a9t%C3%A9%201.json?sig=2")
    assert raw == "https://hist.gex.bot/x/%C3%A9t%C3%A9%201.json"


def test_escape_hatches_name_the_relaxing_settings_that_are_on() -> None:
    assert UrlPolicy(allowed_hosts=("hist.gex.bot",)).escape_hatches() == ()
    assert UrlPolicy(allowed_hosts=(), allow_http=True).escape_hatches() == (
        "GEX_HISTORY_ALLOW_HTTP",
    )
    assert UrlPolicy(allowed_hosts=(), allow_http=True, allow_private=True).escape_hatches() == (
        "GEX_HISTORY_ALLOW_HTTP",
        "GEX_HISTORY_ALLOW_PRIVATE",
    )
