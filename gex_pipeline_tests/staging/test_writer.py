"""The group-commit segment writer and the recovery of orphaned segments (real files, real flock)."""

from __future__ import annotations

import asyncio
import fcntl
import json
import os
import time
from pathlib import Path

import pytest

from gex_pipeline.lib.staging.layout import StreamDirs, seq_of, stream_dirs
from gex_pipeline.lib.staging.writer import (
    Overloaded,
    SegmentWriter,
    recover_orphans,
    valid_prefix_length,
)


def _line(n: int) -> bytes:
    return json.dumps({"id": f"r{n}", "n": n}).encode() + b"\n"


def _sealed_ids(dirs: StreamDirs) -> list[str]:
    ids = []
    for path in sorted(dirs.sealed.iterdir()):
        ids.extend(json.loads(line)["id"] for line in path.read_bytes().splitlines())
    return ids


@pytest.fixture
def dirs(tmp_path: Path) -> StreamDirs:
    return stream_dirs(tmp_path / "staging", "gex").ensure()


def _orphan(dirs: StreamDirs, content: bytes, name: str = "999-dead.jsonl.open") -> Path:
    path = dirs.open / name
    path.write_bytes(content)
    return path


def test_acknowledged_records_are_sealed_on_close(dirs: StreamDirs) -> None:
    async def scenario() -> None:
        writer = SegmentWriter(dirs)
        await writer.start()
        for n in range(3):
            await writer.append(_line(n))
        await writer.aclose()

    asyncio.run(scenario())
    assert _sealed_ids(dirs) == ["r0", "r1", "r2"]
    assert list(dirs.open.iterdir()) == []


def test_concurrent_appends_share_fsync_batches(dirs: StreamDirs) -> None:
    async def scenario() -> SegmentWriter:
        writer = SegmentWriter(dirs)
        await writer.start()
        await asyncio.gather(*(writer.append(_line(n)) for n in range(50)))
        await writer.aclose()
        return writer

    writer = asyncio.run(scenario())
    assert writer.stats.records == 50
    assert writer.stats.batches < 50


def test_segment_is_sealed_when_it_reaches_the_size_limit(dirs: StreamDirs) -> None:
    async def scenario() -> None:
        writer = SegmentWriter(dirs, seal_bytes=1)
        await writer.start()
        await writer.append(_line(0))
        await writer.append(_line(1))
        await writer.aclose()

    asyncio.run(scenario())
    assert [p.read_bytes() for p in sorted(dirs.sealed.iterdir())] == [_line(0), _line(1)]


def test_segment_is_sealed_by_age_without_further_writes(dirs: StreamDirs) -> None:
    async def scenario() -> list[str]:
        writer = SegmentWriter(dirs, seal_age_s=0.05)
        await writer.start()
        await writer.append(_line(0))
        deadline = time.monotonic() + 10
        while not list(dirs.sealed.iterdir()) and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        ids = _sealed_ids(dirs)
        await writer.aclose()
        return ids

    assert asyncio.run(scenario()) == ["r0"]


def test_sealed_segment_names_strictly_increase(dirs: StreamDirs) -> None:
    async def scenario() -> None:
        writer = SegmentWriter(dirs, seal_bytes=1)
        await writer.start()
        for n in range(5):
            await writer.append(_line(n))
        await writer.aclose()

    asyncio.run(scenario())
    names = sorted(p.name for p in dirs.sealed.iterdir())
    seqs = [seq_of(name) for name in names]
    assert len(set(seqs)) == 5
    assert _sealed_ids(dirs) == [f"r{n}" for n in range(5)]


def test_writer_closed_without_records_leaves_no_segment(dirs: StreamDirs) -> None:
    async def scenario() -> None:
        writer = SegmentWriter(dirs)
        await writer.start()
        await writer.aclose()

    asyncio.run(scenario())
    assert list(dirs.sealed.iterdir()) == []
    assert list(dirs.open.iterdir()) == []


def test_full_queue_refuses_with_overloaded(dirs: StreamDirs) -> None:
    async def scenario() -> list[BaseException | None]:
        writer = SegmentWriter(dirs, max_pending=1)
        await writer.start()
        results = await asyncio.gather(
            writer.append(_line(0)), writer.append(_line(1)), return_exceptions=True
        )
        await writer.aclose()
        return results

    results = asyncio.run(scenario())
    assert results[0] is None
    assert isinstance(results[1], Overloaded)
    assert _sealed_ids(dirs) == ["r0"]


def test_start_recovers_orphaned_segment(dirs: StreamDirs) -> None:
    _orphan(dirs, _line(7) + b'{"id": "torn')

    async def scenario() -> None:
        writer = SegmentWriter(dirs)
        await writer.start()
        await writer.aclose()

    asyncio.run(scenario())
    assert _sealed_ids(dirs) == ["r7"]


def test_recovery_cuts_torn_tail_and_seals(dirs: StreamDirs) -> None:
    _orphan(dirs, _line(0) + _line(1) + b'{"id": "r2", "n"')
    sealed = recover_orphans(dirs)
    assert len(sealed) == 1
    assert sealed[0].read_bytes() == _line(0) + _line(1)
    assert list(dirs.open.iterdir()) == []


def test_recovery_cuts_everything_after_first_invalid_line(dirs: StreamDirs) -> None:
    _orphan(dirs, _line(0) + b"\x00\x00\x00\x00\n" + _line(2))
    recover_orphans(dirs)
    assert _sealed_ids(dirs) == ["r0"]


def test_recovery_deletes_segment_without_complete_line(dirs: StreamDirs) -> None:
    _orphan(dirs, b'{"id": "r0"')
    assert recover_orphans(dirs) == []
    assert list(dirs.open.iterdir()) == []
    assert list(dirs.sealed.iterdir()) == []


def test_recovery_leaves_segment_locked_by_live_writer(dirs: StreamDirs) -> None:
    path = _orphan(dirs, _line(0), name=f"{os.getpid()}-live.jsonl.open")
    fd = os.open(path, os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        assert recover_orphans(dirs) == []
    finally:
        os.close(fd)
    assert path.exists()


def test_valid_prefix_stops_at_line_that_is_not_an_object() -> None:
    data = _line(0) + b"[1, 2]\n" + _line(2)
    assert valid_prefix_length(data) == len(_line(0))
