"""Insert rows whose natural key a lake table lacks, conflict-checked against other writers.

The live loaders of several hosts commit to the same tables. A blind append cannot tell that
another host appended the same key meanwhile; a Delta MERGE (insert when not matched) reads the
target's rows of the partitions it names and, at commit, fails when another writer changed those
partitions after it read them (`CommitFailedError`). It is then run again on the new version,
where the other host's rows are matched and left alone: whoever commits a key first keeps it, and
nothing is inserted twice. Writers of other partitions do not conflict with it.
"""

from __future__ import annotations

import random
import time
from collections.abc import Iterable
from typing import TYPE_CHECKING

from gex_pipeline.lib.lake.tables import FEED_COLUMN, SPECS, Partition, TableCache
from gex_pipeline.lib.lake.writes import commit_info, post_commit, writer_properties

if TYPE_CHECKING:
    import pyarrow as pa

MAX_ATTEMPTS = 12
BACKOFF_SECONDS = 0.05
BACKOFF_MAX_SECONDS = 2.0


class CommitContended(RuntimeError):
    """Other writers kept winning the partitions for `MAX_ATTEMPTS` attempts."""


def _quoted(column: str) -> str:
    return f'"{column}"'


def _scope(partitions: Iterable[Partition]) -> str:
    """The target partitions as a predicate (what the merge reads and checks conflicts on)."""
    terms = []
    for part in partitions:
        term = f"t.trade_date = '{part.trade_date.isoformat()}'"
        if part.feed is not None:
            term += f" AND t.{FEED_COLUMN} = '{part.feed}'"
        terms.append(f"({term})")
    return " OR ".join(terms)


def merge_predicate(name: str, partitions: Iterable[Partition]) -> str:
    """The MERGE predicate of table `name`: the partitions, then partition columns and key equal."""
    spec = SPECS[name]
    columns = (*spec.partition_by, *spec.key)
    match = " AND ".join(f"t.{_quoted(c)} = s.{_quoted(c)}" for c in columns)
    return f"({_scope(partitions)}) AND {match}"


def insert_absent(
    tables: TableCache,
    name: str,
    rows: pa.Table,
    *,
    writer: str,
    partitions: Iterable[Partition],
) -> int:
    """Insert the rows of `rows` (lake schema) whose partition and key table `name` lacks, in one
    commit; retried on the latest version (`tables` brings it up to date) while other writers
    win. The first attempt takes the table as `tables` last brought it up to date (the caller
    just read it): a commit of another writer since fails the merge, which is then retried.
    Returns rows inserted."""
    from deltalake.exceptions import CommitFailedError

    if rows.num_rows == 0:
        return 0
    parts = sorted({p.for_table(SPECS[name]) for p in partitions})
    predicate = merge_predicate(name, parts)
    for attempt in range(MAX_ATTEMPTS):
        table = tables.opened.get(name) if attempt == 0 else None
        table = table if table is not None else tables.ensure(name)
        try:
            metrics = (
                table.merge(
                    rows,
                    predicate=predicate,
                    source_alias="s",
                    target_alias="t",
                    # a materialized source lets the merge prune target files by its key range
                    streamed_exec=False,
                    writer_properties=writer_properties(name),  # type: ignore[arg-type]
                    commit_properties=commit_info(writer, parts),  # type: ignore[arg-type]
                    post_commithook_properties=post_commit(),  # type: ignore[arg-type]
                )
                .when_not_matched_insert_all()
                .execute()
            )
        except CommitFailedError:
            delay = min(BACKOFF_MAX_SECONDS, BACKOFF_SECONDS * 2**attempt)
            time.sleep(delay * (0.5 + random.random()))
            continue
        return int(metrics["num_target_rows_inserted"])
    raise CommitContended(
        f"{name}: other writers changed partitions {[str(p) for p in parts]} during each of"
        f" {MAX_ATTEMPTS} attempts"
    )
