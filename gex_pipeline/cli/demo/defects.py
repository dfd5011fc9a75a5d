"""Injected defects for day files, and the manifest that records exactly what was injected.

A `DefectPlan` picks, from a seeded RNG, which in-session seconds get which defect. The
`DefectInjector` applies the plan to a stream of clean snapshots and records every defect with its
exact timestamps and record positions (0-based index in the written array / lines), so integrity
checks can be scored against the manifest.

Kinds:
- `gap`: the seconds `start..end` (inclusive) are missing;
- `duplicate`: a second record with the same timestamp follows the first (its `spot` is one tick
  higher, so keep-first is observable); positions of both records;
- `spike`: one record's `spot` is multiplied by `factor` (detail `spot`, `spiked_spot`);
- `zero`: one record whose numbers are all 0 (spot, levels, sums, walls, strike values, priors);
- `out_of_session`: a block of records before 09:30 or from 16:05 New York time;
- `truncated`: the file on disk is cut to `bytes_kept` of `bytes_full` bytes (a broken download);
- `late_start` / `early_end`: the first / last snapshots of the session are missing (`start..end`);
- `wrong_date`: a block of records stamped on the next day is appended to the file.

Timestamps advance by the feed's cadence (`cadence` seconds, 1 by default).
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gex_pipeline.lib.payloads.gex import LEVEL_FIELDS

DEFECT_KINDS: tuple[str, ...] = (
    "gap",
    "duplicate",
    "spike",
    "zero",
    "out_of_session",
    "truncated",
    "late_start",
    "early_end",
    "wrong_date",
)
_EDGE_KINDS = ("late_start", "early_end")
_POINT_KINDS = ("duplicate", "spike", "zero")
_MAX_ATTEMPTS = 1000
BEFORE_OPEN_SECONDS = 900
AFTER_CLOSE_SECONDS = 300


def parse_defect_kinds(value: str | Sequence[str]) -> tuple[str, ...]:
    """Kinds from a comma list or a sequence; a ValueError names the field and the bad kind."""
    items = value.split(",") if isinstance(value, str) else list(value)
    kinds = tuple(item.strip() for item in items if item.strip())
    for kind in kinds:
        if kind not in DEFECT_KINDS:
            raise ValueError(f"defects: unknown kind {kind!r} (known: {', '.join(DEFECT_KINDS)})")
    for once in ("truncated", *_EDGE_KINDS):
        if kinds.count(once) > 1:
            raise ValueError(f"defects: {once!r} can be given once")
    return kinds


@dataclass(frozen=True)
class Defect:
    """One injected defect: timestamps in epoch seconds, positions as 0-based record indices."""

    kind: str
    timestamps: tuple[int, ...] = ()
    positions: tuple[int, ...] = ()
    start: int | None = None
    end: int | None = None
    detail: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (lists instead of tuples)."""
        return {
            "kind": self.kind,
            "timestamps": list(self.timestamps),
            "positions": list(self.positions),
            "start": self.start,
            "end": self.end,
            "detail": dict(self.detail),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Defect:
        """Inverse of `to_dict`."""
        return cls(
            kind=data["kind"],
            timestamps=tuple(data.get("timestamps", ())),
            positions=tuple(data.get("positions", ())),
            start=data.get("start"),
            end=data.get("end"),
            detail=dict(data.get("detail", {})),
        )


@dataclass(frozen=True)
class DefectPlan:
    """Where each requested defect goes, as indices into the clean in-session seconds."""

    gaps: tuple[tuple[int, int], ...] = ()
    duplicates: tuple[int, ...] = ()
    spikes: tuple[tuple[int, float], ...] = ()
    zeros: tuple[int, ...] = ()
    out_of_session: tuple[tuple[str, int, int], ...] = ()
    truncate_fraction: float | None = None
    late_start: int = 0
    early_end: int = 0
    wrong_date: tuple[int, ...] = ()


def plan_defects(kinds: Sequence[str], n: int, rng: random.Random) -> DefectPlan:
    """Place `kinds` over `n` clean seconds without overlaps (first and last second stay clean)."""
    kinds = parse_defect_kinds(kinds)
    used = bytearray(n)
    gaps: list[tuple[int, int]] = []
    points: dict[str, list[int]] = {kind: [] for kind in _POINT_KINDS}
    spikes: list[tuple[int, float]] = []
    outside: list[tuple[str, int, int]] = []
    fraction: float | None = None
    edges = {kind: 0 for kind in _EDGE_KINDS}
    for kind in _EDGE_KINDS:  # placed first: the other defects then avoid them
        if kind in kinds:
            edges[kind] = rng.randint(max(1, n // 20), max(1, n // 8))
            lo = 0 if kind == "late_start" else n - edges[kind]
            used[lo : lo + edges[kind]] = b"\x01" * edges[kind]
    wrong_date: list[int] = []
    first_side = rng.choice(("before", "after"))
    for kind in kinds:
        if kind in _EDGE_KINDS:
            continue
        if kind == "wrong_date":
            wrong_date.append(rng.randint(2, 10))
        elif kind == "gap":
            length = rng.randint(max(1, n // 200), max(1, n // 40))
            start = _free_slot(used, length, rng, kind)
            gaps.append((start, start + length - 1))
        elif kind in _POINT_KINDS:
            index = _free_slot(used, 1, rng, kind)
            points[kind].append(index)
            if kind == "spike":
                spikes.append((index, round(rng.choice((-1, 1)) * rng.uniform(0.03, 0.08), 4)))
        elif kind == "out_of_session":
            j = len(outside)
            side = first_side if j % 2 == 0 else ("after" if first_side == "before" else "before")
            outside.append((side, rng.randint(3, 30), j // 2))
        else:
            fraction = round(rng.uniform(0.3, 0.9), 4)
    return DefectPlan(
        gaps=tuple(sorted(gaps)),
        duplicates=tuple(sorted(points["duplicate"])),
        spikes=tuple(sorted(spikes)),
        zeros=tuple(sorted(points["zero"])),
        out_of_session=tuple(outside),
        truncate_fraction=fraction,
        late_start=edges["late_start"],
        early_end=edges["early_end"],
        wrong_date=tuple(wrong_date),
    )


def _free_slot(used: bytearray, length: int, rng: random.Random, kind: str) -> int:
    """A start index of `length` unused seconds with a clean second on each side; marks them."""
    n = len(used)
    if n - 2 - length >= 1:
        for _ in range(_MAX_ATTEMPTS):
            start = rng.randint(1, n - 1 - length)
            if not any(used[start - 1 : start + length + 1]):
                used[start : start + length] = b"\x01" * length
                return start
    raise ValueError(f"defects: not enough snapshots ({n}) to place another {kind!r}")


def zeroed(snapshot: dict[str, Any]) -> dict[str, Any]:
    """A copy of `snapshot` with every number 0 (strike prices kept, priors zeroed)."""
    zero = 0.0
    out = dict(snapshot)
    for key in (*LEVEL_FIELDS, "delta_risk_reversal"):
        out[key] = zero
    out["strikes"] = [[row[0], zero, zero, [zero] * 5] for row in snapshot["strikes"]]
    out["max_priors"] = [[zero, zero] for _ in snapshot["max_priors"]]
    return out


@dataclass
class DefectInjector:
    """Applies a `DefectPlan` to a stream of clean snapshots and records what it did."""

    plan: DefectPlan
    open_ts: int
    close_ts: int
    tick: float
    cadence: int = 1
    defects: list[Defect] = field(default_factory=list, init=False)
    records: int = field(default=0, init=False)

    def _outside_timestamps(self, side: str, count: int, block: int) -> list[int]:
        if side == "before":
            first = self.open_ts - BEFORE_OPEN_SECONDS * (block + 1)
        else:
            first = self.close_ts + AFTER_CLOSE_SECONDS + BEFORE_OPEN_SECONDS * block
        return [first + k for k in range(count)]

    def _emit_outside(self, side: str, template: dict[str, Any]) -> Iterator[dict[str, Any]]:
        for plan_side, count, block in self.plan.out_of_session:
            if plan_side != side:
                continue
            stamps = self._outside_timestamps(side, count, block)
            positions = tuple(range(self.records, self.records + count))
            for ts in stamps:
                self.records += 1
                yield dict(template, timestamp=ts)
            self.defects.append(
                Defect("out_of_session", tuple(stamps), positions, detail={"side": side})
            )

    def _emit_wrong_date(self, template: dict[str, Any]) -> Iterator[dict[str, Any]]:
        """Blocks stamped on the next day (24 h after the open, one block per hour)."""
        for block, count in enumerate(self.plan.wrong_date):
            first = self.open_ts + 86_400 + 3_600 * block
            stamps = [first + k * self.cadence for k in range(count)]
            positions = tuple(range(self.records, self.records + count))
            for ts in stamps:
                self.records += 1
                yield dict(template, timestamp=ts)
            self.defects.append(Defect("wrong_date", tuple(stamps), positions))

    def _edge_gaps(self, n: int) -> dict[int, tuple[int, int]]:
        edges: dict[int, tuple[int, int]] = {}
        plan = self.plan
        for kind, lo, hi in (
            ("late_start", 0, plan.late_start - 1),
            ("early_end", n - plan.early_end, n - 1),
        ):
            if hi >= lo:
                self.defects.append(
                    Defect(
                        kind,
                        start=self.open_ts + lo * self.cadence,
                        end=self.open_ts + hi * self.cadence,
                        detail={"missing": hi - lo + 1},
                    )
                )
                edges.update(dict.fromkeys(range(lo, hi + 1), (lo, hi)))
        return edges

    def apply(
        self, snapshots: Iterable[dict[str, Any]], count: int | None = None
    ) -> Iterator[dict[str, Any]]:
        """Yield the records to write, in order, for the clean in-session `snapshots` (`count`
        of them: needed for `early_end`)."""
        missing = {i: (s, e) for s, e in self.plan.gaps for i in range(s, e + 1)}
        edges = self._edge_gaps(count or 0)
        duplicates = set(self.plan.duplicates)
        spikes = dict(self.plan.spikes)
        zeros = set(self.plan.zeros)
        last: dict[str, Any] | None = None
        for i, snap in enumerate(snapshots):
            if i == 0:
                yield from self._emit_outside("before", snap)
            last = snap
            if i in edges:
                continue
            gap = missing.get(i)
            if gap is not None:
                if i == gap[0]:
                    s, e = gap
                    self.defects.append(
                        Defect(
                            "gap",
                            start=self.open_ts + s * self.cadence,
                            end=self.open_ts + e * self.cadence,
                            detail={"missing": e - s + 1},
                        )
                    )
                continue
            yield from self._emit_point(i, snap, duplicates, spikes, zeros)
        if last is not None:
            yield from self._emit_outside("after", last)
            yield from self._emit_wrong_date(last)

    def _emit_point(
        self,
        i: int,
        snap: dict[str, Any],
        duplicates: set[int],
        spikes: dict[int, float],
        zeros: set[int],
    ) -> Iterator[dict[str, Any]]:
        ts = snap["timestamp"]
        position = self.records
        if i in zeros:
            snap = zeroed(snap)
            self.defects.append(Defect("zero", (ts,), (position,)))
        elif i in spikes:
            factor = spikes[i]
            spiked = round(snap["spot"] * (1.0 + factor), 2)
            self.defects.append(
                Defect(
                    "spike",
                    (ts,),
                    (position,),
                    detail={"spot": snap["spot"], "spiked_spot": spiked, "factor": factor},
                )
            )
            snap = dict(snap, spot=spiked)
        self.records += 1
        yield snap
        if i in duplicates:
            second = round(snap["spot"] + self.tick, 2)
            self.defects.append(
                Defect(
                    "duplicate",
                    (ts, ts),
                    (position, position + 1),
                    detail={"first_spot": snap["spot"], "second_spot": second},
                )
            )
            self.records += 1
            yield dict(snap, spot=second)


def truncate_file(path: Path, fraction: float) -> Defect:
    """Cut `path` to `fraction` of its bytes (at least one byte is removed)."""
    full = path.stat().st_size
    kept = max(0, min(full - 1, int(full * fraction)))
    with path.open("r+b") as fh:
        fh.truncate(kept)
    return Defect("truncated", detail={"bytes_full": full, "bytes_kept": kept})


@dataclass(frozen=True)
class DayManifest:
    """What a generated day file holds, including every injected defect.

    `session_open`/`session_close`: epoch seconds of the session's open / close (exchange
    calendar; close exclusive); `cadence`: seconds between snapshots; `clean_snapshots`: in-session
    snapshots generated (before defects); `records`: records written
    (after gaps, duplicates and out-of-session rows, before any truncation); `bytes`/`sha256`: the
    file on disk as finally left.
    """

    file_name: str
    ticker: str
    endpoint: str
    trade_date: str
    seed: int
    form: str
    compressed: bool
    strikes_per_snapshot: int
    session_open: int
    session_close: int
    clean_snapshots: int
    records: int
    bytes: int
    sha256: str
    defects: tuple[Defect, ...] = ()
    cadence: int = 1

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        data = {name: getattr(self, name) for name in self.__dataclass_fields__}
        data["defects"] = [d.to_dict() for d in self.defects]
        return data

    def to_json(self) -> str:
        """Stable JSON text (sorted keys), identical for identical manifests."""
        return json.dumps(self.to_dict(), indent=2, sort_keys=True) + "\n"

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DayManifest:
        """Inverse of `to_dict`."""
        fields = {
            name: data[name]
            for name in cls.__dataclass_fields__
            if name != "defects" and name in data
        }
        return cls(**fields, defects=tuple(Defect.from_dict(d) for d in data.get("defects", ())))

    @classmethod
    def read(cls, path: Path) -> DayManifest:
        """Load a manifest written by `write_day_file`."""
        return cls.from_dict(json.loads(path.read_text(encoding="utf-8")))

    def of_kind(self, kind: str) -> list[Defect]:
        """The defects of one kind, in file order."""
        return [d for d in self.defects if d.kind == kind]
