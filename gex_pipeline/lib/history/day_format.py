"""Recognise the layout of a day file (gzip or not; JSON array, JSON Lines or wrapped array).

Vendors serve a JSON array of snapshots, sometimes JSON Lines, sometimes an object wrapping the array
(`{"data" | "snapshots" | "records": [...]}`), gzip or plain whatever the name says. DuckDB parses
arrays and lines in a streaming way, but not one 300 MB object: a wrapped array is copied out of its
wrapper into a plain array file first (one sequential pass, no JSON parsing in Python).
"""

from __future__ import annotations

import gzip
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Literal

GZIP_MAGIC = b"\x1f\x8b"
# The largest real day file is about 300 MB of JSON; a gzip that expands beyond this is refused
# (`GEX_HISTORY_MAX_DECOMPRESSED_BYTES`), so a small bomb cannot fill the disk or stall a run.
MAX_DECOMPRESSED_BYTES = 2 * 1024**3
WRAPPER_KEYS: tuple[str, ...] = ("data", "snapshots", "records")
_PREFIX_BYTES = 1 << 20
_TAIL_BYTES = 4096
_COPY_CHUNK = 1 << 22

# Members before the array may be scalars or flat objects (`{"meta": {...}, "data": [`).
_SCALAR = r'"(?:[^"\\]|\\.)*"|-?[\d.eE+-]+|true|false|null|\{[^{}]*\}'
_WRAPPED_START = re.compile(
    rb'\A\s*\{\s*(?:"(?:[^"\\]|\\.)*"\s*:\s*(?:' + _SCALAR.encode() + rb")\s*,\s*)*"
    rb'"(' + "|".join(WRAPPER_KEYS).encode() + rb')"\s*:\s*\['
)
_WRAPPED_END = re.compile(rb"\]\s*\}\s*\Z")

Layout = Literal["array", "lines", "wrapped"]


class DayFileInvalid(ValueError):
    """The day file cannot be imported; the message says why (and nothing was changed)."""


@dataclass(frozen=True)
class DayFileForm:
    """How a day file is encoded."""

    gzip: bool
    layout: Layout


def is_gzip_file(path: Path) -> bool:
    """True when the file starts with the gzip magic bytes (whatever its name says)."""
    with path.open("rb") as fh:
        return fh.read(2) == GZIP_MAGIC


def _open(path: Path, compressed: bool) -> IO[bytes]:
    return gzip.open(path, "rb") if compressed else path.open("rb")


def sniff_day_file(path: Path) -> DayFileForm:
    """Detect compression by magic bytes and the JSON layout from the first bytes of content."""
    compressed = is_gzip_file(path)
    try:
        with _open(path, compressed) as fh:
            prefix = fh.read(_PREFIX_BYTES)
    except (OSError, EOFError) as exc:
        raise DayFileInvalid(f"file: cannot read the start of the day file ({exc})") from None
    head = prefix.lstrip()
    if head.startswith(b"["):
        return DayFileForm(compressed, "array")
    if not head.startswith(b"{"):
        raise DayFileInvalid("file: a day file must start with '[' or '{'")
    first_line = head.split(b"\n", 1)[0]
    try:
        first = json.loads(first_line)
    except ValueError:
        first = None
    if isinstance(first, dict) and not any(isinstance(first.get(k), list) for k in WRAPPER_KEYS):
        return DayFileForm(compressed, "lines")
    if _WRAPPED_START.match(prefix):
        return DayFileForm(compressed, "wrapped")
    raise DayFileInvalid(
        "file: an object that is neither JSON Lines nor a wrapper with a "
        f"{' / '.join(WRAPPER_KEYS)} array"
    )


def _copy_capped(src: IO[bytes], out: IO[bytes], budget: int) -> None:
    """Copy `src` to `out`; `DayFileInvalid` once more than `budget` bytes would be written."""
    while chunk := src.read(_COPY_CHUNK):
        budget -= len(chunk)
        if budget < 0:
            raise DayFileInvalid(
                "file: decompresses to more than GEX_HISTORY_MAX_DECOMPRESSED_BYTES "
                "(a gzip bomb, or the cap is too low for this file)"
            )
        out.write(chunk)


def unwrap_array(
    path: Path, form: DayFileForm, dest: Path, max_bytes: int = MAX_DECOMPRESSED_BYTES
) -> Path:
    """Copy the array out of a wrapped day file into `dest` (plain JSON array); return `dest`.

    The array must be the wrapper's last member (`..., "data": [...]}`); otherwise the file is
    refused with a message saying so. A file holding more than `max_bytes` (decompressed) is
    refused too.
    """
    try:
        with _open(path, form.gzip) as src:
            prefix = src.read(_PREFIX_BYTES)
            match = _WRAPPED_START.match(prefix)
            if match is None:
                raise DayFileInvalid("file: no data/snapshots/records array at the top level")
            with dest.open("wb") as out:
                out.write(prefix[match.end() - 1 :])
                _copy_capped(src, out, max_bytes - len(prefix))
    except (OSError, EOFError) as exc:
        raise DayFileInvalid(f"file: cannot read the wrapped day file ({exc})") from None
    size = dest.stat().st_size
    with dest.open("r+b") as out:
        out.seek(max(0, size - _TAIL_BYTES))
        tail = out.read()
        end = _WRAPPED_END.search(tail)
        if end is None:
            raise DayFileInvalid(
                "file: the wrapped array must be the last member of the object and end with ']}'"
            )
        out.truncate(size - len(tail) + end.start() + 1)
    return dest
