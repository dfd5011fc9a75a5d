"""What `gex-pipeline validate` shares across domains: the report of one day's checks, the days
that hold a file, and a DuckDB connection to read the files with."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from gex_pipeline.lib.checks.registry import ERROR, IntegrityResult

if TYPE_CHECKING:
    import duckdb

PRESENT, MISSING = "present", "missing"


class CheckedDay:
    """Mixin of a day's report: its check results, what failed, whether an ERROR did."""

    results: tuple[IntegrityResult, ...]

    @property
    def failed(self) -> list[IntegrityResult]:
        """Checks that failed, in report order."""
        return [r for r in self.results if not r.passed]

    @property
    def has_error(self) -> bool:
        """True when an ERROR check failed."""
        return any(r.severity == ERROR for r in self.failed)


def file_days(folder: Path, pattern: str, start: date, end: date) -> set[date]:
    """Dates from `start` to `end` of the files `folder/pattern` named `<YYYYMMDD>.<suffixes>`."""
    days = set()
    for path in folder.glob(pattern):
        try:
            day = datetime.strptime(path.name.split(".")[0], "%Y%m%d").date()
        except ValueError:
            continue
        if start <= day <= end:
            days.add(day)
    return days


@contextmanager
def file_reader(
    con: duckdb.DuckDBPyConnection | None = None,
) -> Iterator[duckdb.DuckDBPyConnection]:
    """`con`, or an in-memory DuckDB closed on exit; progress bars off either way."""
    import duckdb

    own = con is None
    con = con or duckdb.connect()
    con.execute("SET enable_progress_bar = false")
    try:
        yield con
    finally:
        if own:
            con.close()
