"""Materialize every partition of a run (one key or a single-run backfill range) one by one.

A partition that cannot be built (no data, refused replace) does not stop the others: the ones
built are recorded as materialized, then the run fails naming the others, so the UI shows exactly
which feed-days are missing and why. Such a failure is final: `Failure(allow_retries=False)` skips
op retry policies, and the run is tagged `dagster/retry_on_asset_or_op_failure=false` so the
instance's run retries (dagster.yaml `run_retries`) do not re-run it either; other errors (a crash,
a lock timeout) are still retried.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import dagster as dg

from gex_pipeline.lib.metrics.pipeline import record_partitions

Metadata = Mapping[str, dg.MetadataValue]
NO_RUN_RETRY_TAGS = {"dagster/retry_on_asset_or_op_failure": "false"}


class PartitionFailed(Exception):
    """One partition could not be built; the message is shown in the UI (no secrets)."""


def materialize_each(
    context: dg.AssetExecutionContext,
    assets: Sequence[dg.AssetKey],
    build: Callable[[str], Mapping[dg.AssetKey, Metadata]],
) -> list[dg.MaterializeResult]:
    """Run `build(partition_key)` for each partition of the run; return the results of `assets`.

    `build` returns the metadata of each asset it materialized for that partition and raises
    `PartitionFailed` when the partition cannot be built. Any other error fails the run as usual.
    """
    built: dict[str, Mapping[dg.AssetKey, Metadata]] = {}
    failed: dict[str, str] = {}
    for key in context.partition_keys:
        try:
            built[key] = build(key)
        except PartitionFailed as exc:
            context.log.error("%s: %s", key, exc)
            failed[key] = str(exc)
    feed = {key: key.rpartition("|")[2] for key in context.partition_keys}  # date|feed
    record_partitions(
        [a.to_user_string() for a in assets], [feed[k] for k in built], [feed[k] for k in failed]
    )
    if failed:
        for key, by_asset in built.items():
            for asset, metadata in by_asset.items():
                context.log_event(dg.AssetMaterialization(asset, partition=key, metadata=metadata))
        first = next(iter(failed.values()))
        context.instance.add_run_tags(context.run.run_id, NO_RUN_RETRY_TAGS)
        raise dg.Failure(
            description=f"{len(failed)} of {len(context.partition_keys)} partition(s) failed: {first}",
            metadata={"failed": dg.MetadataValue.json(failed)},
            allow_retries=False,
        )
    for key, by_asset in built.items():
        for asset, metadata in by_asset.items():
            context.add_asset_metadata(dict(metadata), asset_key=asset, partition_key=key)
    return [dg.MaterializeResult(asset_key=asset) for asset in assets]
