"""Reader side of the staging area: list sealed segments, move them to `processed/`, purge.

Writers (the ingest API) seal segments by atomic rename into `sealed/<seq>.jsonl`; segment names
sort in the order they became visible, so a reader needs only a high-water mark (the last seq).
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path

from gex_pipeline.lib.staging.durable_fs import fsync_dir, write_atomic
from gex_pipeline.lib.staging.layout import StreamDirs, seq_of

NANOS_PER_DAY = 86_400 * 1_000_000_000
REJECTED_DIR = "rejected"


@dataclass(frozen=True)
class Segment:
    """One sealed segment file."""

    seq: int
    path: Path

    @property
    def name(self) -> str:
        return self.path.name


def _segments_in(directory: Path) -> list[Segment]:
    try:
        entries = list(os.scandir(directory))
    except FileNotFoundError:
        return []
    found = []
    for entry in entries:
        seq = seq_of(entry.name)
        if seq is not None:
            found.append(Segment(seq, Path(entry.path)))
    found.sort(key=lambda segment: segment.seq)
    return found


def list_sealed(dirs: StreamDirs, after_seq: int = 0, limit: int | None = None) -> list[Segment]:
    """Sealed segments with a seq above `after_seq`, oldest first, at most `limit` of them."""
    segments = [s for s in _segments_in(dirs.sealed) if s.seq > after_seq]
    return segments if limit is None else segments[:limit]


def list_processed(dirs: StreamDirs) -> list[Segment]:
    """Processed segments (loaded, kept for replay), oldest first."""
    return _segments_in(dirs.processed)


def move_to_processed(dirs: StreamDirs, names: list[str]) -> int:
    """Move sealed segments `names` to `processed/`; return how many moved now.

    Idempotent: a segment already in `processed/` counts as done. A name found in neither
    directory raises FileNotFoundError naming it (data would otherwise be silently unaccounted for).
    """
    dirs.processed.mkdir(parents=True, exist_ok=True)
    moved = 0
    for name in names:
        source, target = dirs.sealed / name, dirs.processed / name
        try:
            os.replace(source, target)
            moved += 1
        except FileNotFoundError:
            if not target.exists():
                raise FileNotFoundError(
                    f"segment {name} is neither in {dirs.sealed} nor in {dirs.processed}"
                ) from None
    if moved:
        fsync_dir(dirs.processed)
        fsync_dir(dirs.sealed)
    return moved


def rejected_dir(dirs: StreamDirs) -> Path:
    """Where segments whose content cannot be loaded are set aside (kept, never purged)."""
    return dirs.root / REJECTED_DIR


def reject_segment(dirs: StreamDirs, name: str, reason: str) -> Path:
    """Move sealed segment `name` to `rejected/` with a `<name>.error.txt` next to it; return its path.

    Idempotent like `move_to_processed`.
    """
    target_dir = rejected_dir(dirs)
    target_dir.mkdir(parents=True, exist_ok=True)
    target = target_dir / name
    note = target_dir / f"{name}.error.txt"
    write_atomic(note, (reason + "\n").encode())
    try:
        os.replace(dirs.sealed / name, target)
    except FileNotFoundError:
        if not target.exists():
            raise FileNotFoundError(
                f"segment {name} is neither in {dirs.sealed} nor in {target_dir}"
            ) from None
    fsync_dir(target_dir)
    fsync_dir(dirs.sealed)
    return target


def purge_processed(dirs: StreamDirs, retention_days: int, now_ns: int | None = None) -> list[str]:
    """Delete processed segments sealed more than `retention_days` ago; return their names.

    The age comes from the seq (nanoseconds since the epoch at sealing), not from file times.
    """
    if retention_days < 0:
        raise ValueError(f"retention_days must be >= 0, got {retention_days}")
    cutoff = (time.time_ns() if now_ns is None else now_ns) - retention_days * NANOS_PER_DAY
    purged = []
    for segment in _segments_in(dirs.processed):
        if segment.seq < cutoff:
            segment.path.unlink(missing_ok=True)
            purged.append(segment.name)
    return purged


def segment_feeds(path: Path) -> set[tuple[str, str]]:
    """The `(ticker, endpoint)` pairs of the records in one gex segment (lines that are not JSON are skipped)."""
    feeds: set[tuple[str, str]] = set()
    with path.open("rb") as handle:
        for line in handle:
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if isinstance(record, dict):
                ticker, endpoint = record.get("ticker"), record.get("endpoint")
                if isinstance(ticker, str) and isinstance(endpoint, str):
                    feeds.add((ticker, endpoint))
    return feeds
