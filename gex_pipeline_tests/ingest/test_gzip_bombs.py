"""A small gzip that expands beyond `GEX_HISTORY_MAX_DECOMPRESSED_BYTES` fails the download or the
unwrap with a clear reason (real HTTP server on 127.0.0.1, real files)."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from gex_pipeline.lib.history.day_format import DayFileInvalid, sniff_day_file, unwrap_array
from gex_pipeline.lib.history.download import DownloadError, download_day_file
from gex_pipeline.lib.history.url_policy import UrlPolicy
from gex_pipeline.settings import DownloadLimits
from gex_pipeline_tests.support.servers import HistoryHttpServer

MIB = 2**20


def _bomb(size: int) -> bytes:
    """A JSON array of `size` bytes of whitespace, gzip'ed (a few KiB per 10 MiB)."""
    return gzip.compress(b"[" + b" " * (size - 2) + b"]", compresslevel=9)


def test_download_of_a_gzip_expanding_beyond_the_cap_fails_and_keeps_nothing(
    history_http: HistoryHttpServer, tmp_path: Path
) -> None:
    bomb = _bomb(64 * MIB)
    assert len(bomb) < MIB
    history_http.route("/b.json.gz", ("body", bomb))
    policy = UrlPolicy((f"127.0.0.1:{history_http.port}",), allow_http=True, allow_private=True)
    limits = DownloadLimits(retries=0, max_decompressed_bytes=8 * MIB)
    with pytest.raises(DownloadError) as caught:
        download_day_file(history_http.url("/b.json.gz", "sig=X"), tmp_path / "b", policy, limits)
    assert caught.value.kind == "too_large"
    assert "decompresses to more than" in caught.value.message
    assert "sig=X" not in str(caught.value)
    assert list(tmp_path.iterdir()) == []


def test_download_within_the_cap_is_kept(history_http: HistoryHttpServer, tmp_path: Path) -> None:
    history_http.route("/ok.json.gz", ("body", _bomb(4 * MIB)))
    policy = UrlPolicy((f"127.0.0.1:{history_http.port}",), allow_http=True, allow_private=True)
    limits = DownloadLimits(retries=0, max_decompressed_bytes=8 * MIB)
    result = download_day_file(history_http.url("/ok.json.gz"), tmp_path / "ok", policy, limits)
    assert result.gzip and result.path.exists()


def test_unwrap_of_a_wrapped_gzip_beyond_the_cap_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "day.json.gz"
    padding = b" " * (32 * MIB)
    path.write_bytes(gzip.compress(b'{"data": [' + padding + b"]}", compresslevel=9))
    form = sniff_day_file(path)
    assert form.layout == "wrapped"
    with pytest.raises(DayFileInvalid, match="GEX_HISTORY_MAX_DECOMPRESSED_BYTES"):
        unwrap_array(path, form, tmp_path / "out.json", max_bytes=8 * MIB)


def test_unwrap_within_the_cap_copies_the_array(tmp_path: Path) -> None:
    path = tmp_path / "day.json.gz"
    rows = [{"timestamp": 1763130600, "spot": 1.0}]
    path.write_bytes(gzip.compress(json.dumps({"data": rows}).encode()))
    out = unwrap_array(path, sniff_day_file(path), tmp_path / "out.json", max_bytes=MIB)
    assert json.loads(out.read_bytes()) == rows
