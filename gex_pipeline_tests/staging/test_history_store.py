"""History request files and status records (real files, real encryption key)."""

from __future__ import annotations

import hashlib
import stat
from datetime import date
from pathlib import Path

import pytest

from gex_pipeline.lib.payloads.history import HistoryRequest
from gex_pipeline.lib.staging.history_store import HistoryStore, UnknownRequestId, request_id_for

FILE = "2025-11-14_NQ_NDX_classic_gex_zero.json.gz"
URL_KEY = f"https://nfagexbotresearch.blob.core.windows.net/hist/{FILE}"


def _request(sig: str, overrides: dict[str, str] | None = None) -> HistoryRequest:
    url = f"{URL_KEY}?sv=2024-01-01&sig={sig}"
    return HistoryRequest(
        url=url,
        url_key=URL_KEY,
        url_hash=hashlib.sha256(url.encode()).hexdigest(),
        ticker="NQ_NDX",
        endpoint="gex_zero",
        trade_date=date(2025, 11, 14),
        file_name=FILE,
        overrides=overrides or {},
        metadata=None,
    )


@pytest.fixture
def store(data_dir: Path, secrets_dir: Path) -> HistoryStore:
    return HistoryStore(data_dir, secrets_dir)


def test_saved_request_loads_with_decrypted_signed_url(store: HistoryStore) -> None:
    saved = store.save_request(_request("FIRSTSIG", {"ticker": "NDX"}), now_ms=1_000)
    loaded = store.load_request(saved.id)
    assert loaded is not None
    assert loaded.signed_url.endswith("sig=FIRSTSIG")
    assert (loaded.url, loaded.ticker, loaded.overrides) == (URL_KEY, "NQ_NDX", {"ticker": "NDX"})
    assert (loaded.post_count, loaded.first_posted_at, loaded.last_posted_at) == (1, 1_000, 1_000)


def test_signed_url_is_not_stored_in_clear(store: HistoryStore, data_dir: Path) -> None:
    saved = store.save_request(_request("SECRETSIG"), now_ms=1_000)
    raw = (store.dirs.requests / f"{saved.id}.json").read_text()
    assert "SECRETSIG" not in raw
    assert "sig=" not in raw


def test_key_file_is_created_owner_only(store: HistoryStore) -> None:
    store.save_request(_request("S"), now_ms=1_000)
    assert stat.S_IMODE(store.key_path.stat().st_mode) == 0o600


def test_repost_of_same_file_collapses_and_keeps_newest_signed_url(store: HistoryStore) -> None:
    first = store.save_request(_request("OLD"), now_ms=1_000)
    second = store.save_request(_request("NEW"), now_ms=2_000)
    loaded = store.load_request(first.id)
    assert second.id == first.id == request_id_for(URL_KEY)
    assert (first.created, second.created, second.post_count) == (True, False, 2)
    assert loaded is not None
    assert loaded.signed_url.endswith("sig=NEW")
    assert (loaded.first_posted_at, loaded.last_posted_at) == (1_000, 2_000)
    assert store.list_request_ids() == [first.id]


def test_unknown_request_loads_as_none(store: HistoryStore) -> None:
    assert store.load_request("0" * 32) is None
    assert store.read_status("0" * 32) is None


def test_malformed_request_id_is_refused(store: HistoryStore) -> None:
    with pytest.raises(UnknownRequestId):
        store.load_request("../../secrets/history_url")


def test_status_round_trips(store: HistoryStore) -> None:
    saved = store.save_request(_request("S"), now_ms=1_000)
    store.write_status(saved.id, "done", now_ms=5_000, rows={"snapshots": 3}, run_id="r1")
    assert store.read_status(saved.id) == {
        "id": saved.id,
        "state": "done",
        "rows": {"snapshots": 3},
        "reason": None,
        "updated_at": 5_000,
        "run_id": "r1",
    }


def test_unknown_status_state_is_refused(store: HistoryStore) -> None:
    with pytest.raises(ValueError, match="state"):
        store.write_status("0" * 32, "finished", now_ms=1)
    assert store.read_status("0" * 32) is None
