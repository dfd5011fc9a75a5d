"""Read a request body with a size cap, refusing (413) without buffering an oversized body.

`Content-Encoding: gzip` / `deflate` bodies are decoded with the same cap on the decoded size (so a
small compressed bomb is refused too); any other encoding is refused 415.
"""

from __future__ import annotations

import asyncio
import zlib

from fastapi import Request
from starlette.requests import ClientDisconnect

from ingest_api.errors import ApiError

# zlib `wbits` per accepted Content-Encoding (47 = gzip or zlib header, auto-detected).
_WBITS = {"identity": None, "gzip": 47, "x-gzip": 47, "deflate": 47}


def _too_large(limit: int) -> ApiError:
    return ApiError(413, "body", f"body larger than {limit} bytes")


class _Decoder:
    """Incremental decoder of one Content-Encoding, enforcing `limit` on the decoded bytes."""

    def __init__(self, encoding: str, limit: int) -> None:
        wbits = _WBITS.get(encoding)
        self._zlib = zlib.decompressobj(wbits) if wbits is not None else None
        self._limit = limit
        self.size = 0

    def feed(self, chunk: bytes, final: bool = False) -> bytes:
        if self._zlib is not None:
            try:
                chunk = self._zlib.decompress(chunk, self._limit + 1 - self.size)
                if final:
                    chunk += self._zlib.flush()
            except zlib.error as exc:
                raise ApiError(400, "body", f"body is not valid compressed data: {exc}") from exc
            if final and not self._zlib.eof:
                raise ApiError(400, "body", "compressed body is truncated")
            if self._zlib.unused_data:
                raise ApiError(400, "body", "bytes after the end of the compressed body")
            if self._zlib.unconsumed_tail:
                raise _too_large(self._limit)
        self.size += len(chunk)
        if self.size > self._limit:
            raise _too_large(self._limit)
        return chunk


async def read_body(request: Request, limit: int, timeout_s: float) -> bytes:
    """The raw (decoded) body of `request`, at most `limit` bytes; `ApiError` 413 beyond that.

    A body that does not arrive within `timeout_s` (`GEX_INGEST_BODY_TIMEOUT_S`) is refused 408.
    """
    try:
        async with asyncio.timeout(timeout_s):
            return await _read(request, limit)
    except TimeoutError as exc:
        raise ApiError(408, "body", f"body not received within {timeout_s} s") from exc


async def _read(request: Request, limit: int) -> bytes:
    encoding = request.headers.get("content-encoding", "identity").strip().lower() or "identity"
    if encoding not in _WBITS:
        raise ApiError(415, "content-encoding", f"unsupported content encoding {encoding[:40]!r}")
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise _too_large(limit)
    decoder = _Decoder(encoding, limit)
    chunks: list[bytes] = []
    try:
        async for chunk in request.stream():
            chunks.append(decoder.feed(chunk))
    except ClientDisconnect as exc:
        raise ApiError(499, "body", "client closed the connection before the body ended") from exc
    chunks.append(decoder.feed(b"", final=True))
    return b"".join(chunks)
