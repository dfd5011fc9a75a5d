"""Read a Prometheus text exposition as a test would: one value per series."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families


def sample(text: str, name: str, **labels: str) -> float | None:
    """The value of the series `name{labels}` in `text` (labels must match exactly), or None."""
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.name == name and s.labels == labels:
                return s.value
    return None


def series_names(text: str) -> set[str]:
    """The names of every series in `text` that has at least one sample."""
    return {s.name for family in text_string_to_metric_families(text) for s in family.samples}
