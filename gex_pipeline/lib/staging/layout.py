"""Paths and names of the staging area (`$GEX_DATA_DIR/staging`).

```
staging/
  <stream>/open/<pid>-<token>.jsonl.open   being appended by one API worker; never read by the pipeline
  <stream>/sealed/<seq>.jsonl              complete segments, visible to the pipeline (atomic rename)
  <stream>/processed/<seq>.jsonl           moved here by the pipeline after the data is committed
  <stream>/.seal.lock                      flock held while a segment is sealed (keeps <seq> increasing)
  <stream>/.seal.seq                       last <seq> handed out
  history/requests/<id>.json               one historical-import request (replaced atomically on re-post)
  history/status/<id>.json                 import status written by the pipeline, read by the API
```

`<stream>` is `gex` (live snapshots) or `uw` (webhook messages). `<seq>` is a 20-digit zero-padded
integer (nanoseconds since the epoch at sealing, bumped to stay strictly increasing), so sealed segment
names sort in the order they became visible: the sensors keep a high-water mark, not a list.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar, Self

GEX_STREAM = "gex"
UW_STREAM = "uw"
STREAMS: tuple[str, ...] = (GEX_STREAM, UW_STREAM)

SEALED_SUFFIX = ".jsonl"
OPEN_SUFFIX = ".jsonl.open"
SEQ_DIGITS = 20


def seq_name(seq: int) -> str:
    """File name of the sealed segment with sequence number `seq`."""
    return f"{seq:0{SEQ_DIGITS}d}{SEALED_SUFFIX}"


def seq_of(name: str) -> int | None:
    """Sequence number of a sealed segment file name, or None when the name is not one."""
    stem = name.removesuffix(SEALED_SUFFIX)
    if stem == name or len(stem) != SEQ_DIGITS or not stem.isdigit():
        return None
    return int(stem)


class _Below:
    """The path `name` below the `root` of a directories object (a class attribute)."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __get__(self, dirs: _Dirs | None, owner: type | None = None) -> Path:
        if dirs is None:
            raise AttributeError(self.name)
        return dirs.root / self.name


@dataclass(frozen=True)
class _Dirs:
    """Directories below `root`; `MADE` names those `ensure` creates."""

    MADE: ClassVar[tuple[str, ...]] = ()
    root: Path

    def ensure(self) -> Self:
        """Create the directories when missing; return self."""
        for name in self.MADE:
            (self.root / name).mkdir(parents=True, exist_ok=True)
        return self


@dataclass(frozen=True)
class StreamDirs(_Dirs):
    """The directories of one staging stream."""

    MADE = ("open", "sealed", "processed")
    open = _Below("open")
    sealed = _Below("sealed")
    processed = _Below("processed")
    seal_lock = _Below(".seal.lock")
    seal_seq = _Below(".seal.seq")


def stream_dirs(staging_dir: Path, stream: str) -> StreamDirs:
    """Directories of `stream` (`gex` or `uw`) under `staging_dir`."""
    if stream not in STREAMS:
        raise ValueError(f"unknown staging stream {stream!r}")
    return StreamDirs(staging_dir / stream)


@dataclass(frozen=True)
class HistoryDirs(_Dirs):
    """Directories of historical-import requests and their status records."""

    MADE = ("requests", "status")
    requests = _Below("requests")
    status = _Below("status")


def history_dirs(staging_dir: Path) -> HistoryDirs:
    """Directories of historical-import requests under `staging_dir`."""
    return HistoryDirs(staging_dir / "history")
