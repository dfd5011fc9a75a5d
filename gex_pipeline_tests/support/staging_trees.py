"""Builders of sealed staging segments (`gex`, `uw`) for tests, in the docs/staging.md format."""

from __future__ import annotations

import time
from pathlib import Path

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

    def seal(self, records: list[dict[str, object]], seq: int | None = None):
        """Write `records` as one sealed segment (`seq`, default the next one); return its Segment."""
        import json

        from gex_pipeline.lib.staging.layout import seq_name
        from gex_pipeline.lib.staging.reader import Segment

        if seq is None:
            self._next_seq += 1_000_000
            seq = self._next_seq
        path = self.dirs.sealed / seq_name(seq)
        path.write_text("".join(json.dumps(r) + "\n" for r in records))
        return Segment(seq, path)


UW_BASE_S = 1_763_130_600  # 2025-11-14 14:30:00 UTC = 09:30 America/New_York


class UwStagingTree:
    """Writes sealed `uw` segments whose records are made exactly as the ingest API makes them."""

    def __init__(self, staging_dir: Path) -> None:
        from gex_pipeline.lib.staging.layout import UW_STREAM, stream_dirs

        self.staging_dir = staging_dir
        self.dirs = stream_dirs(staging_dir, UW_STREAM).ensure()
        self._next_seq = time.time_ns()  # seqs are sealing times: keep them recent

    @staticmethod
    def records(messages: list[object], received_at: int = UW_BASE_S * 1000) -> list[dict]:
        """The staged records of `messages` (posted one by one), control frames dropped."""
        import json

        from gex_pipeline.lib.payloads.uw import UwControl, parse_uw

        return [
            item
            for message in messages
            for item in parse_uw(json.dumps(message), received_at)
            if not isinstance(item, UwControl)
        ]

    @staticmethod
    def messages(count: int, seed: int = 1, start_s: float = UW_BASE_S) -> list[object]:
        """`count` demo messages (`UwStream`: trades, market states, control frames)."""
        from gex_pipeline.cli.demo.uw import UwStream

        return list(UwStream(seed, start_s).messages(count))

    def seal(self, records: list[dict], seq: int | None = None):
        """Write `records` as one sealed segment (`seq`, default the next one); return its Segment."""
        import json

        from gex_pipeline.lib.staging.layout import seq_name
        from gex_pipeline.lib.staging.reader import Segment

        if seq is None:
            self._next_seq += 1_000_000
            seq = self._next_seq
        path = self.dirs.sealed / seq_name(seq)
        path.write_text("".join(json.dumps(r) + "\n" for r in records))
        return Segment(seq, path)
