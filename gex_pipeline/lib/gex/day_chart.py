"""A picture of one feed-day: spot, zero gamma and net GEX over the session, gaps and spikes marked.

Read from the exported `<YYYYMMDD>.snapshots.parquet` of the feed-day (one row per snapshot: spot,
zero_gamma, sum_gex_vol, sum_gex_oi), so it works without the database and while the pipeline
runs. The gaps and the spot spikes/jumps are those the `timestamp_gaps` and `spot_spikes` checks
find (`gex_pipeline.lib.gex.integrity`, default thresholds), run over the same rows. Drawn with
matplotlib's object API on the Agg canvas (no pyplot, no display, no global state), as a PNG.
"""

from __future__ import annotations

import base64
import io
from dataclasses import dataclass
from datetime import date, datetime
from datetime import time as dt_time
from pathlib import Path

import duckdb
import numpy as np

from gex_pipeline.lib.calendar.trading_date import TRADING_TZ
from gex_pipeline.lib.gex.integrity import FeedDay, Thresholds, spot_spikes, timestamp_gaps
from gex_pipeline.lib.gex.parquet_export import snapshots_path
from gex_pipeline.lib.gex.snapshot_scan import read_snapshot_files

FIGSIZE_IN = (10.0, 5.6)
DPI = 90
_COLUMNS = "timestamp, spot, zero_gamma, sum_gex_vol, sum_gex_oi"


class NoSnapshots(FileNotFoundError):
    """The feed-day has no exported snapshots file (or it holds no row)."""


@dataclass(frozen=True)
class DaySeries:
    """One feed-day's snapshots (epoch ms order) and what the checks found in them."""

    day: FeedDay
    timestamp: np.ndarray
    spot: np.ndarray
    zero_gamma: np.ndarray
    net_gex_vol: np.ndarray
    net_gex_oi: np.ndarray
    gaps: tuple[tuple[int, int], ...]  # (last before, first after), epoch ms
    spikes: tuple[int, ...]
    jumps: tuple[int, ...]


def read_day(parquet_root: Path, ticker: str, endpoint: str, trade_date: date) -> DaySeries:
    """The feed-day's series from its snapshots file, with its gaps, spikes and jumps."""
    day = FeedDay(trade_date, ticker, endpoint)
    path = snapshots_path(parquet_root, ticker, endpoint, trade_date)
    if not path.is_file():
        raise NoSnapshots(f"no snapshots file for {day}: {path} (export the feed-day first)")
    with duckdb.connect() as con:
        rows = con.execute(
            f"SELECT {_COLUMNS} FROM read_parquet($path) ORDER BY timestamp", {"path": str(path)}
        ).fetchnumpy()
        snaps = read_snapshot_files(con, {trade_date: path}, ticker, endpoint)[trade_date]
        if len(snaps) == 0:
            raise NoSnapshots(f"the snapshots file of {day} holds no row: {path}")
        limits = Thresholds(examples=len(snaps))
        found = spot_spikes(con, day, limits, snaps=snaps).examples
        gaps = timestamp_gaps(con, day, limits, snaps=snaps).blocks["gap"]

    def column(name: str) -> np.ndarray:
        return np.asarray(rows[name], dtype=np.float64)  # NULL -> nan: a break in the line

    return DaySeries(
        day=day,
        timestamp=np.asarray(rows["timestamp"], dtype=np.int64),
        spot=column("spot"),
        zero_gamma=column("zero_gamma"),
        net_gex_vol=column("sum_gex_vol"),
        net_gex_oi=column("sum_gex_oi"),
        gaps=tuple((g.start_ms, g.end_ms) for g in gaps),
        spikes=tuple(found["spike"]),
        jumps=tuple(found["jump"]),
    )


def _hours(epoch_ms: np.ndarray | list[int] | tuple[int, ...], day: date) -> np.ndarray:
    """Hours since midnight New York time of `day` (a plain numeric axis: cheap ticks)."""
    midnight = datetime.combine(day, dt_time(0), TRADING_TZ).timestamp() * 1000
    return (np.asarray(epoch_ms, dtype=np.float64) - midnight) / 3_600_000


def _clock(hours: float, _position: object = None) -> str:
    minutes = round(hours * 60)
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def summary(series: DaySeries) -> str:
    """One line: the feed-day, its snapshots and what was marked."""
    return (
        f"{series.day}: {len(series.timestamp):,} snapshots, {len(series.gaps)} gap(s), "
        f"{len(series.spikes)} spike(s), {len(series.jumps)} jump(s)"
    )


def render_png(series: DaySeries) -> bytes:
    """The chart as PNG bytes (64 colours): spot and zero gamma above, net GEX below, against
    New York time."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import EngFormatter, FuncFormatter, MultipleLocator
    from PIL import Image

    fig = Figure(figsize=FIGSIZE_IN, dpi=DPI)
    fig.subplots_adjust(left=0.08, right=0.91, top=0.87, bottom=0.1, hspace=0.3)
    top, bottom = fig.subplots(2, 1, sharex=True, height_ratios=(3, 2))
    day = series.day.trade_date
    when = _hours(series.timestamp, day)
    top.plot(when, series.spot, color="tab:blue", linewidth=0.9, label="spot")
    top.plot(when, series.zero_gamma, color="tab:orange", linewidth=0.9, label="zero gamma")
    at = {int(ts): i for i, ts in enumerate(series.timestamp)}
    for stamps, marker, color, label in (
        (series.spikes, "x", "tab:red", "spike"),
        (series.jumps, "^", "tab:purple", "jump"),
    ):
        if stamps:
            spots = [series.spot[at[ts]] for ts in stamps]
            top.scatter(_hours(stamps, day), spots, marker=marker, color=color, s=40, zorder=3,
                        label=f"{label} ({len(stamps)})")  # fmt: skip
    bottom.plot(when, series.net_gex_vol, color="tab:green", linewidth=0.9, label="net GEX (vol)")
    oi = bottom.twinx()
    oi.plot(when, series.net_gex_oi, color="tab:gray", linewidth=0.8, label="net GEX (OI)")
    for axis in (top, bottom):
        for i, gap in enumerate(series.gaps):
            axis.axvspan(*_hours(gap, day), color="tab:red", alpha=0.18, linewidth=0,
                         label=f"gap ({len(series.gaps)})" if axis is top and i == 0 else None)  # fmt: skip
        for edge in series.day.window() or ():
            axis.axvline(_hours([edge], day)[0], color="black", linestyle=":", linewidth=0.8)
        axis.grid(alpha=0.3)
    top.set_ylabel("price")
    bottom.set_ylabel("net GEX (vol)")
    oi.set_ylabel("net GEX (OI)")
    for axis in (bottom, oi):
        axis.yaxis.set_major_formatter(EngFormatter())  # 1.5 M, not a "1e6" offset
    bottom.xaxis.set_major_locator(MultipleLocator(1))
    bottom.xaxis.set_major_formatter(FuncFormatter(_clock))
    bottom.set_xlabel(f"New York time, {day.isoformat()}")
    # legends above each panel, where they hide no data
    above = {"loc": "lower left", "bbox_to_anchor": (0, 1), "fontsize": "small", "frameon": False}
    top.legend(ncols=5, **above)
    lines, labels = bottom.get_legend_handles_labels()
    more, more_labels = oi.get_legend_handles_labels()
    bottom.legend(lines + more, labels + more_labels, ncols=3, **above)
    fig.suptitle(summary(series), fontsize="medium")
    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    image = Image.frombuffer("RGBA", canvas.get_width_height(), canvas.buffer_rgba())
    out = io.BytesIO()
    # 64 colours (octree keeps the few red pixels of a marker): a quarter of the bytes of the
    # full-colour PNG, which is kept in the event log with each export
    image.convert("RGB").quantize(colors=64, method=Image.Quantize.FASTOCTREE).save(
        out, format="PNG"
    )
    return out.getvalue()


def markdown_image(png: bytes, alt: str) -> str:
    """Markdown showing `png` inline (a data URI), as the Dagster UI renders metadata."""
    return f"![{alt}](data:image/png;base64,{base64.b64encode(png).decode()})"


def chart_markdown(parquet_root: Path, ticker: str, endpoint: str, trade_date: date) -> str:
    """The feed-day's chart as inline markdown, or why there is none (a missing chart never
    fails an export)."""
    try:
        series = read_day(parquet_root, ticker, endpoint, trade_date)
    except NoSnapshots as exc:
        return f"no chart: {exc}"
    return markdown_image(render_png(series), summary(series))
