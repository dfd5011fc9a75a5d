"""Read a request body with a size cap, refusing (413) without buffering an oversized body."""

from __future__ import annotations

from fastapi import Request

from ingest_api.errors import ApiError


def _too_large(limit: int) -> ApiError:
    return ApiError(413, "body", f"body larger than {limit} bytes")


async def read_body(request: Request, limit: int) -> bytes:
    """The raw body of `request`, at most `limit` bytes; `ApiError` 413 beyond that."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise _too_large(limit)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise _too_large(limit)
        chunks.append(chunk)
    return b"".join(chunks)
