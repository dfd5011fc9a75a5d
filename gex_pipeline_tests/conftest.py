"""Shared fixtures. Add new fixtures below; do not change existing ones (several suites rely on them)."""

from __future__ import annotations

from pathlib import Path

import pytest

from gex_pipeline.lib.settings import Settings


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty data directory, exported as GEX_DATA_DIR (DAGSTER_HOME inside it)."""
    path = tmp_path / "data"
    path.mkdir()
    monkeypatch.setenv("GEX_DATA_DIR", str(path))
    monkeypatch.setenv("DAGSTER_HOME", str(path / "dagster_home"))
    (path / "dagster_home").mkdir()
    return path


@pytest.fixture
def settings(data_dir: Path) -> Settings:
    """Settings for the temp data directory."""
    return Settings.from_env()


# --- GEX pipeline fixtures (issue 4) ---------------------------------------------------------

GEX_BASE_MS = 1_763_130_600_000  # 2025-11-14 14:30:00 UTC = 09:30 America/New_York


class GexStagingTree:
    """Writes sealed `gex` segments (docs/staging.md format) into a temp staging area."""

    def __init__(self, staging_dir: Path) -> None:
        import time

        from gex_pipeline.lib.staging.layout import GEX_STREAM, stream_dirs

        self.staging_dir = staging_dir
        self.dirs = stream_dirs(staging_dir, GEX_STREAM).ensure()
        self._next_seq = time.time_ns()  # seqs are sealing times: keep them recent
        self._ids = 0

    def record(
        self,
        ticker: str = "SPX",
        endpoint: str = "gex_zero",
        timestamp: int = GEX_BASE_MS,
        *,
        kind: str = "snapshot",
        spot: float = 6734.25,
        strikes: list[list[object]] | None = None,
        **fields: object,
    ) -> dict[str, object]:
        """One normalised gex record; strikes default to three rows with priors."""
        self._ids += 1
        record: dict[str, object] = {
            "id": f"{self._ids:032x}",
            "received_at": timestamp + 150,
            "ticker": ticker,
            "endpoint": endpoint,
            "kind": kind,
            "timestamp": timestamp,
            "spot": spot,
            "zero_gamma": 6708.6,
            "sum_gex_vol": 1712585.519,
            "sum_gex_oi": 51521.105,
            "major_pos_vol": 6735.0,
            "major_neg_vol": 6700.0,
            "major_pos_oi": 6800.0,
            "major_neg_oi": 6500.0,
            "min_dte": 0,
            "sec_min_dte": 1,
            "delta_risk_reversal": 0.118,
            "max_priors": [[6740.0, 170979.742], [6735.0, 1145886.722]],
            "max_change": None,
            "strikes": strikes
            if strikes is not None
            else [
                [6700.0, -25.94, -8.91, [-11.9, -28.49, -55.89, -19.29, -31.29]],
                [6735.0, 132.54, 9.27, [127.89, 99.27, 91.41, 80.33, 77.31]],
                [6740.0, 5.5, None, None],
            ],
            "extra": None,
        }
        record.update(fields)
        return record

    def seal(self, records: list[dict[str, object]]):
        """Write `records` as one sealed segment (next seq); return its Segment."""
        import json

        from gex_pipeline.lib.staging.layout import seq_name
        from gex_pipeline.lib.staging.reader import Segment

        self._next_seq += 1_000_000
        path = self.dirs.sealed / seq_name(self._next_seq)
        path.write_text("".join(json.dumps(r) + "\n" for r in records))
        return Segment(self._next_seq, path)


@pytest.fixture
def gex_staging(data_dir: Path) -> GexStagingTree:
    """An empty `gex` staging stream under the temp data directory, with record/segment builders."""
    return GexStagingTree(data_dir / "staging")
