#!/usr/bin/env bash
# `make upgrade-check`: install the newest Dagster release the registry offers into a scratch venv,
# then run the definitions snapshot and the time-lapse test against it and report what changed.
# The project's own .venv is not touched. Exit status: that of the tests.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
SCRATCH=$(mktemp -d /tmp/gex-upgrade-check.XXXXXX)
trap 'rm -rf "$SCRATCH"' EXIT
$PYTHON -m venv "$SCRATCH/venv"
PIP="$SCRATCH/venv/bin/python -m pip"
$PIP install --quiet --upgrade pip
# The newest Dagster release and its libraries, then the project's other requirements as pinned
# (the project's own `dagster<1.14` pin is what this check questions, so it is not applied).
$PIP install --quiet dagster dagster-webserver dagster-duckdb dagster-postgres dagster-dg-cli
"$SCRATCH/venv/bin/python" - > "$SCRATCH/requirements.txt" <<'PY'
import tomllib
project = tomllib.load(open("pyproject.toml", "rb"))["project"]
for req in project["dependencies"] + project["optional-dependencies"]["dev"]:
    if not req.startswith("dagster"):
        print(req)
PY
$PIP install --quiet -r "$SCRATCH/requirements.txt"
$PIP install --quiet --no-deps -e .
echo "== Dagster in the scratch venv vs the project's"
"$SCRATCH/venv/bin/python" -c 'import dagster; print("scratch:", dagster.__version__)'
.venv/bin/python -c 'import dagster; print("project:", dagster.__version__)' 2>/dev/null || true
echo "== internals gex_pipeline touches (best effort, cli/dagster_processes.py)"
"$SCRATCH/venv/bin/python" -c '
from gex_pipeline.cli.dagster_processes import apply_intervals
missing = apply_intervals()
print("moved or gone:", ", ".join(missing) if missing else "none")'
echo "== definitions snapshot and time-lapse test"
status=0
DAGSTER_HOME=$(mktemp -d) "$SCRATCH/venv/bin/dagster" definitions validate -w workspace.yaml || status=$?
"$SCRATCH/venv/bin/python" -m pytest -q -p no:cacheprovider \
    gex_pipeline_tests/test_definitions_snapshot.py gex_pipeline_tests/ops/test_time_lapse.py \
    -W error::DeprecationWarning:gex_pipeline || status=$?
exit $status
