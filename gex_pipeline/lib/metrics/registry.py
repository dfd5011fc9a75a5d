"""One `prometheus_client` registry per process, and one-line declarations of its series."""

from __future__ import annotations

from collections.abc import Sequence

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, disable_created_metrics


def new_registry() -> CollectorRegistry:
    """An empty registry; our series carry no `<name>_created` companion (noise on a dashboard,
    and rewritten with every update of a text file)."""
    disable_created_metrics()
    return CollectorRegistry()


def counter(registry: CollectorRegistry, name: str, doc: str, *labels: str) -> Counter:
    """A counter `<name>_total` of `registry`."""
    return Counter(name, doc, labels, registry=registry)


def gauge(registry: CollectorRegistry, name: str, doc: str, *labels: str) -> Gauge:
    """A gauge of `registry`."""
    return Gauge(name, doc, labels, registry=registry)


def histogram(
    registry: CollectorRegistry, name: str, doc: str, buckets: Sequence[float], *labels: str
) -> Histogram:
    """A histogram of `registry` with `buckets` (upper bounds, seconds)."""
    return Histogram(name, doc, labels, buckets=buckets, registry=registry)
