"""Run a body parser inline for small bodies and in a worker thread for large ones.

Parsing a 2-4 MiB body takes tens of milliseconds even when it is refused; on the event loop that
would delay every other request. Large bodies are parsed by at most `GEX_INGEST_PARSE_THREADS`
threads, so hostile bodies queue among themselves while small snapshots stay on the fast path.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

import anyio

T = TypeVar("T")


async def parse_body(
    parse: Callable[..., T],
    body: bytes,
    *args: Any,
    inline_bytes: int,
    limiter: anyio.CapacityLimiter,
    **kwargs: Any,
) -> T:
    """`parse(body, *args, **kwargs)`, off the event loop when `body` exceeds `inline_bytes`."""
    if len(body) <= inline_bytes:
        return parse(body, *args, **kwargs)
    call = functools.partial(parse, body, *args, **kwargs)
    return await anyio.to_thread.run_sync(call, limiter=limiter)
