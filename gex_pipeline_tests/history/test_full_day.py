"""A full-size generated day (23,400 snapshots x 100 strikes, gzip) through download and import."""

from __future__ import annotations

from datetime import date

import pytest

from gex_pipeline.cli.demo.history_day import make_day_file
from gex_pipeline.cli.demo.session import session_bounds
from gex_pipeline.lib.db.connection import connect
from gex_pipeline.lib.db.schema import migrate
from gex_pipeline.lib.gex.parquet_export import export_partition
from gex_pipeline.lib.history.day_import import import_day_file
from gex_pipeline.lib.history.download import download_day_file
from gex_pipeline.lib.history.url_policy import UrlPolicy
from gex_pipeline.settings import DownloadLimits

DAY = date(2025, 11, 14)


@pytest.mark.e2e
def test_full_day_gzip_is_downloaded_and_imported_row_for_row(history_http, tmp_path):
    day = make_day_file(tmp_path / "files", DAY, "SPX", snapshots=None, strikes=100)
    history_http.route("/d.json.gz", ("body", day.path.read_bytes()))
    policy = UrlPolicy((f"127.0.0.1:{history_http.port}",), allow_http=True, allow_private=True)
    got = download_day_file(
        history_http.url("/d.json.gz", "sig=x"), tmp_path / "raw.json.gz", policy, DownloadLimits()
    )
    with connect(tmp_path / "gex.db") as con:
        migrate(con)
        con.execute("SET memory_limit = '1GB'")
        stats = import_day_file(
            con,
            got.path,
            ticker="SPX",
            endpoint="gex_zero",
            trade_date=DAY,
            backups_dir=tmp_path / "backups",
        )
        exported = export_partition(con, tmp_path / "pq", "SPX", "gex_zero", DAY)
    open_s, close_s = session_bounds(DAY)
    assert got.gzip and got.sha256 == day.manifest.sha256
    assert (stats.snapshots, stats.strike_rows) == (23_400, 2_340_000)
    assert (stats.first_ts, stats.last_ts) == (open_s * 1000, (close_s - 1) * 1000)
    assert exported.rows == 2_340_000
