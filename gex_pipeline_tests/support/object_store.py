"""A real S3-compatible server for tests: moto in server mode on 127.0.0.1 (conditional puts)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from gex_pipeline.lib.lake.tables import Lake
from gex_pipeline_tests.support.servers import free_port

BUCKET = "gex-lake"
START_TIMEOUT_S = 60.0
# Any credentials do for moto; giving them keeps the client from asking an instance-metadata
# service for some.
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "test-key", "AWS_SECRET_ACCESS_KEY": "test-secret"}


@dataclass
class ObjectStore:
    """A running moto server with one bucket."""

    endpoint: str
    proc: subprocess.Popen[bytes]
    log_path: Path

    def env(self, prefix: str) -> dict[str, str]:
        """The settings of a lake under `s3://gex-lake/<prefix>` on this server."""
        return {
            "GEX_LAKE_URI": f"s3://{BUCKET}/{prefix}",
            "GEX_LAKE_S3_ENDPOINT": self.endpoint,
            "GEX_LAKE_S3_REGION": "us-east-1",
            "GEX_LAKE_S3_ACCESS_KEY_ID": CREDENTIALS["AWS_ACCESS_KEY_ID"],
            "GEX_LAKE_S3_SECRET_ACCESS_KEY": CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
            "GEX_LAKE_S3_ALLOW_HTTP": "1",
        }

    def lake(self, prefix: str | None = None, host: str | None = None) -> Lake:
        """A lake under a fresh (or the given) prefix of the bucket."""
        from gex_pipeline.lib.lake.remote import lake_of
        from gex_pipeline.settings import LakeSettings, PathSettings

        settings = LakeSettings.read(self.env(prefix or uuid.uuid4().hex))
        found = lake_of(PathSettings(), settings)
        return Lake(found.root, found.storage_options, host=host or found.host)

    def object_keys(self, prefix: str = "") -> list[str]:
        """Object keys under `prefix` of the bucket."""
        return sorted(o["Key"] for o in self._objects(prefix))

    def _objects(self, prefix: str) -> list[dict]:
        client = _client(self.endpoint)
        pages = client.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=prefix)
        return [o for page in pages for o in page.get("Contents", [])]

    def stop(self) -> None:
        """Stop the server (its process group)."""
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)


def _client(endpoint: str):  # type: ignore[no-untyped-def]
    import boto3

    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id=CREDENTIALS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
    )


def start_object_store(log_dir: Path) -> ObjectStore:
    """Start moto's S3 server on a free port of 127.0.0.1 and create the bucket."""
    import httpx

    port = free_port()
    log_path = log_dir / f"moto-{port}.log"
    with log_path.open("ab") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    store = ObjectStore(f"http://127.0.0.1:{port}", proc, log_path)
    deadline = time.monotonic() + START_TIMEOUT_S
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"moto exited {proc.returncode}: {log_path.read_text()}")
        try:
            httpx.get(store.endpoint, timeout=1.0)
            break
        except httpx.TransportError:
            if time.monotonic() > deadline:
                store.stop()
                raise RuntimeError(f"moto did not answer within {START_TIMEOUT_S} s") from None
            time.sleep(0.1)
    _client(store.endpoint).create_bucket(Bucket=BUCKET)
    return store
