"""The history domain in Dagster: sensor, import runs, backfill from kept files, status records.

Links are posted through the real ingest app; day files come from a real HTTP server on
127.0.0.1 (the allow-list is extended to it); runs execute on a real Dagster instance.
"""

from __future__ import annotations

import threading
from datetime import date
from pathlib import Path

import dagster as dg
import pytest

from gex_pipeline.cli.demo.history_day import make_day_file
from gex_pipeline.defs.gex.tables import gex_tables
from gex_pipeline.defs.history.assets import REQUEST_TAG
from gex_pipeline.defs.history.sensors import build_history_sensor
from gex_pipeline.defs.partition_runs import TRANSIENT_RETRY
from gex_pipeline.defs.partitions import FEED_PARTITIONS_NAME, gex_partition_key
from gex_pipeline.defs.resources import build_resources
from gex_pipeline.lib.db.connection import connect
from gex_pipeline.lib.lake.tables import SPECS
from gex_pipeline.lib.staging.history_store import HistoryStore
from gex_pipeline.settings import Settings
from gex_pipeline_tests.support.lake import lake_rows

SECRET = "S3CR3TSIGNATURE"
QUERY = f"sv=2024-01-01&sig={SECRET}"
NAME = "2025-11-14_SPX_classic_gex_zero.json.gz"
PARTITION = "2025-11-14|SPX.gex_zero"


@pytest.fixture
def env(data_dir, history_http, monkeypatch):
    """Settings that let the pipeline and the API fetch from the local server."""
    monkeypatch.setenv("GEX_HISTORY_ALLOWED_HOSTS", f"127.0.0.1:{history_http.port}")
    monkeypatch.setenv("GEX_HISTORY_ALLOW_HTTP", "1")
    monkeypatch.setenv("GEX_HISTORY_ALLOW_PRIVATE", "1")
    monkeypatch.setenv("GEX_HISTORY_RETRIES", "0")
    return data_dir


@pytest.fixture
def instance(env):
    with dg.instance_for_test(temp_dir=str(env / "dagster_home")) as inst:
        inst.add_dynamic_partitions(FEED_PARTITIONS_NAME, ["SPX.gex_zero"])
        yield inst


@pytest.fixture
def api(env, ingest_client):
    return ingest_client()


def _post(api, server, path: str = f"/hist/{NAME}", query: str = QUERY) -> dict:
    answer = api.post("/gex_history_url", json={"url": server.url(path, query)})
    assert answer.status_code == 202, answer.text
    return answer.json()


def _materialize(instance, request_id: str | None = None, force: bool = False):
    return dg.materialize(
        [gex_tables],
        partition_key=PARTITION,
        instance=instance,
        resources=build_resources(Settings.from_env()),
        tags={REQUEST_TAG: request_id} if request_id else None,
        run_config={"ops": {"gex_tables": {"config": {"force": force}}}},
        raise_on_error=False,
    )


def _serve_day(server, tmp_path: Path, **kw) -> bytes:
    day = make_day_file(tmp_path / "files", "2025-11-14", "SPX", **kw)
    data = day.path.read_bytes()
    server.route(f"/hist/{NAME}", ("body", data))
    return data


def _strike_rows(data_dir: Path) -> int:
    return int(lake_rows(data_dir, "SELECT count(*) FROM gex_strikes")[0][0])


def _tick(instance, cursor: str | None = None):
    settings = Settings.from_env()
    sensor = build_history_sensor(settings.paths, settings.history)
    return sensor(dg.build_sensor_context(instance=instance, cursor=cursor))


def test_sensor_requests_a_run_per_posted_link_and_registers_its_feed(api, history_http, env):
    posted = _post(api, history_http)
    with dg.instance_for_test(temp_dir=str(env / "dagster_home")) as fresh:
        result = _tick(fresh)
    [run] = result.run_requests
    assert run.partition_key == gex_partition_key(date(2025, 11, 14), "SPX", "gex_zero")
    assert run.tags[REQUEST_TAG] == posted["id"]
    assert run.run_key == f"gex_history:{posted['id']}:1"
    assert result.dynamic_partitions_requests[0].partition_keys == ["SPX.gex_zero"]


def test_sensor_skips_when_nothing_new_was_posted(api, history_http, instance):
    _post(api, history_http)
    first = _tick(instance)
    again = _tick(instance, first.cursor)
    assert again.run_requests == []
    assert "no day-file link" in again.skip_reason.skip_message


def test_repost_with_a_new_signature_starts_a_new_attempt(api, history_http, instance):
    posted = _post(api, history_http)
    first = _tick(instance)
    _post(api, history_http, query="sv=2024-01-01&sig=FRESHSIGNATURE")
    second = _tick(instance, first.cursor)
    [run] = second.run_requests
    assert run.run_key == f"gex_history:{posted['id']}:2"


def test_repost_while_the_run_has_not_started_adds_no_run(api, history_http, instance):
    posted = _post(api, history_http)
    first = _tick(instance)
    instance.add_run(
        dg.DagsterRun(
            job_name="gex_history_job",
            tags={REQUEST_TAG: posted["id"]},
            status=dg.DagsterRunStatus.NOT_STARTED,
        )
    )
    _post(api, history_http, query="sv=2024-01-01&sig=FRESHSIGNATURE")
    second = _tick(instance, first.cursor)
    assert second.run_requests == []
    assert _tick(instance, second.cursor).run_requests == []


def test_sensor_run_requests_carry_no_signed_url(api, history_http, instance):
    _post(api, history_http)
    result = _tick(instance)
    assert SECRET not in repr(result.run_requests)
    assert SECRET not in result.cursor


@pytest.mark.e2e
def test_posted_link_is_downloaded_imported_exported_and_reported_done(
    api, history_http, instance, env, tmp_path
):
    _serve_day(history_http, tmp_path)
    posted = _post(api, history_http)
    result = _materialize(instance, posted["id"])
    assert result.success
    status = api.get(f"/gex_history_url/{posted['id']}").json()
    assert status["state"] == "done"
    assert status["rows"]["strike_rows"] == 300 * 100
    assert (env / "source" / "gexbot" / "SPX" / "gex_zero" / NAME).exists()
    assert (env / "parquet" / "gexbot" / "SPX" / "gex_zero" / "20251114.strikes.parquet").exists()
    assert _strike_rows(env) == 300 * 100


@pytest.mark.e2e
def test_signed_query_appears_in_no_log_event_table_or_file(
    api, history_http, instance, env, tmp_path, caplog
):
    _serve_day(history_http, tmp_path)
    posted = _post(api, history_http)
    result = _materialize(instance, posted["id"])
    assert result.success and any(SECRET in q for q in history_http.queries)
    events = instance.all_logs(result.run_id)
    run = instance.get_run_by_id(result.run_id)
    assert SECRET not in repr(events) + repr(run) + caplog.text
    with connect(env / "gex_data.db") as con:
        tables = [r[0] for r in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()]
        dumped = "".join(repr(con.execute(f"SELECT * FROM {t}").fetchall()) for t in tables)
    dumped += "".join(repr(lake_rows(env, f"SELECT * FROM {t}")) for t in SPECS)
    assert SECRET not in dumped
    for path in env.rglob("*"):
        if path.is_file():
            assert SECRET.encode() not in path.read_bytes(), path


@pytest.mark.e2e
def test_status_moves_from_pending_through_download_and_import_to_done(
    api, history_http, instance, tmp_path
):
    data = _serve_day(history_http, tmp_path, snapshots=3000)
    history_http.route(f"/hist/{NAME}", ("slow", (0.5, data)))
    posted = _post(api, history_http)
    _tick(instance)
    paths = api.app.state.settings.paths
    store = HistoryStore(paths.data_dir, paths.secrets_dir)
    states = [store.read_status(posted["id"])["state"]]
    worker = threading.Thread(target=_materialize, args=(instance, posted["id"]))
    worker.start()
    while worker.is_alive():
        state = (store.read_status(posted["id"]) or {}).get("state")
        if state != states[-1]:
            states.append(state)
    worker.join()
    final = api.get(f"/gex_history_url/{posted['id']}").json()["state"]
    if final != states[-1]:
        states.append(final)
    assert states == ["pending", "downloading", "importing", "done"]


@pytest.mark.e2e
def test_expired_link_fails_with_a_clear_reason_and_changes_nothing(
    api, history_http, instance, env
):
    history_http.route(f"/hist/{NAME}", ("status", 403))
    posted = _post(api, history_http)
    result = _materialize(instance, posted["id"])
    status = api.get(f"/gex_history_url/{posted['id']}").json()
    assert not result.success
    assert status["state"] == "failed"
    assert "expired" in status["reason"] and SECRET not in status["reason"]
    assert _strike_rows(env) == 0


@pytest.mark.e2e
def test_backfill_reimports_the_kept_raw_file_without_downloading(
    api, history_http, instance, env, tmp_path
):
    _serve_day(history_http, tmp_path)
    posted = _post(api, history_http)
    assert _materialize(instance, posted["id"]).success
    hits = history_http.hits[f"/hist/{NAME}"]
    backfill = _materialize(instance)
    assert backfill.success
    assert history_http.hits[f"/hist/{NAME}"] == hits
    assert _strike_rows(env) == 300 * 100


@pytest.mark.e2e
def test_backfill_downloads_from_the_live_link_when_no_raw_file_is_kept(
    api, history_http, instance, env, tmp_path
):
    _serve_day(history_http, tmp_path)
    _post(api, history_http)
    assert _materialize(instance).success
    assert history_http.hits[f"/hist/{NAME}"] == 1
    assert _strike_rows(env) == 300 * 100


def test_backfill_without_raw_file_or_link_fails_with_a_clear_message(instance):
    result = _materialize(instance)
    failure = next(e for e in result.all_events if e.event_type_value == "STEP_FAILURE")
    assert not result.success
    assert "no kept raw file" in failure.event_specific_data.error.message


def test_link_for_a_date_outside_the_partitions_is_reported_failed(api, history_http, instance):
    posted = _post(api, history_http, path="/hist/2019-01-02_SPX_classic_gex_zero.json.gz")
    result = _tick(instance)
    status = api.get(f"/gex_history_url/{posted['id']}").json()
    assert result.run_requests == []
    assert status["state"] == "failed"
    assert "is not a date partition" in status["reason"]


def test_link_for_a_weekend_day_file_is_reported_failed(api, history_http, instance):
    posted = _post(api, history_http, path="/hist/2025-11-15_SPX_classic_gex_zero.json.gz")
    result = _tick(instance)
    status = api.get(f"/gex_history_url/{posted['id']}").json()
    assert result.run_requests == []
    assert status["state"] == "failed"
    assert "no weekends, no holidays" in status["reason"]


@pytest.mark.e2e
def test_kept_raw_file_is_named_by_its_content_and_supersedes_the_old_one(
    api, history_http, instance, env, tmp_path
):
    folder = env / "source" / "gexbot" / "SPX" / "gex_zero"
    _serve_day(history_http, tmp_path)
    posted = _post(api, history_http)
    assert _materialize(instance, posted["id"]).success
    plain = make_day_file(tmp_path / "plain", "2025-11-14", "SPX", seed=4, compressed=False)
    history_http.route(f"/hist/{NAME}", ("body", plain.path.read_bytes()))
    _post(api, history_http, query="sig=AGAIN")
    assert _materialize(instance, posted["id"]).success
    assert sorted(p.name for p in folder.iterdir()) == ["2025-11-14_SPX_classic_gex_zero.json"]


def _fail_transiently(env: Path) -> None:
    """Make the database unopenable (a machine fault, not bad data)."""
    (env / "gex_data.db").mkdir()


def test_transient_failure_is_retried_by_the_op_then_final(api, history_http, env, tmp_path):
    """A fault that is not a data failure (the database cannot be opened) is retried by
    `gex_tables`' RetryPolicy (the request shows `retrying` meanwhile); after the last retry the
    request is `failed` for good. The instance's run retries are not involved."""
    _serve_day(history_http, tmp_path, snapshots=30, strikes=5)
    posted = _post(api, history_http)
    _fail_transiently(env)
    with dg.instance_for_test(temp_dir=str(env / "dagster_home")) as inst:
        inst.add_dynamic_partitions(FEED_PARTITIONS_NAME, ["SPX.gex_zero"])
        result = _materialize(inst, posted["id"])
    assert not result.success
    retries = [e for e in result.all_events if e.event_type_value == "STEP_UP_FOR_RETRY"]
    assert len(retries) == TRANSIENT_RETRY.max_retries
    status = api.get(f"/gex_history_url/{posted['id']}").json()
    assert status["state"] == "failed", status
    assert "gex_data.db" in status["reason"] or "IOException" in status["reason"]
