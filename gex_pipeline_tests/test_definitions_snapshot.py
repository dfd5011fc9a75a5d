"""A snapshot of the definitions surface users and run history depend on.

Asset keys, deps, groups, partitions, backfill policies, pools, owners, kinds, tags, checks, jobs and
sensors are compared with `definitions_snapshot.json`. An intended change regenerates the file:

    GEX_UPDATE_DEFINITIONS_SNAPSHOT=1 .venv/bin/python -m pytest gex_pipeline_tests/test_definitions_snapshot.py

and the diff is reviewed like code. The partitions' holiday exclusions are listed up to a fixed
date only, so the calendar's moving horizon (about a year ahead of today) never changes the file.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import dagster as dg
import pytest

from gex_pipeline.definitions import defs

SNAPSHOT = Path(__file__).with_name("definitions_snapshot.json")
UPDATE_VARIABLE = "GEX_UPDATE_DEFINITIONS_SNAPSHOT"
EXCLUSIONS_UNTIL = datetime(2026, 1, 1, tzinfo=UTC).timestamp()


def _partitions(partitions: dg.PartitionsDefinition | None) -> Any:
    if partitions is None:
        return None
    if isinstance(partitions, dg.MultiPartitionsDefinition):
        return {
            "type": "multi",
            "dimensions": {
                d.name: _partitions(d.partitions_def) for d in partitions.partitions_defs
            },
        }
    if isinstance(partitions, dg.TimeWindowPartitionsDefinition):
        exclusions = [
            datetime.fromtimestamp(e.timestamp, UTC).date().isoformat()
            for e in partitions.exclusions or ()
            if not isinstance(e, str) and e.timestamp < EXCLUSIONS_UNTIL
        ]
        return {
            "type": "time_window",
            "cron": partitions.cron_schedule,
            "start": partitions.start.date().isoformat(),
            "timezone": partitions.timezone,
            "fmt": partitions.fmt,
            "end_offset": partitions.end_offset,
            "cron_exclusions": sorted(e for e in partitions.exclusions or () if isinstance(e, str)),
            "holidays_until_2025": exclusions,
        }
    if isinstance(partitions, dg.DynamicPartitionsDefinition):
        return {"type": "dynamic", "name": partitions.name}
    return {"type": type(partitions).__name__}


def _partitions_name(partitions: dg.PartitionsDefinition | None) -> str | None:
    """A readable name of a partitions definition (its full description is listed once)."""
    if isinstance(partitions, dg.MultiPartitionsDefinition):
        return " x ".join(d.name for d in partitions.partitions_defs)
    if isinstance(partitions, dg.TimeWindowPartitionsDefinition):
        return "date"
    return None if partitions is None else type(partitions).__name__


def _asset(graph: Any, key: dg.AssetKey) -> dict[str, Any]:
    node = graph.get(key)
    policy = node.backfill_policy
    return {
        "deps": sorted(k.to_user_string() for k in node.parent_keys),
        "group": node.group_name,
        "materializable": node.is_materializable,
        "partitions": _partitions_name(node.partitions_def),
        "backfill_policy": policy.policy_type.value if policy else None,
        "pools": sorted(node.pools or ()),
        "owners": sorted(node.owners),
        "kinds": sorted(node.kinds),
        "tags": dict(sorted(node.tags.items())),
        "checks": sorted(k.name for k in node.check_keys),
    }


def definitions_snapshot() -> dict[str, Any]:
    """The definitions surface as plain JSON data, sorted."""
    repository = defs().get_repository_def()
    graph = repository.asset_graph
    jobs = {}
    for job in repository.get_all_jobs():
        if job.name.startswith("__"):
            continue
        layer = job.asset_layer
        jobs[job.name] = {
            "assets": sorted(k.to_user_string() for k in layer.executable_asset_keys),
            "checks": sorted(k.to_user_string() for k in layer.asset_graph.asset_check_keys),
            "tags": dict(sorted(job.tags.items())),
        }
    sensors = {
        sensor.name: {
            "jobs": sorted(t.job_name for t in sensor.targets),
            "default_status": sensor.default_status.value,
            "minimum_interval_seconds": sensor.minimum_interval_seconds,
        }
        for sensor in repository.sensor_defs
    }
    partitions = {
        _partitions_name(graph.get(key).partitions_def): _partitions(graph.get(key).partitions_def)
        for key in graph.get_all_asset_keys()
        if graph.get(key).partitions_def is not None
    }
    return {
        "partitions": dict(sorted(partitions.items())),
        "assets": {
            key.to_user_string(): _asset(graph, key)
            for key in sorted(graph.get_all_asset_keys(), key=lambda k: k.to_user_string())
        },
        "jobs": dict(sorted(jobs.items())),
        "sensors": dict(sorted(sensors.items())),
        "schedules": sorted(s.name for s in repository.schedule_defs),
        "resources": sorted(repository.get_top_level_resources()),
    }


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Definitions as a fresh deployment builds them (no GEX_* or DAGSTER_HOME overrides)."""
    for name in list(os.environ):
        if name.startswith("GEX_") and name != UPDATE_VARIABLE:
            monkeypatch.delenv(name)


def test_definitions_match_the_snapshot(clean_env: None) -> None:
    current = json.dumps(definitions_snapshot(), indent=2, sort_keys=False) + "\n"
    if os.environ.get(UPDATE_VARIABLE) == "1":
        SNAPSHOT.write_text(current)
    expected = SNAPSHOT.read_text()
    assert current == expected, (
        f"the definitions changed; if intended, regenerate with {UPDATE_VARIABLE}=1 and review "
        "the diff of definitions_snapshot.json"
    )
