"""The Grafana dashboard under deploy/ queries series the stack exposes, and shows every family."""

from __future__ import annotations

import json
import re
from pathlib import Path

from prometheus_client import generate_latest

from gex_pipeline.lib.metrics.loader import LoaderMetrics
from gex_pipeline.lib.metrics.pipeline import PipelineMetrics
from gex_pipeline_tests.support.metrics import series_names
from ingest_api.metrics import Metrics

DASHBOARD = Path(__file__).resolve().parents[2] / "deploy" / "grafana" / "gex-pipeline.json"
SERIES = re.compile(r"\bgex_[a-z0-9_]+\b")


def exposed_series(tmp_path: Path) -> set[str]:
    """Every series name the API, the loader and the pipeline expose once each has a sample."""
    api = Metrics(tmp_path, tmp_path / "metrics", lambda: {"gex": 0})
    api.accept("/gex", "gex", 1, 100, 0.01)
    api.ignore("/uw")
    api.reject("/gex", 422)
    loader = LoaderMetrics()
    loader.batch("gex", ["00000000000000000001.jsonl"], records=1, rejected=1)
    loader.publish({"gex": 1}, now=0.0)
    loader.published.set(1)
    pipeline = PipelineMetrics()
    pipeline.partitions.labels("gex_parquet", "SPX.gex_zero", "done").inc()
    pipeline.last_success.labels("gex_parquet", "SPX.gex_zero").set(1)
    pipeline.checks.labels("duplicate_rows", "failed").inc()
    text = b"".join(generate_latest(m.registry) for m in (api, loader, pipeline)).decode()
    return series_names(text)


def queries() -> list[str]:
    panels = json.loads(DASHBOARD.read_text())["panels"]
    return [t["expr"] for p in panels if p["type"] != "row" for t in p["targets"]]


def test_every_query_names_only_series_that_exist(tmp_path: Path) -> None:
    exposed = exposed_series(tmp_path)
    unquoted = [re.sub(r'"[^"]*"', '""', expr) for expr in queries()]  # label values aside
    named = {name for expr in unquoted for name in SERIES.findall(expr)}
    assert named, "the dashboard queries nothing"
    assert sorted(named - exposed) == []


def test_every_exposed_family_is_on_the_dashboard(tmp_path: Path) -> None:
    shown = " ".join(queries())
    families = {re.sub(r"_(total|bucket|sum|count)$", "", s) for s in exposed_series(tmp_path)}
    assert sorted(f for f in families if f not in shown) == []


def test_every_panel_queries_through_the_datasource_variable() -> None:
    panels = [p for p in json.loads(DASHBOARD.read_text())["panels"] if p["type"] != "row"]
    assert panels and all(p["targets"] for p in panels)
    assert {p["datasource"]["uid"] for p in panels} == {"${datasource}"}


def test_the_documented_scrape_job_targets_the_api_and_the_dashboard_exists() -> None:
    import yaml

    from gex_pipeline.settings import ApiSettings

    text = (DASHBOARD.parents[2] / "docs" / "operations.md").read_text()
    snippet = text.split("\n## Metrics\n", 1)[1].split("```yaml\n", 1)[1].split("```", 1)[0]
    [job] = yaml.safe_load(snippet)["scrape_configs"]
    api = ApiSettings()
    assert job["static_configs"][0]["targets"] == [f"{api.host}:{api.port}"]
    assert "deploy/grafana/gex-pipeline.json" in text and DASHBOARD.is_file()
