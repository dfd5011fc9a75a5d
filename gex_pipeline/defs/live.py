"""Pieces shared by the live micro-batch domains (`/gex`, `/uw`): one run per sensor tick loads every
new sealed segment of a staging stream, exactly once."""

# No `from __future__ import annotations` here: Dagster reads the config types from annotations.
import time
from dataclasses import dataclass

import dagster as dg
from pydantic import Field

from gex_pipeline.defs.resources import StagingArea

NO_REJECTED_SEGMENTS = "no_rejected_segments"


class LiveBatchConfig(dg.Config):
    """Bounds of one live batch, set by the live sensor of its stream (`gex_live_sensor`, ...)."""

    upper_seq: int = Field(description="load every sealed segment of the stream with seq <= this")
    lower_seq: int = Field(default=0, description="first seq the sensor saw (for the record)")


@dataclass(frozen=True)
class LiveStream:
    """A staging stream whose sealed segments one asset loads, one run per sensor tick."""

    stream: str
    asset: dg.AssetKey
    run_key_prefix: str


def live_run_key(lower_seq: int, upper_seq: int, prefix: str) -> str:
    """Run key of the batch of segments `lower_seq..upper_seq` (stable when a tick is retried)."""
    return f"{prefix}:{lower_seq}-{upper_seq}"


def live_run(
    run_key: str, lower: int, upper: int, segments: int, live: LiveStream
) -> dg.RunRequest:
    """The run request loading the sealed segments of `live` up to seq `upper`."""
    return dg.RunRequest(
        run_key=run_key,
        run_config=dg.RunConfig(
            ops={live.asset.path[-1]: {"config": {"lower_seq": lower, "upper_seq": upper}}}
        ),
        tags={f"{live.stream}/segments": str(segments), f"{live.stream}/upper_seq": str(upper)},
    )


def retry_stale(
    staging: StagingArea, after: int, stale_seconds: int, live: LiveStream
) -> dg.SensorResult | dg.SkipReason:
    """Request a run again for segments at or below the cursor still sealed after `stale_seconds`
    (their run failed for good); at most one such request per `stale_seconds`."""
    oldest = staging.list_sealed(live.stream, 0, 1)
    now_ns = time.time_ns()
    stale_ns = stale_seconds * 1_000_000_000
    if not oldest or oldest[0].seq > after or now_ns - oldest[0].seq < stale_ns:
        return dg.SkipReason(f"no sealed /{live.stream} segment after seq {after}")
    run_key = (
        f"{live_run_key(oldest[0].seq, after, live.run_key_prefix)}:retry-{now_ns // stale_ns}"
    )
    return dg.SensorResult(
        run_requests=[live_run(run_key, oldest[0].seq, after, 0, live)], cursor=str(after)
    )
