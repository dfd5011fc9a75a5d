"""What the freshness checks of every domain share: the latest report of an asset's partition,
whether a stream is watched, and the verdict Dagster records.

A feed or stream is watched once it reported today or on the previous session (so a feed that
stopped for good stops being flagged after a session); it is judged by
`gex_pipeline.lib.gex.freshness.judge_feed`. The domains' checks and the sensor that records them
live in `defs/gex/freshness.py` and `defs/webhooks/freshness.py`; `freshness_checks` builds the
check op the UI runs for either.
"""

# No `from __future__ import annotations` here: Dagster reads the context type from the
# annotations of the check function when the definitions load.
import time
from collections.abc import Callable, Collection, Iterable, Iterator

import dagster as dg

from gex_pipeline.defs.metadata import freshness_metadata
from gex_pipeline.lib.calendar.sessions import previous_session
from gex_pipeline.lib.calendar.trading_date import date_key, trading_date_of
from gex_pipeline.lib.gex.freshness import FeedFreshness
from gex_pipeline.settings import Settings

# What a domain judges for one partition: (instance, partition key, selected check names, now in
# epoch ms, the allowed silence in seconds) -> the verdicts there are (none when there is none).
Judge = Callable[
    [dg.DagsterInstance, str, Collection[str], int, int], Iterable[dg.AssetCheckEvaluation]
]


def latest_record(
    instance: dg.DagsterInstance, asset: dg.AssetKey, partition: str
) -> dg.EventLogRecord | None:
    """The latest materialization of one partition of `asset`, or None."""
    records = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset, asset_partitions=[partition]), limit=1, ascending=False
    ).records
    return records[0] if records else None


def latest_report_ms(
    instance: dg.DagsterInstance, asset: dg.AssetKey, partition: str
) -> int | None:
    """Epoch ms of the latest materialization of one partition of `asset`, or None."""
    record = latest_record(instance, asset, partition)
    return None if record is None else int(record.timestamp * 1000)


def watched_report(
    instance: dg.DagsterInstance,
    asset: dg.AssetKey,
    now_ms: int,
    partition_of: Callable[[str], str] = str,
) -> tuple[bool, int | None]:
    """Whether a stream is watched at `now_ms` (`asset` reported today or on the previous
    session) and its latest report today; `partition_of` maps a date key to the partition."""
    today = trading_date_of(now_ms)
    seen = latest_report_ms(instance, asset, partition_of(date_key(today)))
    before = previous_session(today)
    watched = seen is not None or (
        before is not None
        and latest_report_ms(instance, asset, partition_of(date_key(before.day))) is not None
    )
    return watched, seen


def freshness_evaluation(
    asset: dg.AssetKey, check_name: str, verdict: FeedFreshness, partition: str
) -> dg.AssetCheckEvaluation:
    """The freshness check evaluation of one verdict on one partition (WARN when stale)."""
    return dg.AssetCheckEvaluation(
        asset_key=asset,
        check_name=check_name,
        passed=not verdict.stale,
        severity=dg.AssetCheckSeverity.WARN,
        partition=partition,
        metadata=freshness_metadata(verdict),
    )


def freshness_checks(
    name: str, specs: list[dg.AssetCheckSpec], description: str, judge: Judge
) -> dg.AssetChecksDefinition:
    """The check op that records, for each partition of the run, the verdicts `judge` gives now
    (`GEX_FRESHNESS_MAX_SILENCE_SECONDS` read at run time), and nothing where there is none."""

    def evaluate(context: dg.AssetCheckExecutionContext) -> Iterator[dg.AssetCheckResult]:
        now_ms = int(time.time() * 1000)
        selected = {key.name for key in context.selected_asset_check_keys}
        silence = Settings.from_env().pipeline.freshness_max_silence_seconds
        for key in context.partition_keys:
            for verdict in judge(context.instance, key, selected, now_ms, silence):
                context.op_execution_context.log_event(verdict)
        yield from ()

    evaluate.__doc__ = description
    return dg.multi_asset_check(specs=specs, name=name, can_subset=True, description=description)(
        evaluate
    )
