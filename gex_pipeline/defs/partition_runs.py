"""Partition by partition inside one run: each feed-day succeeds or fails on its own.

A run may cover one partition or a chunk of a backfill (`BackfillPolicy.multi_run`). Dagster marks
a whole step as failed or succeeded, so the assets that build partitions one by one report every
result themselves: an `AssetMaterialization` per partition built and an `AssetCheckEvaluation` per
partition judged (`PartitionEvents`). A partition that cannot be built (no data, refused replace)
is skipped by the later work of the same run and named at the end, in one final `dg.Failure`
(`allow_retries=False`: a data failure is final, op retry policies do not re-run it). Transient
faults (network, lock wait) raise anything else, which the op's `TRANSIENT_RETRY` retries.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import dagster as dg

from gex_pipeline.lib.metrics.pipeline import record_partitions

Metadata = Mapping[str, dg.MetadataValue]

# Infrastructure faults only: data failures raise `dg.Failure(allow_retries=False)`, which skips it.
TRANSIENT_RETRY = dg.RetryPolicy(max_retries=2, delay=15, backoff=dg.Backoff.EXPONENTIAL)


class PartitionFailed(Exception):
    """One partition could not be built; the message is shown in the UI (no secrets)."""


def will_retry(context: dg.AssetExecutionContext) -> bool:
    """Whether a transient fault in this attempt is retried by `TRANSIENT_RETRY`."""
    return context.retry_number < TRANSIENT_RETRY.max_retries


def _feed(partition: str) -> str:
    """The feed of a `date|feed` partition key (`uw` for a date of the webhook tables)."""
    return partition.rpartition("|")[2] if "|" in partition else "uw"


@dataclass
class PartitionEvents:
    """What one run built, judged and could not build, reported per partition."""

    context: dg.AssetExecutionContext
    failed: dict[str, str] = field(default_factory=dict)

    def materialized(self, asset: dg.AssetKey, partition: str, metadata: Metadata) -> None:
        """Record one partition of `asset` as materialized (and count it in the metrics)."""
        self.context.log_event(
            dg.AssetMaterialization(asset, partition=partition, metadata=dict(metadata))
        )
        record_partitions([asset.to_user_string()], [_feed(partition)])

    def evaluated(self, evaluation: dg.AssetCheckEvaluation) -> None:
        """Record one check's verdict on one partition."""
        if not evaluation.passed:
            self.context.log.warning(
                "%s %s failed: %s",
                evaluation.partition,
                evaluation.check_name,
                evaluation.description,
            )
        self.context.log_event(evaluation)

    def fail(self, partition: str, reason: str) -> None:
        """Note that `partition` could not be built; the run goes on with the others."""
        self.context.log.error("%s: %s", partition, reason)
        self.failed[partition] = reason
        assets = [a.to_user_string() for a in self.context.selected_asset_keys]
        record_partitions(assets, [], [_feed(partition)])

    def raise_if_failed(self) -> None:
        """End the run with a final failure naming the partitions that could not be built."""
        if not self.failed:
            return
        first = next(iter(self.failed.values()))
        total = len(self.context.partition_keys)
        raise dg.Failure(
            description=f"{len(self.failed)} of {total} partition(s) failed: {first}",
            metadata={"failed": dg.MetadataValue.json(self.failed)},
            allow_retries=False,
        )
