"""The Airflow DAG: imports cleanly, has the intended shape, and really runs (`dag.test()`).

Airflow runs in a fresh process per call (`tests/airflow_dag_driver.py`) with a temporary
`AIRFLOW_HOME` whose SQLite database is created by `airflow db migrate` first. Two real runs share
one artifacts root and serving root: a good run publishes the models and writes alerts; a second
run over the next interval trains a deliberately worse recommender (learning rate 0, i.e. its
untrained initial weights): the gate must block its publish while alerting still runs.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from seqlens.batch import BatchSettings, interval_run_root
from tests.airflow_dag_driver import RESULT_PREFIX
from tests.paths import REPO_ROOT

DAGS_FOLDER = REPO_ROOT / "airflow_dags"
GOOD_DATE, WORSE_DATE = "2024-06-02", "2024-06-03"
# CronDataIntervalTimetable(@daily): a run at logical date D covers [D - 1 day, D).
GOOD_KEY, WORSE_KEY = "2024-06-01", "2024-06-02"
EXPECTED_DOWNSTREAM = {
    "prepare_run": [
        "evaluate_recommender",
        "pipeline_chats",
        "pipeline_events",
        "pipeline_news",
        "publish",
        "score_news_and_alert",
        "train_intent",
        "train_recommender",
        "train_sentiment",
        "validation_gate",
    ],
    "pipeline_events": ["train_recommender"],
    "pipeline_news": ["train_sentiment"],
    "pipeline_chats": ["train_intent"],
    "train_recommender": ["evaluate_recommender"],
    "evaluate_recommender": ["validation_gate"],
    "train_sentiment": ["score_news_and_alert", "validation_gate"],
    "train_intent": ["validation_gate"],
    "validation_gate": ["publish"],
    "publish": ["score_news_and_alert"],
    "score_news_and_alert": [],
}


@pytest.fixture(scope="module")
def airflow_env(tmp_path_factory) -> dict[str, str]:
    """Environment of a temporary Airflow home with a migrated SQLite database."""
    home = tmp_path_factory.mktemp("airflow_home")
    env = {
        **os.environ,
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS_FOLDER),
        "AIRFLOW__CORE__DAGBAG_IMPORT_TIMEOUT": "120",
        "TF_CPP_MIN_LOG_LEVEL": "2",
        "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")])),
    }
    airflow = Path(sys.executable).with_name("airflow")
    result = subprocess.run(
        [str(airflow), "db", "migrate"],
        env=env,
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return env


def drive(env: dict[str, str], *arguments: str) -> dict:
    """Run `tests/airflow_dag_driver.py` and return its JSON result."""
    result = subprocess.run(
        [sys.executable, "-m", "tests.airflow_dag_driver", *arguments],
        env=env,
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    lines = [line for line in result.stdout.splitlines() if line.startswith(RESULT_PREFIX)]
    assert result.returncode == 0 and lines, result.stdout[-5000:] + result.stderr[-5000:]
    return json.loads(lines[-1][len(RESULT_PREFIX) :])


@pytest.fixture(scope="module")
def described(airflow_env) -> dict:
    return drive(airflow_env, "describe")


def test_dagbag_imports_without_errors(described):
    assert described["import_errors"] == {}
    assert "seqlens_batch_training" in described["dag_ids"]


def test_task_ids_and_dependencies(described):
    assert described["tasks"] == EXPECTED_DOWNSTREAM


def test_schedule_start_date_retries_and_docs(described):
    assert described["catchup"] is False
    assert described["timetable"] == "CronDataIntervalTimetable"
    assert described["start_date_tz"] in ("UTC", "Timezone('UTC')")
    assert {"seqlens", "training"} <= set(described["tags"])
    assert "validation gate" in described["doc_md"].lower()
    assert all(retries >= 1 for retries in described["retries"].values())
    assert all(delay >= 60 for delay in described["retry_delays"].values())
    # a gate that blocks publishing must not block alerting
    assert described["trigger_rules"]["score_news_and_alert"] == "none_failed"
    assert {"artifacts_root", "serving_root", "events_log", "seed", "learning_rate"} <= set(
        described["params"]
    )


def tiny_conf(base_root: Path, **overrides) -> dict:
    settings = BatchSettings.fast(seed=7).to_dict()
    return {**settings, "artifacts_root": str(base_root), **overrides}


@pytest.fixture(scope="module")
def base_root(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("seqlens_airflow")


@pytest.fixture(scope="module")
def dag_runs(airflow_env, base_root) -> list[dict]:
    """Two runs in one process: a good interval, then one whose candidates are untrained."""
    runs = [
        {"logical_date": GOOD_DATE, "conf": tiny_conf(base_root)},
        {"logical_date": WORSE_DATE, "conf": tiny_conf(base_root, learning_rate=0.0)},
    ]
    return drive(airflow_env, "test", *[f"--run={json.dumps(run)}" for run in runs])


@pytest.fixture(scope="module")
def good_run(dag_runs) -> dict:
    return dag_runs[0]


@pytest.fixture(scope="module")
def worse_run(dag_runs) -> dict:
    return dag_runs[1]


def published_versions(serving_root: Path, name: str) -> list[int]:
    folder = serving_root / name
    if not folder.exists():
        return []
    return sorted(int(path.name) for path in folder.iterdir() if path.name.isdigit())


def publish_decisions(serving_root: Path, name: str) -> list[str]:
    log = serving_root / "publish_log.jsonl"
    entries = [json.loads(line) for line in log.read_text().splitlines() if line.strip()]
    return [entry["decision"] for entry in entries if entry["name"] == name]


@pytest.mark.slow
def test_dag_run_publishes_models_and_writes_alerts(good_run, base_root):
    assert good_run["state"] == "success", good_run
    assert set(good_run["tasks"].values()) == {"success"}, good_run
    serving_root = base_root / "serving"
    run_root = interval_run_root(base_root, GOOD_KEY)
    published = json.loads((run_root / "published.json").read_text())
    for name in ("recommender", "sentiment", "intent"):
        assert published[name]["version"] == 1 and published[name]["decision"] == "published"
        assert (serving_root / name / "1" / "saved_model.pb").exists()
        assert publish_decisions(serving_root, name)[0] == "published"
    assert (run_root / "models" / "recommender" / "metrics.json").exists()
    assert (run_root / "alerts" / "alerts.jsonl").exists()
    assert (run_root / "alerts" / "windows.parquet").exists()


@pytest.mark.slow
def test_worse_model_is_blocked_by_the_gate_but_alerting_runs(worse_run, base_root):
    assert worse_run["state"] == "success", worse_run
    tasks = worse_run["tasks"]
    assert tasks["validation_gate"] == "success"
    # the text models retrain as before and may go on to `publish`; the recommender may not
    assert tasks["publish"] in ("success", "skipped"), tasks
    assert tasks["score_news_and_alert"] == "success", tasks
    serving_root = base_root / "serving"
    assert published_versions(serving_root, "recommender") == [1]
    assert publish_decisions(serving_root, "recommender") == ["published", "rejected"]
    entries = [
        json.loads(line) for line in (serving_root / "publish_log.jsonl").read_text().splitlines()
    ]
    rejection = [entry for entry in entries if entry["name"] == "recommender"][-1]
    assert rejection["stage"] == "validation_gate" and "regressed" in rejection["reasons"][0]
    gate = json.loads((interval_run_root(base_root, WORSE_KEY) / "gate.json").read_text())
    assert gate["recommender"]["result"]["passed"] is False
    assert (interval_run_root(base_root, WORSE_KEY) / "alerts" / "alerts.jsonl").exists()
