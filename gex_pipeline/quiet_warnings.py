"""The Dagster beta and preview features gex-pipeline uses on purpose, and the one filter that keeps
their warnings out of the logs.

Dagster warns (`BetaWarning`, `PreviewWarning`) each time a process loads code that uses such a
feature: the code server, every run worker, the daemon and the webserver (which rebuild the
metadata classes), `dagster` commands. Left alone, `make run` and every run log open with blocks
of them and the lines that matter drown. `gex_pipeline/__init__.py` installs this filter, so
every process that runs project code has it; `gex-pipeline up` also hands it to its children as
`PYTHONWARNINGS` (`python_warnings`), for the Dagster processes that never import the project
(the webserver and daemon of `up --dev`). Only the listed features are silenced (by the start of
their message; no Dagster import here); a new beta or preview feature still warns until it is
added below with the reason it is used. `gex_pipeline_tests/test_quiet_warnings.py` checks that
loading the definitions and a run print none of them, `ops/test_up_e2e.py` that `up` does not.
"""

from __future__ import annotations

import re
import warnings

# (category, start of Dagster's message, why the project uses the feature)
FEATURES_IN_USE: tuple[tuple[str, str, str], ...] = (
    (
        "BetaWarning",
        "Function `with_source_code_references` is currently in beta",
        "each asset links to the code that defines it in the UI",
    ),
    (
        "BetaWarning",
        "Class `LocalFileCodeReference` is currently in beta",
        "the same link for asset specs (defs/metadata.py `defined_here`)",
    ),
    (
        "BetaWarning",
        "Class `CodeReferencesMetadataValue` is currently in beta",
        "the metadata value that carries those links",
    ),
    (
        "BetaWarning",
        "Parameter `backfill_policy` of function `asset` is currently in beta",
        "a range backfill of gex_tables / gex_parquet runs as one run, not one per feed-day",
    ),
    (
        "PreviewWarning",
        "Specifying a partitions_def on an AssetCheckSpec is currently in preview",
        "integrity checks are judged per date x feed partition",
    ),
)


def python_warnings(current: str | None = None) -> str:
    """A `PYTHONWARNINGS` value: `current` (if any) followed by an `ignore` entry per feature."""
    ours = [f"ignore:{message}:Warning" for _category, message, _why in FEATURES_IN_USE]
    return ",".join([current, *ours] if current else ours)


def quiet_dagster_feature_warnings() -> None:
    """Ignore the warnings of `FEATURES_IN_USE` in this process (idempotent)."""
    for _category, message, _why in FEATURES_IN_USE:
        warnings.filterwarnings("ignore", message=re.escape(message), category=Warning)
