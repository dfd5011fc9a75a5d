"""The picture of a feed-day: read from its Parquet files, gaps and spikes marked, on the CLI and
on every `gex_parquet` materialization."""

from __future__ import annotations

import base64
import struct
from pathlib import Path

import dagster as dg
import pytest

from gex_pipeline.cli.main import main
from gex_pipeline.defs.gex.keys import GEX_PARQUET
from gex_pipeline.defs.gex.tables import gex_tables
from gex_pipeline.defs.resources import ParquetStore
from gex_pipeline.lib.gex.day_chart import DPI, FIGSIZE_IN, read_day
from gex_pipeline_tests.support.dagster_events import run_materializations
from gex_pipeline_tests.support.feed_days import ExportedDay, export_day
from gex_pipeline_tests.support.resources import tables_for

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _png_size(png: bytes) -> tuple[int, int]:
    assert png.startswith(PNG_SIGNATURE)
    return struct.unpack(">II", png[16:24])


@pytest.fixture
def exported(data_dir: Path) -> ExportedDay:
    return export_day(data_dir)


def test_the_day_is_read_from_its_parquet_files_with_its_gap_and_spike(
    data_dir: Path, exported: ExportedDay
) -> None:
    (data_dir / "gex_data.db").unlink()  # the database plays no part
    series = read_day(data_dir / "parquet" / "gexbot", "SPX", "gex_zero", exported.trade_date)
    missing = exported.gap[1] - exported.gap[0] + 1
    assert len(series.timestamp) == 23_400 - missing
    assert series.gaps == ((exported.ms(exported.gap[0] - 1), exported.ms(exported.gap[1] + 1)),)
    assert series.spikes == (exported.ms(exported.spike),)
    assert series.jumps == ()


def test_plot_writes_a_png_of_the_feed_day(
    exported: ExportedDay, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "charts" / "spx.png"
    assert main(["plot", "--feed", "SPX.gex_zero", "--date", "2025-11-14", "--out", str(out)]) == 0
    assert _png_size(out.read_bytes()) == (round(FIGSIZE_IN[0] * DPI), round(FIGSIZE_IN[1] * DPI))
    printed = capsys.readouterr().out
    assert "23,280 snapshots, 1 gap(s), 1 spike(s), 0 jump(s)" in printed


@pytest.mark.parametrize(
    ("feed", "day", "says"),
    [
        ("SPX.gex_zero", "2025-11-13", "no snapshots file for SPX gex_zero 2025-11-13"),
        ("SPX", "2025-11-14", "feed key must look like TICKER.endpoint"),
    ],
)
def test_plot_refuses_what_it_cannot_draw(
    exported: ExportedDay,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    feed: str,
    day: str,
    says: str,
) -> None:
    out = tmp_path / "x.png"
    assert main(["plot", "--feed", feed, "--date", day, "--out", str(out)]) == 2
    assert says in capsys.readouterr().out
    assert not out.exists()


def test_each_parquet_materialization_carries_the_chart(
    data_dir: Path, exported: ExportedDay
) -> None:
    resources = {
        "tables": tables_for(data_dir),
        "parquet": ParquetStore(
            root=str(data_dir / "parquet" / "gexbot"), views_file=str(data_dir / "views.duckdb")
        ),
    }
    with dg.instance_for_test(temp_dir=str(data_dir / "dagster_home")) as instance:
        instance.add_dynamic_partitions("feed", ["SPX.gex_zero"])
        result = dg.materialize(
            [gex_tables],
            selection=dg.AssetSelection.assets(GEX_PARQUET).without_checks(),
            resources=resources,
            instance=instance,
            partition_key="2025-11-14|SPX.gex_zero",
        )
        events = run_materializations(instance, result.run_id)
    [event] = [e for e in events if e.asset_key == GEX_PARQUET]
    chart = event.metadata["day_chart"].value
    alt, _, data = chart.partition("](data:image/png;base64,")
    assert alt == "![SPX gex_zero 2025-11-14: 23,280 snapshots, 1 gap(s), 1 spike(s), 0 jump(s)"
    assert _png_size(base64.b64decode(data.removesuffix(")"))) == (900, 504)
