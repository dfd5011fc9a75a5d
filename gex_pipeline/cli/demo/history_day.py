"""Write a GEXBot-style history day file (`YYYY-MM-DD_<TICKER>_classic_<endpoint>.json[.gz]`).

The file holds one snapshot per second from 09:30 New York time (`timestamp` in epoch seconds),
optionally with injected defects; a manifest (`<file name>.manifest.json`) sits next to it. Output
is byte-identical for identical arguments. Snapshots carry no `endpoint` field: like the vendor's
files, the endpoint is only in the file name.
"""

from __future__ import annotations

import datetime as dt
import gzip
import hashlib
import json
import os
import random
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import IO, Any

from gex_pipeline.cli.demo.defects import (
    DayManifest,
    DefectInjector,
    parse_defect_kinds,
    plan_defects,
    truncate_file,
)
from gex_pipeline.cli.demo.market import check_endpoint, profile_for
from gex_pipeline.cli.demo.model import FeedModel
from gex_pipeline.cli.demo.session import parse_trade_date, session_bounds, session_seconds

FORMS: tuple[str, ...] = ("array", "wrapped", "jsonl")
MANIFEST_SUFFIX = ".manifest.json"
GZIP_LEVEL = 1
_BATCH = 64


def day_file_name(trade_date: dt.date, ticker: str, endpoint: str, compressed: bool = True) -> str:
    """The vendor's file name for one feed-day, e.g. `2025-11-14_NQ_NDX_classic_gex_zero.json.gz`."""
    suffix = ".json.gz" if compressed else ".json"
    return f"{trade_date.isoformat()}_{ticker}_classic_{endpoint}{suffix}"


@dataclass(frozen=True)
class DaySpec:
    """Arguments of one generated day file. `snapshots=None` means the whole session (23,400; 12,600 on an early close)."""

    trade_date: dt.date
    ticker: str = "SPX"
    endpoint: str = "gex_zero"
    seed: int = 0
    snapshots: int | None = None
    strikes: int = 100
    compressed: bool = True
    form: str = "array"
    defects: tuple[str, ...] = ()
    cadence: int = 1

    def validated(self) -> DaySpec:
        """This spec with the ticker upper-cased; a ValueError names the first bad field."""
        ticker = profile_for(self.ticker).ticker
        check_endpoint(self.endpoint)
        if self.form not in FORMS:
            raise ValueError(f"form: must be one of {', '.join(FORMS)}, got {self.form!r}")
        if not 1 <= self.cadence <= 3600:
            raise ValueError(f"cadence: must be between 1 and 3600 seconds, got {self.cadence}")
        session = self.session_seconds()
        if self.snapshots is not None and not 1 <= self.snapshots <= session:
            raise ValueError(f"snapshots: must be between 1 and {session}, got {self.snapshots}")
        if not 2 <= self.strikes <= 1000:
            raise ValueError(f"strikes: must be between 2 and 1000, got {self.strikes}")
        return replace(self, ticker=ticker, defects=parse_defect_kinds(self.defects))

    def session_seconds(self) -> int:
        """Snapshots in the session of the trade date at the spec's cadence."""
        return session_seconds(self.trade_date) // self.cadence

    @property
    def snapshot_count(self) -> int:
        """Clean in-session snapshots to generate."""
        return self.session_seconds() if self.snapshots is None else self.snapshots

    @property
    def file_name(self) -> str:
        """File name of the day file."""
        return day_file_name(self.trade_date, self.ticker, self.endpoint, self.compressed)

    @property
    def seed_key(self) -> str:
        """Key of every RNG of this feed-day: same key, same data."""
        key = f"{self.seed}:{self.ticker}:{self.endpoint}:{self.trade_date.isoformat()}"
        return key if self.cadence == 1 else f"{key}:{self.cadence}"


@dataclass(frozen=True)
class DayFile:
    """A written day file, its manifest file and the manifest itself."""

    path: Path
    manifest_path: Path
    manifest: DayManifest


def clean_snapshots(spec: DaySpec) -> Iterator[dict[str, Any]]:
    """The defect-free snapshots of `spec`, one per `cadence` seconds from the session's open."""
    spec = spec.validated()
    model = FeedModel(profile_for(spec.ticker), spec.endpoint, spec.seed_key, spec.strikes)
    open_ts, _ = session_bounds(spec.trade_date)
    for i in range(spec.snapshot_count):
        yield model.snapshot(open_ts + i * spec.cadence)


def _write_records(fh: IO[bytes], records: Iterator[dict[str, Any]], form: str) -> None:
    encode = json.JSONEncoder(separators=(",", ":"), check_circular=False).encode
    head, sep, tail = {"array": ("[", ",", "]"), "wrapped": ('{"data":[', ",", "]}")}.get(
        form, ("", "\n", "\n")
    )
    fh.write(head.encode())
    batch: list[str] = []
    lead = ""
    for record in records:
        batch.append(encode(record))
        if len(batch) == _BATCH:
            fh.write((lead + sep.join(batch)).encode())
            lead = sep
            batch.clear()
    if batch:
        fh.write((lead + sep.join(batch)).encode())
    fh.write(tail.encode())


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def write_day_file(out_dir: Path, spec: DaySpec) -> DayFile:
    """Write the day file of `spec` into `out_dir` (created when missing) and its manifest.

    The file is written under a `.part` name and renamed when complete, so a watcher never sees a
    half-written file (a requested `truncated` defect is applied before the rename).
    """
    spec = spec.validated()
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / spec.file_name
    part = out_dir / (spec.file_name + ".part")
    open_ts, close_ts = session_bounds(spec.trade_date)
    plan = plan_defects(
        spec.defects, spec.snapshot_count, random.Random(f"defects:{spec.seed_key}")
    )
    injector = DefectInjector(plan, open_ts, close_ts, profile_for(spec.ticker).tick, spec.cadence)
    records = injector.apply(clean_snapshots(spec), spec.snapshot_count)
    try:
        with part.open("wb") as raw:
            if spec.compressed:
                with gzip.GzipFile(
                    filename="", mode="wb", fileobj=raw, compresslevel=GZIP_LEVEL, mtime=0
                ) as gz:
                    _write_records(gz, records, spec.form)
            else:
                _write_records(raw, records, spec.form)
        defects = list(injector.defects)
        if plan.truncate_fraction is not None:
            defects.append(truncate_file(part, plan.truncate_fraction))
        os.replace(part, path)
    finally:
        part.unlink(missing_ok=True)
    manifest = DayManifest(
        file_name=spec.file_name,
        ticker=spec.ticker,
        endpoint=spec.endpoint,
        trade_date=spec.trade_date.isoformat(),
        seed=spec.seed,
        form=spec.form,
        compressed=spec.compressed,
        strikes_per_snapshot=spec.strikes,
        session_open=open_ts,
        session_close=close_ts,
        clean_snapshots=spec.snapshot_count,
        records=injector.records,
        bytes=path.stat().st_size,
        sha256=_sha256(path),
        defects=tuple(defects),
        cadence=spec.cadence,
    )
    manifest_path = out_dir / (spec.file_name + MANIFEST_SUFFIX)
    manifest_path.write_text(manifest.to_json(), encoding="utf-8")
    return DayFile(path=path, manifest_path=manifest_path, manifest=manifest)


def make_day_file(
    out_dir: Path,
    trade_date: str | dt.date = "2025-11-14",
    ticker: str = "SPX",
    endpoint: str = "gex_zero",
    *,
    snapshots: int | None = 300,
    defects: str | tuple[str, ...] = (),
    **options: Any,
) -> DayFile:
    """Test/benchmark helper: a small day file (300 snapshots unless told) in `out_dir`.

    `options` are the other `DaySpec` fields (seed, strikes, compressed, form, cadence), with its
    defaults."""
    day = parse_trade_date(trade_date)
    spec = DaySpec(day, ticker, endpoint, snapshots=snapshots, defects=parse_defect_kinds(defects))
    return write_day_file(out_dir, replace(spec, **options))
