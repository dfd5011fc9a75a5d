"""Metrics handed between processes as Prometheus text files (the node-exporter textfile pattern).

A process that is not the ingest API keeps its metrics in its own `prometheus_client` registry and
writes them to `<metrics_dir>/<name>.prom` with `write_to_textfile` (temp file + rename, so a
reader sees a whole file). The API registers `TextfileCollector(metrics_dir)`, which serves every
`*.prom` file at each scrape. Each file belongs to one writer: the live loader (one process) owns
`loader.prom`; runs, several at a time and short-lived, update `pipeline.prom` under an `flock`
(`update_textfile`), so its counters keep counting across runs and the directory never grows.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from pathlib import Path

from prometheus_client import CollectorRegistry, write_to_textfile
from prometheus_client.metrics_core import Metric
from prometheus_client.parser import text_string_to_metric_families

from gex_pipeline.lib.staging.durable_fs import flocked

log = logging.getLogger(__name__)

SUFFIX = ".prom"


def write_textfile(registry: CollectorRegistry, path: Path) -> None:
    """Write `registry` to `path` atomically (the directory is created when missing)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    write_to_textfile(str(path), registry)


def read_textfile(path: Path) -> list[Metric]:
    """The metric families of one text file; none when it is missing or unreadable."""
    try:
        return list(text_string_to_metric_families(path.read_text()))
    except FileNotFoundError:
        return []
    except (OSError, ValueError) as exc:
        log.warning("metrics file %s ignored: %s", path, exc)
        return []


def update_textfile(path: Path, build: Callable[[list[Metric]], CollectorRegistry]) -> None:
    """Replace `path` with `build(current families)`, one process at a time (`<path>.lock`)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with flocked(path.with_name(path.name + ".lock")):
        write_textfile(build(read_textfile(path)), path)


class TextfileCollector:
    """Serves the families of every `*.prom` file of a directory (read at each scrape)."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def describe(self) -> list[Metric]:
        """Nothing up front: the families are known only when the files are read."""
        return []

    def collect(self) -> Iterator[Metric]:
        """The families of the files, in file-name order."""
        if not self.directory.is_dir():
            return
        for path in sorted(self.directory.glob(f"*{SUFFIX}")):
            yield from read_textfile(path)
