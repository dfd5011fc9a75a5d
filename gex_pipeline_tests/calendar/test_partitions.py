"""The date dimension of every partitioned asset holds NYSE sessions only."""

from __future__ import annotations

from datetime import date

import dagster as dg
import pytest

from gex_pipeline.defs.partitions import (
    gex_partitions,
    is_partition_date,
    session_date_key,
    trading_date_partitions,
)
from gex_pipeline.lib.calendar.sessions import sessions_between

NOVEMBER_2025 = [s.day.isoformat() for s in sessions_between(date(2025, 11, 1), date(2025, 11, 30))]


def test_date_partitions_of_a_month_are_its_sessions():
    keys = trading_date_partitions.get_partition_keys_in_range(
        dg.PartitionKeyRange("2025-11-03", "2025-11-28")
    )
    assert keys == NOVEMBER_2025
    assert "2025-11-27" not in keys  # Thanksgiving
    assert "2025-11-28" in keys  # early close (13:00) is a session
    assert len(keys) == 19


@pytest.mark.parametrize(
    "day", ["2025-11-15", "2025-11-16", "2025-11-27", "2025-12-25", "2024-07-04", "2022-01-01"]
)
def test_weekends_and_full_holidays_are_not_partitions(day):
    assert not trading_date_partitions.has_partition_key(day)
    assert not is_partition_date(date.fromisoformat(day))
    with pytest.raises(ValueError, match="not an NYSE session"):
        session_date_key(date.fromisoformat(day))


def test_every_session_since_the_start_is_a_partition_and_nothing_else():
    keys = trading_date_partitions.get_partition_keys()
    sessions = [
        s.day.isoformat() for s in sessions_between(date(2022, 1, 1), date.fromisoformat(keys[-1]))
    ]
    assert keys == sessions


def test_gex_partition_keys_keep_the_date_pipe_feed_shape():
    key = dg.MultiPartitionKey({"date": "2025-11-14", "feed": "NQ_NDX.gex_zero"})
    assert str(key) == "2025-11-14|NQ_NDX.gex_zero"
    assert gex_partitions.get_partitions_def_for_dimension("date") == trading_date_partitions
