"""The history store: key outside the data directory (and migrated), links erased when finished,
failed links never replace a waiting one, pending requests bounded, finished ones pruned."""

from __future__ import annotations

import hashlib
import stat
from datetime import date
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from gex_pipeline.lib.payloads.history import HistoryRequest
from gex_pipeline.lib.staging.history_store import (
    HistoryStore,
    LinkAlreadyFailed,
    TooManyPending,
)
from gex_pipeline.lib.staging.link_key import KEY_FILE_NAME, legacy_key_path

BLOB = "https://nfagexbotresearch.blob.core.windows.net/hist/"
DAY_MS = 86_400_000


def _request(sig: str, day: int = 14) -> HistoryRequest:
    name = f"2025-11-{day:02d}_SPX_classic_gex_zero.json.gz"
    url = f"{BLOB}{name}?sv=1&sig={sig}"
    return HistoryRequest(
        url=url,
        url_key=f"{BLOB}{name}",
        url_hash=hashlib.sha256(url.encode()).hexdigest(),
        ticker="SPX",
        endpoint="gex_zero",
        trade_date=date(2025, 11, day),
        file_name=name,
        overrides={},
        metadata=None,
    )


@pytest.fixture
def store(data_dir: Path, secrets_dir: Path) -> HistoryStore:
    return HistoryStore(data_dir, secrets_dir)


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def test_key_is_created_in_the_secrets_dir_owner_only_never_in_the_data_dir(
    store: HistoryStore, data_dir: Path, secrets_dir: Path
) -> None:
    store.save_request(_request("S"), now_ms=1)
    assert store.key_path == secrets_dir / KEY_FILE_NAME
    assert stat.S_IMODE(secrets_dir.stat().st_mode) == 0o700
    assert stat.S_IMODE(store.key_path.stat().st_mode) == 0o600
    assert not any(KEY_FILE_NAME in name for name in _files(data_dir))


def test_store_reads_its_secrets_dir_from_the_environment(
    data_dir: Path, secrets_dir: Path
) -> None:
    assert HistoryStore(data_dir, secrets_dir).key_path == secrets_dir / KEY_FILE_NAME


def test_key_left_in_the_data_dir_is_moved_and_old_links_still_decrypt(
    data_dir: Path, secrets_dir: Path
) -> None:
    legacy = legacy_key_path(data_dir)
    legacy.parent.mkdir(mode=0o700)
    key = Fernet.generate_key()
    legacy.write_bytes(key)
    # a request saved by the older layout (its key in the data dir)
    old = HistoryStore(data_dir, secrets_dir)
    saved = old.save_request(_request("OLDSIG"), now_ms=1)
    assert not legacy.exists() and (secrets_dir / KEY_FILE_NAME).read_bytes().strip() == key
    fresh = HistoryStore(data_dir, secrets_dir).load_request(saved.id)
    assert fresh is not None and fresh.signed_url is not None
    assert fresh.signed_url.endswith("sig=OLDSIG")


def test_links_encrypted_with_a_legacy_key_decrypt_when_both_keys_exist(
    data_dir: Path, secrets_dir: Path
) -> None:
    legacy = legacy_key_path(data_dir)
    legacy.parent.mkdir(mode=0o700)
    legacy.write_bytes(Fernet.generate_key())
    (data_dir / "staging").mkdir()
    secrets_dir.mkdir(mode=0o700)
    (secrets_dir / KEY_FILE_NAME).write_bytes(Fernet.generate_key())
    writer = HistoryStore(data_dir, secrets_dir)
    saved = writer.save_request(_request("X"), now_ms=1)
    path = writer.dirs.requests / f"{saved.id}.json"
    # rewrite the link as the older version did: encrypted with the data-dir key
    import json

    record = json.loads(path.read_bytes())
    record["signed_url"] = Fernet(legacy.read_bytes()).encrypt(b"https://h/x?sig=LEGACY").decode()
    path.write_text(json.dumps(record))
    loaded = HistoryStore(data_dir, secrets_dir).load_request(saved.id)
    assert loaded is not None and loaded.signed_url == "https://h/x?sig=LEGACY"


def test_repr_of_a_stored_request_never_shows_the_link(store: HistoryStore) -> None:
    saved = store.save_request(_request("REPRSIG"), now_ms=1)
    loaded = store.load_request(saved.id)
    assert "REPRSIG" not in repr(loaded) and "sig=" not in repr(loaded)


@pytest.mark.parametrize("state", ["done", "failed"])
def test_finished_request_has_its_link_erased(store: HistoryStore, state: str) -> None:
    saved = store.save_request(_request("GONE"), now_ms=1)
    store.write_status(saved.id, state, now_ms=2)
    loaded = store.load_request(saved.id)
    assert loaded is not None and loaded.signed_url is None
    assert b'signed_url":null' in (store.dirs.requests / f"{saved.id}.json").read_bytes()


def test_a_newer_link_posted_while_the_run_worked_is_kept(store: HistoryStore) -> None:
    first = _request("FIRST")
    saved = store.save_request(first, now_ms=1)
    store.save_request(_request("SECOND"), now_ms=2)
    store.write_status(saved.id, "failed", now_ms=3, url_hash=first.url_hash)
    loaded = store.load_request(saved.id)
    assert loaded is not None and loaded.signed_url is not None
    assert loaded.signed_url.endswith("sig=SECOND")


def test_repost_of_a_failed_link_is_refused_and_changes_nothing(store: HistoryStore) -> None:
    failed = _request("EXPIRED")
    saved = store.save_request(failed, now_ms=1)
    store.write_status(saved.id, "failed", now_ms=2, url_hash=failed.url_hash)
    store.save_request(_request("FRESH"), now_ms=3)
    before = _files(store.dirs.root)
    with pytest.raises(LinkAlreadyFailed):
        store.save_request(failed, now_ms=4)
    assert _files(store.dirs.root) == before
    loaded = store.load_request(saved.id)
    assert loaded is not None and loaded.signed_url is not None
    assert loaded.signed_url.endswith("sig=FRESH")


def test_pending_requests_are_bounded_but_reposts_of_waiting_ones_pass(
    store: HistoryStore,
) -> None:
    store.save_request(_request("A", day=10), now_ms=1, max_pending=2)
    store.save_request(_request("B", day=11), now_ms=2, max_pending=2)
    before = _files(store.dirs.root)
    with pytest.raises(TooManyPending):
        store.save_request(_request("C", day=12), now_ms=3, max_pending=2)
    assert _files(store.dirs.root) == before
    assert store.save_request(_request("A2", day=10), now_ms=4, max_pending=2).post_count == 2


def test_finished_requests_are_pruned_after_the_retention_waiting_ones_never(
    store: HistoryStore,
) -> None:
    old = store.save_request(_request("OLD", day=10), now_ms=1)
    recent = store.save_request(_request("NEW", day=11), now_ms=1)
    waiting = store.save_request(_request("WAIT", day=12), now_ms=1)
    store.write_status(old.id, "done", now_ms=1_000)
    store.write_status(recent.id, "failed", now_ms=5 * DAY_MS)
    store.write_status(waiting.id, "pending", now_ms=1_000)
    assert store.prune_finished(now_ms=7 * DAY_MS, retention_ms=3 * DAY_MS) == 1
    assert store.list_request_ids() == sorted([recent.id, waiting.id])
    assert store.read_status(old.id) is None
