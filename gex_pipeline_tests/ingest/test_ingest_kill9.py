"""Nothing acknowledged is lost when the server is killed with SIGKILL at arbitrary instants."""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from gex_pipeline_tests.support.servers import IngestServer

PAYLOADS = 2_000
CONCURRENCY = 16
KILLS = 4


def _snapshot(n: int) -> dict[str, object]:
    return {
        "ticker": "NQ_NDX",
        "timestamp": 1763130600 + n,
        "spot": 25190.75,
        "strikes": [[25097.21 + i, -393.404, -1911.78] for i in range(20)],
    }


async def _post_until_acked(server: IngestServer) -> tuple[dict[int, str], int]:
    """Post every payload, retrying until acknowledged, while another task kills the server."""
    acked: dict[int, str] = {}
    retries = 0
    todo = list(range(PAYLOADS))
    random.Random(7).shuffle(todo)

    async def client_loop(client: httpx.AsyncClient) -> None:
        nonlocal retries
        while todo:
            n = todo.pop()
            while True:
                try:
                    answer = await client.post(f"{server.base_url}/gex", json=_snapshot(n))
                except httpx.TransportError:
                    answer = None
                if answer is not None and answer.status_code == 202:
                    acked[n] = answer.json()["id"]
                    break
                assert answer is None or answer.status_code == 503, answer.text
                retries += 1
                await asyncio.sleep(0.05)

    async def killer() -> None:
        rng = random.Random(11)
        for _ in range(KILLS):
            await asyncio.sleep(rng.uniform(0.3, 1.0))
            await asyncio.to_thread(server.kill)
            await asyncio.to_thread(server.start)

    async with httpx.AsyncClient(timeout=10) as client:
        kill_task = asyncio.create_task(killer())
        await asyncio.gather(*(client_loop(client) for _ in range(CONCURRENCY)))
        await kill_task
    return acked, retries


@pytest.mark.e2e
def test_acknowledged_payloads_survive_repeated_kill_9(
    ingest_server: Callable[..., IngestServer], data_dir: Path
) -> None:
    server = ingest_server(GEX_INGEST_SEAL_AGE_MS="300")
    acked, retries = asyncio.run(_post_until_acked(server))
    server.kill()  # leave an unsealed segment behind for recovery
    server.start()
    assert server.stop()

    sealed_ids: set[str] = set()
    for path in (data_dir / "staging" / "gex" / "sealed").glob("*.jsonl"):
        data = path.read_bytes()
        assert data.endswith(b"\n")
        sealed_ids.update(json.loads(line)["id"] for line in data.splitlines())
    assert len(acked) == PAYLOADS
    assert retries > 0  # the kills really interrupted the clients
    assert "recovered" in server.log()  # and left unsealed segments that start-up recovered
    assert set(acked.values()) <= sealed_ids
    assert list((data_dir / "staging" / "gex" / "open").iterdir()) == []
