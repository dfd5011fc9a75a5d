"""The Dagster side of the check registries (`gex_pipeline.lib.checks.registry`), for every domain.

`check_specs` declares a registry's checks on the assets they judge (a gate is blocking);
`check_metadata` renders a result's evidence; `check_evaluation` / `check_result` turn a result
into the verdict Dagster records; `judged` counts verdicts and warns of failures, and
`record_verdicts` records them from an op; `checks_job` is the partitioned job that re-runs a
domain's checks without rebuilding anything.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import dagster as dg

from gex_pipeline.lib.checks.registry import ERROR, Block, CheckRegistry, IntegrityResult
from gex_pipeline.lib.gex.integrity import ny_iso
from gex_pipeline.lib.metrics.pipeline import record_checks


def check_specs(
    registry: CheckRegistry[Any], partitions_def: dg.PartitionsDefinition
) -> list[dg.AssetCheckSpec]:
    """One spec per check of `registry`, on the asset it judges; gates block what follows."""
    return [
        dg.AssetCheckSpec(
            check.name,
            asset=dg.AssetKey(check.judges),
            description=check.description,
            partitions_def=partitions_def,
            blocking=check.gate,
        )
        for check in registry.checks.values()
    ]


def _blocks_table(blocks: Sequence[Block]) -> dg.MetadataValue:
    schema = dg.TableSchema(
        columns=[
            dg.TableColumn("start", "string", description="New York time"),
            dg.TableColumn("end", "string", description="New York time"),
            dg.TableColumn("length", "int", description="snapshots or seconds"),
        ]
    )
    records = [
        dg.TableRecord({"start": ny_iso(b.start_ms), "end": ny_iso(b.end_ms), "length": b.length})
        for b in blocks
    ]
    return dg.MetadataValue.table(records, schema=schema)


def check_metadata(result: IntegrityResult) -> dict[str, dg.MetadataValue]:
    """Counts, details, timestamps (as timestamps) and blocks (start, end, length) of a result."""
    meta: dict[str, dg.MetadataValue] = {
        name: dg.MetadataValue.int(value) for name, value in result.counts.items()
    }
    for name, value in result.details.items():
        if isinstance(value, str):
            meta[name] = dg.MetadataValue.text(value)
        elif isinstance(value, float | int):
            meta[name] = dg.MetadataValue.float(float(value))
    for name, ms in result.instants.items():
        if ms is not None:
            meta[name] = dg.MetadataValue.timestamp(ms / 1000)
    for name, stamps in result.examples.items():
        if stamps:
            meta[f"first_{name}"] = dg.MetadataValue.timestamp(stamps[0] / 1000)
            meta[f"examples_{name}"] = dg.MetadataValue.md(
                "\n".join(f"- {ny_iso(ms)}" for ms in stamps)
            )
    for name, blocks in result.blocks.items():
        if blocks:
            meta[f"blocks_{name}"] = _blocks_table(blocks)
    return meta


def _verdict(result: IntegrityResult, registry: CheckRegistry[Any]) -> dict[str, Any]:
    """What Dagster records of a result, on the asset its check judges."""
    severity = (
        dg.AssetCheckSeverity.ERROR if result.severity == ERROR else dg.AssetCheckSeverity.WARN
    )
    return {
        "asset_key": dg.AssetKey(registry.checks[result.name].judges),
        "check_name": result.name,
        "passed": result.passed,
        "severity": severity,
        "metadata": check_metadata(result),
    }


def check_evaluation(
    result: IntegrityResult, registry: CheckRegistry[Any], partition: str
) -> dg.AssetCheckEvaluation:
    """The verdict of one check on one partition, logged by an op or reported by a run."""
    return dg.AssetCheckEvaluation(**_verdict(result, registry), partition=partition)


def check_result(result: IntegrityResult, registry: CheckRegistry[Any]) -> dg.AssetCheckResult:
    """The verdict of one check, yielded by an asset check of the run's partition."""
    return dg.AssetCheckResult(**_verdict(result, registry))


def judged(
    log: dg.DagsterLogManager, label: str, results: Iterable[IntegrityResult]
) -> list[IntegrityResult]:
    """Count the verdicts (metrics) and warn of each failure (`label`: what was judged)."""
    results = list(results)
    record_checks((result.name, result.passed) for result in results)
    for result in results:
        if not result.passed:
            log.warning("%s %s failed: %s", label, result.name, result.counts)
    return results


def record_verdicts(
    context: dg.OpExecutionContext,
    registry: CheckRegistry[Any],
    label: str,
    results: Iterable[IntegrityResult],
) -> None:
    """Count the verdicts, warn of each failure, record each on the run's partition."""
    partition = str(context.partition_key)
    for result in judged(context.log, label, results):
        context.log_event(check_evaluation(result, registry, partition))


def checks_job(
    name: str, op: dg.OpDefinition, partitions_def: dg.PartitionsDefinition, description: str
) -> dg.JobDefinition:
    """A job of one op that re-runs a domain's checks for its partitions (one run per partition;
    a range from the job's Partitions tab is a backfill)."""

    @dg.job(name=name, partitions_def=partitions_def, description=description)
    def job() -> None:
        op()

    return job
