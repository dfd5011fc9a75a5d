"""The webhooks domain's definitions stay light: no polars at import (duckdb comes with
dagster-duckdb's DuckDBResource, which the shared resource builds on)."""

from __future__ import annotations

import subprocess
import sys


def test_webhook_definitions_do_not_import_polars() -> None:
    code = (
        "import sys\n"
        "import gex_pipeline.defs.webhooks.definitions\n"
        "print(sorted(m for m in ('polars',) if m in sys.modules))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stdout.strip() == "[]"
