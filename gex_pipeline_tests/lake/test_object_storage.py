"""The lake on S3-compatible object storage (a moto server on 127.0.0.1): every lake path works.

Imports, the export's byte copy, `restore` of a feed-day, the live mirror and seal, readers, the
daily vacuum; the restore points, which copy local files, refuse clearly and change nothing.
"""

from __future__ import annotations

import re
import shutil
import uuid
from collections import Counter
from datetime import date
from pathlib import Path
from urllib.parse import unquote

import polars as pl
import pyarrow as pa
import pytest

from gex_pipeline.cli import main
from gex_pipeline.cli.demo.history_day import make_day_file
from gex_pipeline.lib.db.connection import connect
from gex_pipeline.lib.db.schema import migrate
from gex_pipeline.lib.gex.feed_day import FeedDay
from gex_pipeline.lib.gex.live_load import load_segments
from gex_pipeline.lib.history.partition_import import import_partition
from gex_pipeline.lib.history.sources import raw_dir, raw_file_name
from gex_pipeline.lib.lake.mirror import mirror
from gex_pipeline.lib.lake.reads import connect_lake, table_dataset
from gex_pipeline.lib.lake.remote import SharedLakeUnsupported, settings_lake
from gex_pipeline.lib.lake.restore_points import BackupRoots, take_point
from gex_pipeline.lib.lake.seal import hot_partitions, seal
from gex_pipeline.lib.lake.store import TableStore
from gex_pipeline.lib.lake.tables import Lake, Partition, TableCache, lake_schema, partition_files
from gex_pipeline.lib.lake.writes import append, empty_rows
from gex_pipeline.settings import Settings
from gex_pipeline_tests.support.object_store import BUCKET, ObjectStore
from gex_pipeline_tests.support.staging_trees import GEX_BASE_MS, GexStagingTree

DAY = date(2025, 11, 14)
FEED = ["--feed", "SPX.gex_zero", "--date", "2025-11-14"]
ROWS = "SELECT timestamp, strike, gamma, oi_gamma, priors FROM gex_strikes ORDER BY ALL"


@pytest.fixture
def shared(data_dir: Path, object_store: ObjectStore, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """Settings whose lake is a fresh prefix of the moto bucket."""
    for name, value in object_store.env(uuid.uuid4().hex).items():
        monkeypatch.setenv(name, value)
    return Settings.from_env()


def _rows(lake: Lake, sql: str) -> list[tuple]:
    with connect_lake(lake) as con:
        return con.execute(sql).fetchall()


def _import(settings: Settings, tmp_path: Path, seed: int, export: bool = False) -> None:
    day = make_day_file(tmp_path / f"files{seed}", "2025-11-14", "SPX", "gex_zero", seed=seed,
                        snapshots=60, strikes=20)  # fmt: skip
    folder = raw_dir(settings.paths.source_dir, "SPX", "gex_zero")
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy(day.path, folder / raw_file_name(DAY, "SPX", "gex_zero", True))
    import_partition(
        FeedDay(DAY, "SPX", "gex_zero"),
        store=TableStore.from_settings(settings),
        paths=settings.paths,
        history=settings.history,
        parquet_root=settings.paths.parquet_dir if export else None,
    )


def test_object_storage_settings_name_the_bucket_endpoint_and_host(
    shared: Settings, object_store: ObjectStore
) -> None:
    lake = settings_lake(shared)
    assert lake.root.startswith("s3://gex-lake/") and lake.local_path("gex_strikes") is None
    assert lake.storage_options["AWS_ENDPOINT_URL"] == object_store.endpoint
    assert lake.storage_options["conditional_put"] == "etag"
    assert lake.host and lake.shared  # the machine's name unless GEX_LAKE_HOST says otherwise
    with pytest.raises(ValueError, match="GEX_LAKE_URI"):
        Settings.from_env({"GEX_LAKE_URI": "gs://elsewhere/lake"})
    with pytest.raises(ValueError, match="GEX_LAKE_S3_ENDPOINT"):
        Settings.from_env({"GEX_LAKE_S3_ENDPOINT": "minio:9000"})
    local = settings_lake(Settings.from_env({"GEX_DATA_DIR": "/srv/gex", "GEX_LAKE_HOST": "h1"}))
    assert local.root == "/srv/gex/lake" and local.storage_options == {} and local.host is None
    assert not local.shared  # this host's loader is the only writer of its open partitions
    mounted = settings_lake(Settings.from_env({"GEX_LAKE_URI": "/mnt/lake", "GEX_LAKE_HOST": "h1"}))
    assert (mounted.root, mounted.host, mounted.shared) == ("/mnt/lake", "h1", True)


def test_object_storage_import_restore_and_export_copy_the_lake_file(
    shared: Settings, tmp_path: Path, object_store: ObjectStore, capsys: pytest.CaptureFixture[str]
) -> None:
    lake = settings_lake(shared)
    _import(shared, tmp_path, seed=1)
    original = _rows(lake, ROWS)
    _import(shared, tmp_path, seed=2)
    assert original and _rows(lake, ROWS) != original
    assert not (shared.paths.data_dir / "lake").exists()  # nothing of the lake on this host
    prefix = lake.root.removeprefix("s3://gex-lake/")
    assert any(
        k.startswith(f"{prefix}/gex_strikes/_delta_log/") for k in object_store.object_keys()
    )

    assert main(["restore", "--list", *FEED]) == 0
    assert "history" in capsys.readouterr().out
    assert main(["restore", *FEED]) == 0
    assert _rows(lake, ROWS) == original
    parquet = shared.paths.parquet_dir / "SPX" / "gex_zero" / "20251114.strikes.parquet"
    exported = pl.read_parquet(parquet)
    assert exported.height == len(original)
    # the export is the lake's one file of the partition, fetched from the object store
    table = lake.open("gex_strikes")
    assert table is not None
    files = [f for f in table.file_uris() if "feed=SPX.gex_zero" in f]
    assert len(files) == 1
    assert pl.read_parquet(files[0], storage_options=lake.options()).equals(exported)


def _requests(store: ObjectStore, prefix: str, since: int) -> list[tuple[str, str]]:
    """(method, key or `LIST <prefix>`) of the requests moto logged for `prefix` after line
    `since` of its log."""
    found = []
    for line in store.log_path.read_text().splitlines()[since:]:
        request = re.search(
            r'"(GET|PUT|POST|HEAD|DELETE) (\S+) HTTP', re.sub(r"\x1b\[[0-9;]*m", "", line)
        )
        if request is None:
            continue
        path, _, query = request.group(2).partition("?")
        listed = re.search(r"prefix=([^&]*)", query) if "list-type" in query else None
        key = f"LIST {unquote(listed.group(1))}" if listed else unquote(path)
        if prefix in key:
            found.append((request.group(1), key))
    return found


def test_object_storage_import_checks_and_exports_from_one_fetch_of_what_it_wrote(
    shared: Settings, tmp_path: Path, object_store: ObjectStore
) -> None:
    """An import opens each table once, reads back the versions it wrote (no look for newer
    commits after its last one), and fetches the strike file it wrote once for both its checks
    and its export (a local copy, removed after)."""
    lake = settings_lake(shared)
    prefix = lake.root.removeprefix(f"s3://{BUCKET}/")
    _import(shared, tmp_path, seed=1)  # every table exists
    since = len(object_store.log_path.read_text().splitlines())
    _import(shared, tmp_path, seed=2, export=True)
    requests = _requests(object_store, prefix, since)

    opens = Counter(k.split("/")[-3] for _, k in requests if k.endswith("/_last_checkpoint"))
    assert set(opens.values()) == {1}, opens  # one open per table, none brought up to date
    last_commit = max(i for i, (m, k) in enumerate(requests) if m == "PUT" and "_delta_log/" in k)
    assert not [
        k for _, k in requests[last_commit:] if "LIST" in k and "gex_partition_changes" not in k
    ]
    table = lake.open("gex_strikes")
    assert table is not None
    (written,) = [str(f["path"]) for f in partition_files(table, Partition(DAY, "SPX.gex_zero"))]
    assert [m for m, k in requests if k.endswith(written)] == ["PUT", "GET"]
    parquet = shared.paths.parquet_dir / "SPX" / "gex_zero" / "20251114.strikes.parquet"
    lake_file = pl.read_parquet(
        f"{lake.uri('gex_strikes')}/{written}", storage_options=lake.options()
    )
    assert pl.read_parquet(parquet).equals(lake_file)
    assert not list(shared.paths.work_dir.glob(".reader-*"))  # the local copies are gone


def test_object_storage_live_rows_are_mirrored_sealed_and_read(
    shared: Settings, gex_staging: GexStagingTree
) -> None:
    lake = settings_lake(shared)
    records = [gex_staging.record(timestamp=GEX_BASE_MS + s * 1000, spot=1.0 + s) for s in range(5)]
    with connect(shared.paths.duckdb_path) as con:
        migrate(con)
        load_segments(con, [gex_staging.seal(records)])
        assert mirror(con, lake, since=None).appended["gex_snapshots"] == 5
        assert mirror(con, lake, since=None).rows == 0
        assert _rows(lake, "SELECT count(*) FROM gex_strikes") == [(15,)]
        for partition in hot_partitions(con):
            seal(con, lake, partition)
        assert hot_partitions(con) == []
    assert _rows(lake, "SELECT count(*), sum(spot) FROM gex_snapshots") == [(5, 15.0)]
    figures = _rows(lake, "SELECT strike_rows FROM gex_partition_figures")
    assert figures == [(15,)]


def test_object_storage_restore_points_refuse_and_write_nothing(
    shared: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    lake = settings_lake(shared)
    backups = BackupRoots(shared.paths.backups_dir)
    with pytest.raises(SharedLakeUnsupported, match="object storage"):
        take_point(shared.paths.duckdb_path, lake, backups)
    assert main(["backup"]) == 2
    assert "refused" in capsys.readouterr().out
    assert not backups.points.exists() or list(backups.points.iterdir()) == []


def test_object_storage_tables_checkpoint_every_ten_commits(
    object_store: ObjectStore, tmp_path: Path
) -> None:
    remote, local = object_store.lake(), Lake(str(tmp_path / "lake"))
    for lake in (remote, local):
        table = TableCache(lake).ensure("gex_events")
        for _ in range(10):
            append(lake, "gex_events", empty_rows("gex_events"), writer="t", partitions=[],
                   table=table)  # fmt: skip
    prefix = remote.root.removeprefix(f"s3://{BUCKET}/")
    # an open reads the checkpoint and the commits after it, not every commit since version 0
    assert [k for k in object_store.object_keys(prefix) if k.endswith(".checkpoint.parquet")]
    assert not list((tmp_path / "lake").glob("*/_delta_log/*.checkpoint.parquet"))  # every 100


def test_object_storage_reads_only_the_files_of_the_partitions_and_ranges(
    object_store: ObjectStore,
) -> None:
    lake = object_store.lake()
    table = TableCache(lake).ensure("gex_events")
    for feed, timestamp in (("SPX.gex_zero", 1), ("SPX.gex_zero", 5), ("NDX.gex_zero", 1)):
        ticker, _, endpoint = feed.partition(".")
        row = {**dict.fromkeys(lake_schema("gex_events").names), "ticker": ticker,
               "endpoint": endpoint, "kind": "k", "timestamp": timestamp, "trade_date": DAY,
               "feed": feed}  # fmt: skip
        rows = pa.Table.from_pylist([row], schema=lake_schema("gex_events"))
        append(lake, "gex_events", rows, writer="t", partitions=[], table=table)
    spx = [Partition(DAY, "SPX.gex_zero")]
    assert len(table_dataset(table, "gex_events", spx).files) == 2
    assert len(table_dataset(table, "gex_events", spx, {"timestamp": (4, None)}).files) == 1
    assert len(table_dataset(table, "gex_events", None, {"timestamp": (None, 2)}).files) == 2
    assert table_dataset(table, "gex_events", []).count_rows() == 0


def test_object_storage_loaders_pass_every_second_unless_configured(
    object_store: ObjectStore, data_dir: Path
) -> None:
    from gex_pipeline.cli.live_loader import build_loader

    def flush_seconds(env: dict[str, str]) -> float:
        settings = Settings.from_env({"GEX_DATA_DIR": str(data_dir), **env})
        loader = build_loader(settings.paths, settings.pipeline, None, settings.lake)
        assert loader.lake is not None
        return loader.lake.flush_seconds

    remote = object_store.env(uuid.uuid4().hex)
    assert flush_seconds(remote) == 1  # a pass costs round trips there: passes run more often
    assert flush_seconds({}) == 2  # a local lake
    assert flush_seconds({**remote, "GEX_LAKE_FLUSH_SECONDS": "3"}) == 3
    assert flush_seconds({"GEX_LAKE_FLUSH_SECONDS": "0"}) == 0


def test_object_storage_maintenance_configures_and_vacuums_the_tables(
    object_store: ObjectStore,
) -> None:
    from deltalake import DeltaTable

    from gex_pipeline.lib.lake.maintenance import vacuum_lake
    from gex_pipeline.lib.lake.tables import SPECS, TABLE_CONFIGURATION
    from gex_pipeline.lib.lake.writes import replace

    lake = object_store.lake()
    spx = Partition(DAY, "SPX.gex")
    # created with other properties (a checkpoint every 100 commits), as by an older version
    DeltaTable.create(lake.uri("gex_events"), schema=lake_schema("gex_events"),
                      partition_by=list(SPECS["gex_events"].partition_by),
                      configuration=TABLE_CONFIGURATION, storage_options=lake.options())  # fmt: skip
    schema = lake_schema("gex_events")
    row = pa.table(
        {
            f.name: pa.array([{"trade_date": DAY, "feed": "SPX.gex"}.get(f.name)], f.type)
            for f in schema
        },
        schema=schema,
    )
    table = TableCache(lake).ensure("gex_events")
    append(lake, "gex_events", row, writer="t", partitions=[spx], table=table)
    before = replace(lake, "gex_events", spx, empty_rows("gex_events"), writer="t").version() - 1
    assert vacuum_lake(lake, retention_days=30) == {"gex_events": 0}
    reopened = lake.open("gex_events")
    assert reopened is not None and reopened.file_uris() == []
    assert reopened.metadata().configuration == lake.configuration()  # a checkpoint every 10
    old = lake.open("gex_events", before)
    assert old is not None
    assert table_dataset(old, "gex_events").count_rows() == 1  # the replaced file is still there


def test_object_storage_tables_open_ahead_and_a_stale_open_is_started_again(
    object_store: ObjectStore, tmp_path: Path
) -> None:
    lake = object_store.lake()
    writer = TableCache(lake).ensure("gex_events")
    cache = TableCache(lake)
    cache.prefetch(["gex_events", "gex_snapshots"])  # one never written: None when taken
    opened = cache.opening["gex_events"].result()
    assert opened is not None
    append(lake, "gex_events", empty_rows("gex_events"), writer="t", partitions=[], table=writer)
    cache.prefetch(["gex_events"])  # nobody took the first open: it would be a version behind
    table = cache.get("gex_events")
    assert table is not None and table.version() == opened.version() + 1
    assert cache.get("gex_snapshots") is None
    local = TableCache(Lake(str(tmp_path / "lake")))
    local.prefetch(["gex_events"])  # a local open is cheaper than the thread
    assert not local.opening


def test_object_storage_a_reader_fetches_no_data_file_it_is_not_asked_to(
    shared: Settings, tmp_path: Path, object_store: ObjectStore
) -> None:
    """A reader of a date attaches every table of it (the GEX tables of all its feeds): only an
    export's reader (`local_copies`) fetches the partition's files up front."""
    _import(shared, tmp_path, seed=1)
    prefix = settings_lake(shared).root.removeprefix(f"s3://{BUCKET}/")
    since = len(object_store.log_path.read_text().splitlines())
    with TableStore.from_settings(shared).reader(Partition(DAY)) as con:
        assert not list(shared.paths.work_dir.glob(".reader-*"))
        fetched = [k for m, k in _requests(object_store, prefix, since) if m == "GET"]
        assert not [k for k in fetched if k.endswith(".parquet") and "_delta_log" not in k]
        assert con.execute("SELECT count(*) FROM gex_snapshots").fetchall() == [(60,)]
