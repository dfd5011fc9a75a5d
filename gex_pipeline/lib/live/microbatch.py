"""Load a batch of sealed staging segments into DuckDB exactly once, whatever the stream.

A stream (`gex`, `uw`) supplies its SQL as a `StreamLoad`: how to stage the segments in temp
tables (parse + validate + classify), how to insert the new rows, and how to record and read back
its per-partition figures. This module does the rest, the same way for both: segments already
recorded in `loaded_segments` are skipped and their batches' figures returned again (a crash
between commit and reporting loses no report); the others load in one transaction that also
records them; a batch that fails on bad data is loaded segment by segment so the bad ones can be
set aside. Moving segments to `processed/` is the caller's job, after the commit.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Generic, Protocol, TypeVar

from gex_pipeline.lib.staging.reader import Segment

if TYPE_CHECKING:
    import duckdb
    import pyarrow as pa

Stats = TypeVar("Stats")
Report = TypeVar("Report")


# Errors that mean "this data is bad" (as opposed to the machine failing: disk, memory, locks).
BAD_DATA_ERRORS: tuple[str, ...] = (
    "InvalidInputException",
    "ConversionException",
    "ConstraintException",
)


class StagingRecordError(ValueError):
    """A staged record breaks the staging contract; names the segment, line and field."""

    def __init__(self, segment: str, line: int, field: str) -> None:
        super().__init__(f"segment {segment} line {line}: invalid or missing {field!r}")
        self.segment = segment
        self.line = line
        self.field = field


def is_bad_data_error(exc: BaseException) -> bool:
    """True when `exc` says a segment's content is unusable, not that the load failed."""
    return isinstance(exc, StagingRecordError) or type(exc).__name__ in BAD_DATA_ERRORS


@dataclass
class Inserted:
    """Runs a stream's INSERTs; with `capture`, keeps the rows each one inserted (Arrow tables by
    table name), which the live loader mirrors to the lake once the batch committed."""

    con: duckdb.DuckDBPyConnection
    capture: bool = False
    rows: dict[str, list[pa.Table]] = field(default_factory=dict)

    def __call__(self, table: str, insert: str) -> None:
        """Run `insert` (an `INSERT INTO table ...` statement)."""
        if not self.capture:
            self.con.execute(insert)
            return
        new = self.con.sql(f"{insert} RETURNING *").to_arrow_table()
        if new.num_rows:
            self.rows.setdefault(table, []).append(new)


class StreamLoad(Protocol[Stats]):
    """What a staging stream supplies to the micro-batch mechanism."""

    stream: str
    # The temp table or view with one row per staged record and a `segment` column.
    records: str
    # Temp views and tables `stage` and `insert` create, dropped after every batch (views first).
    temp_views: tuple[str, ...]
    temp_tables: tuple[str, ...]
    # Where the per-partition figures of each batch are kept (columns `stream`, `batch`, then
    # `stats_columns`), their order, and the type built from one row of them.
    stats_table: str
    stats_columns: str
    stats_order: str
    stats_type: Callable[..., Stats]

    def stage(self, con: duckdb.DuckDBPyConnection, segments: Sequence[Segment]) -> None:
        """Parse, validate (raise `StagingRecordError`) and classify the records of `segments`."""
        ...

    def insert(self, con: duckdb.DuckDBPyConnection, inserted: Inserted) -> None:
        """Insert the new rows of the staged batch (each INSERT through `inserted`)."""
        ...

    def stats_select(self) -> str:
        """SELECT of the staged batch's per-partition figures, in `stats_columns` order."""
        ...


@dataclass(frozen=True)
class BatchReport(Generic[Stats]):
    """Outcome of one batch: segments loaded now, segments found loaded, records, figures."""

    loaded_segments: list[str] = field(default_factory=list)
    already_loaded_segments: list[str] = field(default_factory=list)
    records: int = 0
    stats: list[Stats] = field(default_factory=list)
    new_rows: dict[str, list[pa.Table]] = field(default_factory=dict)

    def total(self, figure: str) -> int:
        """The sum of one figure (e.g. `duplicates`) over the report's stats."""
        return sum(getattr(item, figure) for item in self.stats)


@dataclass(frozen=True)
class IsolatedBatch(Generic[Stats]):
    """A batch load that set aside the segments whose content is unusable (name -> reason)."""

    report: BatchReport[Stats]
    rejected: dict[str, str]


def raise_first_invalid(con: duckdb.DuckDBPyConnection, table: str, field_case: str) -> None:
    """Raise `StagingRecordError` for the first record of the staged `table` (arrival order) for
    which `field_case` (a SQL CASE naming the broken field, NULL when fine) is not NULL."""
    rows = con.execute(
        f"""
        SELECT segment, line, field FROM (
            SELECT rowid, segment,
                   row_number() OVER (PARTITION BY segment ORDER BY rowid) AS line,
                   {field_case} AS field
            FROM {table}
        )
        WHERE field IS NOT NULL
        ORDER BY rowid
        LIMIT 1
        """
    ).fetchall()
    if rows:
        raise StagingRecordError(*rows[0])


def sql_string(value: str) -> str:
    """A SQL string literal of `value`."""
    return "'" + value.replace("'", "''") + "'"


# Largest staged record read (16x the largest default body limit): DuckDB's JSON reader holds
# buffers of twice this size, which must fit under a job's memory limit (the rebuild's workers).
MAX_RECORD_BYTES = 64 * 2**20


def read_json_sql(paths: Sequence[str], record_columns: dict[str, str]) -> str:
    """`read_json(...)` of the NDJSON segments `paths` with an explicit column list (name: type)
    and a `filename` column."""
    files = "[" + ", ".join(sql_string(p) for p in paths) + "]"
    columns = (
        "{"
        + ", ".join(f"{sql_string(k)}: {sql_string(v)}" for k, v in record_columns.items())
        + "}"
    )
    return (
        f"read_json({files}, format = 'newline_delimited', columns = {columns}, "
        f"filename = true, maximum_object_size = {MAX_RECORD_BYTES})"
    )


def setting(con: duckdb.DuckDBPyConnection, name: str) -> object:
    """The current value of a DuckDB setting."""
    return con.execute(f"SELECT current_setting({sql_string(name)})").fetchall()[0][0]


def set_insertion_order(con: duckdb.DuckDBPyConnection, *, preserve: bool) -> None:
    """Set `preserve_insertion_order` for this connection only."""
    # SESSION: the setting is global by default and would reach other connections to the file.
    con.execute(f"SET SESSION preserve_insertion_order = {'true' if preserve else 'false'}")


def already_loaded(con: duckdb.DuckDBPyConnection, names: Sequence[str], stream: str) -> set[str]:
    """Which of the segment `names` are recorded in `loaded_segments`."""
    if not names:
        return set()
    rows = con.execute(
        "SELECT name FROM loaded_segments WHERE stream = $stream AND list_contains($names, name)",
        {"stream": stream, "names": list(names)},
    ).fetchall()
    return {row[0] for row in rows}


def loaded_batches(con: duckdb.DuckDBPyConnection, names: Sequence[str], stream: str) -> list[str]:
    """The batches (first segment names) that loaded segments `names`, sorted."""
    if not names:
        return []
    rows = con.execute(
        "SELECT DISTINCT batch FROM loaded_segments"
        " WHERE stream = $stream AND list_contains($names, name)",
        {"stream": stream, "names": list(names)},
    ).fetchall()
    return sorted(row[0] for row in rows)


def record_loaded_segments(
    con: duckdb.DuckDBPyConnection,
    segments: Sequence[Segment],
    stream: str,
    run_id: str | None,
    records: str,
) -> int:
    """Record `segments` in `loaded_segments` (batch: the first name) with their record counts
    taken from the table or view `records` (one row per record, `segment` column); return the
    number of records."""
    rows = con.execute(
        f"""
        INSERT INTO loaded_segments
        SELECT $stream, s.name, s.seq, $names[1], coalesce(c.records, 0), now(), $run_id
        FROM (SELECT unnest($names) AS name, unnest($seqs) AS seq) s
        LEFT JOIN (SELECT segment, count(*) AS records FROM {records} GROUP BY segment) c
          ON c.segment = s.name
        RETURNING records
        """,
        {
            "stream": stream,
            "run_id": run_id,
            "names": [s.name for s in segments],
            "seqs": [s.seq for s in segments],
        },
    ).fetchall()
    return sum(row[0] for row in rows)


def stored_stats(
    con: duckdb.DuckDBPyConnection, load: StreamLoad[Stats], batches: Sequence[str]
) -> list[Stats]:
    """The per-partition figures stored for `batches` of the stream."""
    if not batches:
        return []
    rows = con.execute(
        f"SELECT {load.stats_columns} FROM {load.stats_table}"
        f" WHERE stream = $stream AND list_contains($batches, batch) ORDER BY {load.stats_order}",
        {"stream": load.stream, "batches": list(batches)},
    ).fetchall()
    return [load.stats_type(*row) for row in rows]


def _record_stats(
    con: duckdb.DuckDBPyConnection, load: StreamLoad[Stats], batch: str
) -> list[Stats]:
    """Store the staged batch's per-partition figures under `batch`; return them (key order)."""
    rows = con.execute(
        f"INSERT INTO {load.stats_table} (stream, batch, {load.stats_columns})"
        f" SELECT $stream, $batch, * FROM ({load.stats_select()})"
        f" RETURNING {load.stats_columns}",
        {"stream": load.stream, "batch": batch},
    ).fetchall()
    # one row per partition of the batch, the partition key leading: sorting rows sorts keys
    return [load.stats_type(*row) for row in sorted(rows)]


def load_batch(
    con: duckdb.DuckDBPyConnection,
    load: StreamLoad[Stats],
    segments: Sequence[Segment],
    run_id: str | None = None,
    capture: bool = False,
) -> BatchReport[Stats]:
    """Load the records of `segments` (oldest first) in one transaction, exactly once; with
    `capture`, the report holds the rows the batch inserted (once committed)."""
    ordered = sorted(segments, key=lambda s: s.seq)
    done = already_loaded(con, [s.name for s in ordered], load.stream)
    pending = [s for s in ordered if s.name not in done]
    skipped = [s.name for s in ordered if s.name in done]
    recovered = stored_stats(con, load, loaded_batches(con, skipped, load.stream))
    if not pending:
        return BatchReport(already_loaded_segments=skipped, stats=recovered)
    # Staging needs insertion order (the rowid of the parsed records is the arrival order); the
    # caller's setting is given back after COMMIT or ROLLBACK (an aborted transaction refuses SET).
    caller_order = bool(setting(con, "preserve_insertion_order"))
    if not caller_order:
        set_insertion_order(con, preserve=True)
    inserted = Inserted(con, capture)
    con.execute("BEGIN TRANSACTION")
    try:
        load.stage(con, pending)
        load.insert(con, inserted)
        records = record_loaded_segments(con, pending, load.stream, run_id, load.records)
        stats = _record_stats(con, load, pending[0].name)
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    finally:
        for view in load.temp_views:
            con.execute(f"DROP VIEW IF EXISTS {view}")
        for table in load.temp_tables:
            con.execute(f"DROP TABLE IF EXISTS {table}")
        set_insertion_order(con, preserve=caller_order)
    return BatchReport(
        [s.name for s in pending], skipped, records, [*recovered, *stats], inserted.rows
    )


def isolate_bad_segments(
    load: Callable[[Sequence[Segment]], Report], segments: Sequence[Segment]
) -> tuple[list[Report], dict[str, str]]:
    """Run `load` on the whole batch; when it fails on bad data, run it segment by segment and
    return the reports of the good ones and the bad ones (name -> reason); other errors propagate."""
    try:
        return [load(segments)], {}
    except Exception as exc:
        if not is_bad_data_error(exc):
            raise
    reports: list[Report] = []
    rejected: dict[str, str] = {}
    for segment in sorted(segments, key=lambda s: s.seq):
        try:
            reports.append(load([segment]))
        except Exception as exc:
            if not is_bad_data_error(exc):
                raise
            rejected[segment.name] = str(exc)
    return reports, rejected


def load_batch_isolating(
    con: duckdb.DuckDBPyConnection,
    load: StreamLoad[Stats],
    segments: Sequence[Segment],
    run_id: str | None = None,
    capture: bool = False,
) -> IsolatedBatch[Stats]:
    """`load_batch`, but when the batch fails on bad data, load segment by segment and return the
    bad ones (name -> reason) instead of failing; other errors propagate."""
    reports, rejected = isolate_bad_segments(
        lambda batch: load_batch(con, load, batch, run_id, capture), segments
    )
    new_rows: dict[str, list[pa.Table]] = {}
    for report in reports:
        for table, rows in report.new_rows.items():
            new_rows.setdefault(table, []).extend(rows)
    merged = BatchReport(
        loaded_segments=[n for r in reports for n in r.loaded_segments],
        already_loaded_segments=[n for r in reports for n in r.already_loaded_segments],
        records=sum(r.records for r in reports),
        stats=[s for r in reports for s in r.stats],
        new_rows=new_rows,
    )
    return IsolatedBatch(merged, rejected)
