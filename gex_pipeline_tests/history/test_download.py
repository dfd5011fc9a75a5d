"""Downloads of day files from a real HTTP server on 127.0.0.1 (allow-list extended to it)."""

from __future__ import annotations

import gzip
import json
import logging
import random
from pathlib import Path

import pytest

from gex_pipeline.lib.history.download import (
    DownloadError,
    DownloadLimits,
    download_day_file,
    url_hash,
)
from gex_pipeline.lib.history.url_policy import UrlPolicy

SECRET = "sig=S3CR3TSIGNATURE"
QUERY = f"sv=2024-01-01&se=2025-11-14T22%3A00%3A00Z&{SECRET}"
_RNG = random.Random(5)
DAY_JSON = json.dumps(
    [
        {"timestamp": 1763130600 + i, "strikes": [[6700 + j, _RNG.random()] for j in range(20)]}
        for i in range(300)
    ]
).encode()
DAY_GZ = gzip.compress(DAY_JSON)
FAST = DownloadLimits(read_timeout=2.0, connect_timeout=2.0, retries=2, backoff_base=0.01)


def _policy(server, *, private: bool = True, extra: tuple[str, ...] = ()) -> UrlPolicy:
    hosts = (f"127.0.0.1:{server.port}", f"localhost:{server.port}", *extra)
    return UrlPolicy(allowed_hosts=hosts, allow_http=True, allow_private=private)


def _download(server, path: str, dest: Path, limits: DownloadLimits = FAST, **kw):
    sleeps: list[float] = []
    result = download_day_file(
        server.url(path, QUERY),
        dest,
        kw.get("policy") or _policy(server),
        limits,
        sleep=sleeps.append,
    )
    return result, sleeps


def _error(server, path: str, dest: Path, limits: DownloadLimits = FAST, **kw) -> DownloadError:
    with pytest.raises(DownloadError) as info:
        _download(server, path, dest, limits, **kw)
    return info.value


def test_gzip_file_is_kept_with_its_hash_and_detected_by_magic(history_http, tmp_path):
    history_http.route("/d.json.gz", ("body", DAY_GZ))
    result, _ = _download(history_http, "/d.json.gz", tmp_path / "d.json.gz")
    assert result.path.read_bytes() == DAY_GZ
    assert result.gzip is True
    assert result.bytes == len(DAY_GZ)
    assert result.url_hash == url_hash(history_http.url("/d.json.gz", QUERY))


def test_plain_json_behind_gz_name_is_detected_as_plain(history_http, tmp_path):
    history_http.route("/d.json.gz", ("body", DAY_JSON))
    result, _ = _download(history_http, "/d.json.gz", tmp_path / "d.json.gz")
    assert result.gzip is False
    assert result.path.read_bytes() == DAY_JSON


def test_not_found_is_reported_without_retry(history_http, tmp_path):
    history_http.route("/gone.json", ("status", 404))
    error = _error(history_http, "/gone.json", tmp_path / "x")
    assert error.kind == "not_found"
    assert history_http.hits["/gone.json"] == 1


def test_forbidden_link_is_reported_as_expired_or_forbidden(history_http, tmp_path):
    history_http.route("/d.json.gz", ("status", 403))
    error = _error(history_http, "/d.json.gz", tmp_path / "x")
    assert error.kind == "forbidden_or_expired"
    assert "expired" in error.message
    assert history_http.hits["/d.json.gz"] == 1


def test_server_error_then_success_is_retried_with_growing_backoff(history_http, tmp_path):
    history_http.route("/d.json.gz", ("status", 500), ("status", 503), ("body", DAY_GZ))
    result, sleeps = _download(history_http, "/d.json.gz", tmp_path / "d.json.gz")
    assert result.bytes == len(DAY_GZ)
    assert history_http.hits["/d.json.gz"] == 3
    assert len(sleeps) == 2
    assert sleeps[1] > FAST.backoff_base / 2


def test_persistent_server_error_gives_up_after_the_retries(history_http, tmp_path):
    history_http.route("/d.json.gz", ("status", 500))
    error = _error(history_http, "/d.json.gz", tmp_path / "x")
    assert error.kind == "http_error"
    assert history_http.hits["/d.json.gz"] == FAST.retries + 1
    assert not (tmp_path / "x").exists()


def test_slow_server_times_out(history_http, tmp_path):
    history_http.route("/d.json.gz", ("slow", (1.5, DAY_GZ)))
    limits = DownloadLimits(read_timeout=0.3, connect_timeout=1.0, retries=1, backoff_base=0.01)
    error = _error(history_http, "/d.json.gz", tmp_path / "x", limits)
    assert error.kind == "timeout"
    assert history_http.hits["/d.json.gz"] == 2


def test_short_body_is_truncated_and_leaves_no_file(history_http, tmp_path):
    history_http.route("/d.json.gz", ("short", (DAY_GZ[:100], len(DAY_GZ))))
    error = _error(history_http, "/d.json.gz", tmp_path / "d.json.gz")
    assert error.kind == "truncated"
    assert list(tmp_path.iterdir()) == []


def test_cut_gzip_stream_is_truncated(history_http, tmp_path):
    history_http.route("/d.json.gz", ("body", DAY_GZ[: len(DAY_GZ) // 2]))
    error = _error(history_http, "/d.json.gz", tmp_path / "d.json.gz")
    assert error.kind == "truncated"
    assert list(tmp_path.iterdir()) == []


def test_announced_oversized_body_is_refused_before_reading(history_http, tmp_path):
    history_http.route("/d.json.gz", ("body", DAY_GZ))
    limits = DownloadLimits(max_bytes=1000, retries=0)
    error = _error(history_http, "/d.json.gz", tmp_path / "x", limits)
    assert error.kind == "too_large"
    assert list(tmp_path.iterdir()) == []


def test_unannounced_oversized_body_is_cut_at_the_cap(history_http, tmp_path):
    history_http.route("/d.json.gz", ("chunked", DAY_GZ))
    limits = DownloadLimits(max_bytes=1000, retries=0)
    error = _error(history_http, "/d.json.gz", tmp_path / "x", limits)
    assert error.kind == "too_large"
    assert list(tmp_path.iterdir()) == []


def test_redirect_to_an_allowed_host_is_followed(history_http, tmp_path):
    target = history_http.url("/real.json.gz", QUERY, host="localhost")
    history_http.route("/d.json.gz", ("redirect", target))
    history_http.route("/real.json.gz", ("body", DAY_GZ))
    result, _ = _download(history_http, "/d.json.gz", tmp_path / "d.json.gz")
    assert result.bytes == len(DAY_GZ)
    assert history_http.hits["/real.json.gz"] == 1


def test_redirect_to_a_host_off_the_list_is_refused(history_http, tmp_path):
    history_http.route("/d.json.gz", ("redirect", "http://evil.example/d.json.gz"))
    error = _error(history_http, "/d.json.gz", tmp_path / "x")
    assert error.kind == "refused_url"


def test_redirect_to_a_metadata_address_is_refused_even_when_private_is_allowed(
    history_http, tmp_path
):
    metadata = f"169.254.169.254:{history_http.port}"
    history_http.route("/d.json.gz", ("redirect", f"http://{metadata}/latest/meta-data/iam"))
    error = _error(
        history_http,
        "/d.json.gz",
        tmp_path / "x",
        policy=_policy(history_http, extra=(metadata,)),
    )
    assert error.kind == "refused_url"
    assert "169.254.169.254" in error.message


def test_host_resolving_to_loopback_is_refused_without_connecting(history_http, tmp_path):
    history_http.route("/d.json.gz", ("body", DAY_GZ))
    policy = UrlPolicy(
        allowed_hosts=(f"localhost:{history_http.port}",), allow_http=True, allow_private=False
    )
    with pytest.raises(DownloadError) as info:
        download_day_file(
            history_http.url("/d.json.gz", QUERY, host="localhost"), tmp_path / "x", policy, FAST
        )
    assert info.value.kind == "refused_url"
    assert history_http.hits == {}


@pytest.mark.parametrize(
    "url",
    [
        "https://evil.example/?hist.gex.bot",
        "https://hist.gex.bot@evil.example/2025-11-14_SPX_classic_gex_zero.json",
        "file:///etc/passwd",
        "http://hist.gex.bot/2025-11-14_SPX_classic_gex_zero.json",
    ],
)
def test_hostile_url_is_refused_at_download_time(url, tmp_path):
    policy = UrlPolicy(allowed_hosts=("hist.gex.bot",))
    with pytest.raises(DownloadError) as info:
        download_day_file(url, tmp_path / "x", policy, FAST)
    assert info.value.kind == "refused_url"


def test_host_that_does_not_resolve_fails_as_http_error(tmp_path):
    policy = UrlPolicy(allowed_hosts=("no-such-host.invalid",))
    with pytest.raises(DownloadError) as info:
        download_day_file(
            f"https://no-such-host.invalid/d.json?{QUERY}",
            tmp_path / "x",
            policy,
            DownloadLimits(retries=0),
        )
    assert info.value.kind == "http_error"
    assert "lookup" in info.value.message and "S3CR3T" not in info.value.message


def test_signed_query_appears_in_no_result_error_or_log(history_http, tmp_path, caplog):
    caplog.set_level(logging.DEBUG)
    history_http.route("/ok.json.gz", ("status", 500), ("body", DAY_GZ))
    history_http.route("/no.json.gz", ("status", 403))
    result, _ = _download(history_http, "/ok.json.gz", tmp_path / "ok.json.gz")
    error = _error(history_http, "/no.json.gz", tmp_path / "no")
    assert any(SECRET in q for q in history_http.queries)  # the server did get the signature
    shown = " ".join([repr(result), str(error), caplog.text])
    assert "S3CR3TSIGNATURE" not in shown
    assert "ok.json.gz" in caplog.text


def test_relaxed_policy_is_warned_about_on_every_download(history_http, tmp_path, caplog):
    history_http.route("/d.json.gz", ("body", DAY_GZ))
    with caplog.at_level(logging.WARNING, logger="gex_pipeline.lib.history.download"):
        _download(history_http, "/d.json.gz", tmp_path / "d.json.gz")
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any("GEX_HISTORY_ALLOW_HTTP" in m and "GEX_HISTORY_ALLOW_PRIVATE" in m for m in warnings)
    assert not any(SECRET in m for m in warnings)
