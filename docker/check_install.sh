#!/usr/bin/env bash
# Replays the Dockerfile's install steps in a clean virtual environment (no Docker engine needed):
# dependencies from pyproject.toml's metadata pinned by constraints.txt, then the project with
# --no-deps, then `pip check`, then the image's entry points (`seqlens --help`, the DAG import).
# It downloads and installs everything again (minutes), so it is a manual check, not a CI test.
#   docker/check_install.sh [VENV_DIR]      (default: a fresh temporary folder, removed afterwards)
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3.11}"
VENV="${1:-$(mktemp -d)/venv}"
echo "clean venv: $VENV ($($PYTHON --version))"
"$PYTHON" -m venv "$VENV"
REQUIREMENTS="$(mktemp)"
"$VENV/bin/python" -c "import tomllib; deps = tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']; open('$REQUIREMENTS', 'w').write('\n'.join(deps) + '\n')"
"$VENV/bin/pip" install --no-cache-dir -q -r "$REQUIREMENTS" -c constraints.txt
BUILD="$(mktemp -d)"   # like the image: install from a copy, not in editable mode
cp -r pyproject.toml README.md seqlens pipeline models dashboard "$BUILD"/
"$VENV/bin/pip" install --no-cache-dir -q --no-deps "$BUILD"
"$VENV/bin/pip" check
cd "$BUILD"
"$VENV/bin/seqlens" --help > /dev/null
"$VENV/bin/python" -c "import dashboard, models, pipeline, seqlens.batch; print('packages import')"
AIRFLOW_HOME="$BUILD/airflow" AIRFLOW__CORE__LOAD_EXAMPLES=False \
AIRFLOW__CORE__DAGS_FOLDER="$OLDPWD/airflow_dags" "$VENV/bin/python" -c "
from airflow.dag_processing.dagbag import DagBag
bag = DagBag(dag_folder='$OLDPWD/airflow_dags')
assert not bag.import_errors, bag.import_errors
print('DAGs:', sorted(bag.dag_ids))"
echo "install steps OK"
