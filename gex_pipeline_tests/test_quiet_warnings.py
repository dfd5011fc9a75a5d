"""The warnings of the Dagster features used on purpose are filtered in one place, everywhere."""

from __future__ import annotations

import os
import subprocess
import sys
import warnings
from pathlib import Path

import dagster as dg

from gex_pipeline.quiet_warnings import (
    FEATURES_IN_USE,
    python_warnings,
    quiet_dagster_feature_warnings,
)

LOAD = """
import warnings
import dagster as dg
warnings.simplefilter("always")
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    import gex_pipeline.definitions
    repository = gex_pipeline.definitions.defs().get_repository_def()
    repository.get_all_jobs()
    repository.sensor_defs
noisy = [w for w in caught if issubclass(w.category, (dg.BetaWarning, dg.PreviewWarning))]
print("\\n".join(f"{w.filename}:{w.lineno}: {w.message}" for w in noisy) or "quiet")
"""


def test_only_the_listed_features_are_silenced() -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        quiet_dagster_feature_warnings()
        for category, message, _why in FEATURES_IN_USE:
            warnings.warn(getattr(dg, category)(f"{message}, and may change."), stacklevel=1)
        warnings.warn(dg.BetaWarning("Function `something_new` is currently in beta"), stacklevel=1)
    assert [str(w.message) for w in caught] == ["Function `something_new` is currently in beta"]


def test_loading_the_definitions_warns_about_no_feature_in_use() -> None:
    done = subprocess.run(
        [sys.executable, "-c", LOAD], capture_output=True, text=True, timeout=300, check=True
    )
    assert done.stdout.strip() == "quiet"


def test_a_run_started_by_dagster_prints_no_beta_or_preview_warning(data_dir: Path) -> None:
    env = {**os.environ, "PYTHONWARNINGS": "always"}
    subprocess.run(
        [sys.executable, "-m", "gex_pipeline.cli", "init"], env=env, check=True, timeout=120
    )
    with dg.DagsterInstance.from_config(str(data_dir / "dagster_home")) as instance:
        instance.add_dynamic_partitions("feed", ["SPX.gex_zero"])
    dagster = Path(sys.executable).with_name("dagster")
    done = subprocess.run(
        [str(dagster), "asset", "materialize", "-m", "gex_pipeline.definitions",
         "--select", "gex_parquet", "--partition", "2025-11-14|SPX.gex_zero"],
        env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    output = done.stdout + done.stderr
    assert "RUN_START" in output or "STEP_START" in output, output[-2000:]  # the run did run
    assert "BetaWarning" not in output and "PreviewWarning" not in output, output[-3000:]


def test_child_processes_get_the_same_list_as_python_warnings() -> None:
    code = (
        "import warnings, dagster as dg\n"
        "warnings.warn(dg.PreviewWarning('Specifying a partitions_def on an AssetCheckSpec is "
        "currently in preview, x'))\n"
        "warnings.warn(dg.BetaWarning('Function `something_new` is currently in beta'))\n"
    )
    env = {**os.environ, "PYTHONWARNINGS": python_warnings("default")}
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120
    )
    assert "something_new" in done.stderr
    assert "partitions_def" not in done.stderr
