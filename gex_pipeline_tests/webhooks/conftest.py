"""Fixtures of the webhooks tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from gex_pipeline_tests.support.staging_trees import UwStagingTree


@pytest.fixture
def uw_staging(data_dir: Path) -> UwStagingTree:
    """An empty `uw` staging stream under the temp data directory, with record/segment builders."""
    return UwStagingTree(data_dir / "staging")


# --- process signals ----------------------------------------------------------------------------
