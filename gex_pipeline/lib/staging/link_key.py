"""The key that encrypts signed history links, kept outside the data directory.

The key lives in `GEX_SECRETS_DIR` (default `~/.config/gex-pipeline`, created 0700; the key file
0600), so a copied or backed-up data directory holds only ciphertext. Older versions kept it at
`<data_dir>/secrets/history_url.key`: such a key is moved to the secrets directory on first use (the
links it encrypted stay readable); when both exist, both decrypt and the new one encrypts.
"""

from __future__ import annotations

import contextlib
import logging
import os
import secrets
from pathlib import Path

from cryptography.fernet import Fernet, MultiFernet

from gex_pipeline.lib.staging.durable_fs import fsync_dir

KEY_FILE_NAME = "history_url.key"
LEGACY_DIR_NAME = "secrets"

log = logging.getLogger(__name__)


def legacy_key_path(data_dir: Path) -> Path:
    """Where versions before the secrets directory kept the key."""
    return data_dir / LEGACY_DIR_NAME / KEY_FILE_NAME


def _create(path: Path, key: bytes) -> None:
    """Create `path` 0600 holding `key` unless it exists (race-free across processes)."""
    if not path.parent.exists():
        path.parent.mkdir(parents=True, mode=0o700)
        os.chmod(path.parent, 0o700)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(fd, key)
        os.fsync(fd)
    finally:
        os.close(fd)
    with contextlib.suppress(FileExistsError):
        os.link(tmp, path)
    tmp.unlink()
    fsync_dir(path.parent)


def _migrate(legacy: Path, path: Path) -> None:
    """Move the key out of the data directory (copy 0600, then delete the old file)."""
    _create(path, legacy.read_bytes().strip())
    if path.read_bytes().strip() == legacy.read_bytes().strip():
        legacy.unlink(missing_ok=True)
        with contextlib.suppress(OSError):
            legacy.parent.rmdir()
        log.info("moved the history link key out of the data directory to %s", path)


def link_cipher(secrets_dir: Path, data_dir: Path) -> MultiFernet:
    """The cipher of signed links: encrypts with the key in `secrets_dir` (created on first use),
    decrypts with it or with a key still left in the data directory."""
    path = secrets_dir / KEY_FILE_NAME
    legacy = legacy_key_path(data_dir)
    if not path.exists():
        if legacy.exists():
            _migrate(legacy, path)
        else:
            _create(path, Fernet.generate_key())
    keys = [Fernet(path.read_bytes().strip())]
    if legacy.exists():
        keys.append(Fernet(legacy.read_bytes().strip()))
    return MultiFernet(keys)
