"""`gex-pipeline demo`: history-file, payloads, and run against the real ingest API."""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from gex_pipeline.cli import main
from gex_pipeline.cli.demo.history_day import make_day_file
from gex_pipeline.lib.payloads.gex import parse_gex
from gex_pipeline.lib.payloads.uw import UwControl, parse_uw
from gex_pipeline.lib.staging.history_store import HistoryStore
from gex_pipeline_tests.support.servers import IngestServer, free_port

START = "2025-11-14T14:30:00Z"
NOW_MS = 1763134200000


def test_history_file_prints_the_file_and_manifest_paths(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(
        f"demo history-file --ticker NQ_NDX --date 2025-11-14 --out {tmp_path} --snapshots 20 --strikes 5".split()
    )
    lines = capsys.readouterr().out.splitlines()
    assert code == 0
    assert lines == [
        str(tmp_path / "2025-11-14_NQ_NDX_classic_gex_zero.json.gz"),
        str(tmp_path / "2025-11-14_NQ_NDX_classic_gex_zero.json.gz.manifest.json"),
    ]
    assert json.loads(Path(lines[1]).read_text())["records"] == 20


def test_history_file_options_reach_the_file(tmp_path: Path) -> None:
    code = main(
        f"demo history-file --date 2025-11-14 --out {tmp_path} --plain --form jsonl --snapshots 10 --strikes 7 --endpoint gex_full".split()
    )
    lines = (tmp_path / "2025-11-14_SPX_classic_gex_full.json").read_text().splitlines()
    assert code == 0
    assert len(lines) == 10 and {len(json.loads(line)["strikes"]) for line in lines} == {7}


def test_history_file_with_defects_lists_them_in_the_manifest(tmp_path: Path) -> None:
    main(
        f"demo history-file --date 2025-11-14 --out {tmp_path} --snapshots 400 --strikes 5 --defects gap,duplicate".split()
    )
    manifest = json.loads(next(tmp_path.glob("*.manifest.json")).read_text())
    assert sorted(d["kind"] for d in manifest["defects"]) == ["duplicate", "gap"]


@pytest.mark.parametrize("hash_seed", ["1", "2"])
def test_history_file_bytes_do_not_depend_on_the_process(tmp_path: Path, hash_seed: str) -> None:
    args = "demo history-file --ticker ES_SPX --date 2025-11-14 --seed 9 --snapshots 120"
    args += f" --defects gap,duplicate,spike --out {tmp_path / 'there'}"
    command = [sys.executable, "-m", "gex_pipeline.cli", *args.split()]
    env = {**os.environ, "PYTHONHASHSEED": hash_seed}
    subprocess.run(command, env=env, check=True, capture_output=True)
    here = make_day_file(
        tmp_path / "here",
        "2025-11-14",
        "ES_SPX",
        seed=9,
        snapshots=120,
        defects="gap,duplicate,spike",
    )
    assert (tmp_path / "there" / here.path.name).read_bytes() == here.path.read_bytes()


def test_history_file_refuses_an_unknown_defect_and_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    code = main(
        ["demo", "history-file", "--date", "2025-11-14", "--out", str(out), "--defects", "hole"]
    )
    assert code == 2
    assert "defects" in capsys.readouterr().err
    assert not out.exists()


def test_payloads_gex_prints_bodies_the_gex_parser_accepts(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code = main(["demo", "payloads", "--count", "22", "--start", START, "--strikes", "5"])
    lines = capsys.readouterr().out.splitlines()
    assert code == 0 and len(lines) == 22
    records = [parse_gex(line, NOW_MS) for line in lines]
    assert {r["ticker"] for r in records} == {"SPX", "NQ_NDX"}


def test_payloads_uw_prints_messages_the_uw_parser_accepts(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code = main(["demo", "payloads", "--kind", "uw", "--count", "30", "--start", START])
    lines = capsys.readouterr().out.splitlines()
    items = [item for line in lines for item in parse_uw(line, NOW_MS)]
    assert code == 0 and len(items) == 30
    assert any(isinstance(i, UwControl) for i in items)
    assert any(isinstance(i, dict) and i["form"] == "object" for i in items)


def test_payloads_with_a_fixed_start_are_deterministic(capsys: pytest.CaptureFixture[str]) -> None:
    args = ["demo", "payloads", "--count", "6", "--start", "1763130600", "--strikes", "5"]
    main(args)
    first = capsys.readouterr().out
    main(args)
    assert capsys.readouterr().out == first


def test_payloads_refuse_a_naive_start_naming_the_field(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code = main(["demo", "payloads", "--start", "2025-11-14T09:30:00"])
    assert code == 2
    assert "start" in capsys.readouterr().err


def test_run_without_an_api_exits_1_naming_the_url(capsys: pytest.CaptureFixture[str]) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    assert main(["demo", "run", "--api", url, "--seconds", "1"]) == 1
    assert f"no ingest API answers at {url}" in capsys.readouterr().out


def test_run_refuses_a_stream_shorter_than_a_second(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "run", "--seconds", "0"]) == 2
    assert "seconds" in capsys.readouterr().err


def _play_the_pipeline(
    store: HistoryStore, found: dict[str, object], stop: threading.Event
) -> None:
    """Stand in for the Dagster history import: download the queued URL and report it done."""
    while not stop.is_set():
        ids = store.list_request_ids()
        if ids:
            request = store.load_request(ids[0])
            assert request is not None
            raw = httpx.get(request.signed_url, timeout=10).content
            snapshots = json.loads(gzip.decompress(raw))
            found.update(url=request.signed_url, snapshots=len(snapshots))
            store.write_status(
                ids[0], "done", now_ms=int(time.time() * 1000), rows={"snapshots": len(snapshots)}
            )
            return
        time.sleep(0.1)


@pytest.mark.e2e
def test_run_pushes_live_uw_and_a_served_history_file_through_the_api(
    ingest_server: Callable[..., IngestServer],
    data_dir: Path,
    secrets_dir: Path,
    staged: Callable[[str], list[dict[str, object]]],
    capsys: pytest.CaptureFixture[str],
) -> None:
    port = free_port()
    server = ingest_server(
        GEX_HISTORY_ALLOW_HTTP="1",
        GEX_HISTORY_ALLOW_PRIVATE="1",
        GEX_HISTORY_ALLOWED_HOSTS=f"127.0.0.1:{port}",
    )
    found: dict[str, object] = {}
    stop = threading.Event()
    pipeline = threading.Thread(
        target=_play_the_pipeline, args=(HistoryStore(data_dir, secrets_dir), found, stop)
    )
    pipeline.start()
    try:
        code = main(
            f"demo run --api {server.base_url} --seconds 2 --file-server-port {port} --history-timeout 30".split()
        )
    finally:
        stop.set()
        pipeline.join()
    out = capsys.readouterr().out
    assert code == 0, out
    assert "history import: done" in out
    assert found["snapshots"] == 300
    assert str(found["url"]).startswith(f"http://127.0.0.1:{port}/")
    assert sorted(r["ticker"] for r in staged("gex")) == ["NQ_NDX", "NQ_NDX", "SPX", "SPX"]
    assert len(staged("uw")) == 4


@pytest.mark.e2e
def test_run_prints_the_settings_to_set_when_the_history_url_is_refused(
    ingest_server: Callable[..., IngestServer], capsys: pytest.CaptureFixture[str]
) -> None:
    server = ingest_server()
    port = free_port()
    code = main(
        f"demo run --api {server.base_url} --seconds 1 --file-server-port {port} --history-timeout 1".split()
    )
    out = capsys.readouterr().out
    assert code == 1
    assert "POST /gex_history_url: REFUSED 422 url" in out
    assert (
        f"GEX_HISTORY_ALLOW_HTTP=1 GEX_HISTORY_ALLOW_PRIVATE=1 GEX_HISTORY_ALLOWED_HOSTS=127.0.0.1:{port}"
        in out
    )
