"""The webhooks domain's definitions stay light: no DuckDB or polars at import."""

from __future__ import annotations

import subprocess
import sys


def test_webhook_definitions_import_neither_duckdb_nor_polars() -> None:
    code = (
        "import sys\n"
        "import gex_pipeline.defs.webhooks.definitions\n"
        "print(sorted(m for m in ('duckdb', 'polars') if m in sys.modules))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stdout.strip() == "[]"
