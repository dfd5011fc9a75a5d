"""Signed queries never reach a log line, whichever HTTP library logger prints the URL."""

from __future__ import annotations

import gzip
import json
import logging
from pathlib import Path

import pytest

from gex_pipeline.lib.history.download import download_day_file
from gex_pipeline.lib.history.url_policy import UrlPolicy, redact_text
from gex_pipeline.settings import DownloadLimits
from gex_pipeline_tests.support.servers import HistoryHttpServer

DAY = gzip.compress(json.dumps([{"timestamp": 1763130600, "spot": 1.0}]).encode())


def test_redirect_location_with_a_signature_is_redacted_in_debug_logs(
    history_http: HistoryHttpServer, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    target = history_http.url("/d.json.gz", "sv=1&sig=REDIRECT-SIG-NEVER-LOGGED")
    history_http.route("/r.json.gz", ("redirect", target))
    history_http.route("/d.json.gz", ("body", DAY))
    policy = UrlPolicy((f"127.0.0.1:{history_http.port}",), allow_http=True, allow_private=True)
    download_day_file(
        history_http.url("/r.json.gz", "sv=1&sig=FIRST-SIG-NEVER-LOGGED"),
        tmp_path / "d.json.gz",
        policy,
        DownloadLimits(retries=0),
    )
    assert any("REDIRECT-SIG" in q for q in history_http.queries)
    assert any(r.name.startswith("httpcore") for r in caplog.records), "httpcore logged nothing"
    assert "SIG-NEVER-LOGGED" not in caplog.text
    assert "/d.json.gz?<redacted>" in caplog.text


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "GET https://h.example/a/b.json?sv=1&sig=X done",
            "GET https://h.example/a/b.json?<redacted> done",
        ),
        (
            "[(b'Location', b'https://h/x.gz?sig=X')]",
            "[(b'Location', b'https://h/x.gz?<redacted>')]",
        ),
        ("GET /x.json?token=abc HTTP/1.1", "GET /x.json?<redacted> HTTP/1.1"),
        ("nothing to hide?", "nothing to hide?"),
    ],
)
def test_redact_text_drops_every_query_string(text: str, expected: str) -> None:
    assert redact_text(text) == expected
