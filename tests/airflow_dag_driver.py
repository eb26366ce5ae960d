"""Runs the seqlens DAG in a fresh process for `tests/airflow_dags/test_dag.py`; one JSON line out.

Airflow reads `AIRFLOW_HOME` and its database settings once, at import; a fresh process per call
keeps each test's temporary Airflow home (and SQLite database) apart from whatever else the pytest
worker imported.

    python -m tests.airflow_dag_driver describe
    python -m tests.airflow_dag_driver test --run '{"logical_date": "2024-06-02", "conf": {}}' ...

Several `--run`s share one process (Airflow, TensorFlow and Beam are imported once) and run in
order: a later run sees what an earlier one published.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

DAG_ID = "seqlens_batch_training"
RESULT_PREFIX = "DAG-DRIVER-RESULT "


def describe(dags_folder: str) -> dict:
    """Import errors and the structure of the DAG, as plain JSON."""
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=dags_folder)
    result: dict = {
        "import_errors": {str(k): str(v) for k, v in bag.import_errors.items()},
        "dag_ids": sorted(bag.dag_ids),
    }
    dag = bag.get_dag(DAG_ID)
    if dag is None:
        return result
    result.update(
        {
            "tasks": {task.task_id: sorted(task.downstream_task_ids) for task in dag.tasks},
            "trigger_rules": {
                task.task_id: str(getattr(task.trigger_rule, "value", task.trigger_rule))
                for task in dag.tasks
            },
            "retries": {task.task_id: task.retries for task in dag.tasks},
            "retry_delays": {task.task_id: task.retry_delay.total_seconds() for task in dag.tasks},
            "catchup": dag.catchup,
            "tags": sorted(dag.tags),
            "start_date_tz": str(dag.start_date.tzinfo) if dag.start_date else None,
            "timetable": type(dag.timetable).__name__,
            "schedule_description": str(getattr(dag.timetable, "description", "")),
            "doc_md": dag.doc_md or "",
            "params": sorted(dag.params.keys()),
        }
    )
    return result


def run_tests(dags_folder: str, runs: list[dict]) -> list[dict]:
    """`dag.test()` runs in order; the final state of each run and of its tasks."""
    import pendulum
    from airflow.dag_processing.dagbag import DagBag

    dag = DagBag(dag_folder=dags_folder).get_dag(DAG_ID)
    results = []
    for run in runs:
        dag_run = dag.test(
            logical_date=pendulum.parse(run["logical_date"]), run_conf=run.get("conf", {})
        )
        instances = dag_run.get_task_instances()
        states = {ti.task_id: _state(ti.state) for ti in instances}
        seconds = {ti.task_id: ti.duration for ti in instances}
        results.append({"state": _state(dag_run.state), "tasks": states, "seconds": seconds})
    return results


def _state(state) -> str:
    return str(getattr(state, "value", state))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("action", choices=("describe", "test"))
    parser.add_argument(
        "--run",
        action="append",
        default=[],
        help='JSON: {"logical_date": "...", "conf": {...}} (repeatable)',
    )
    args = parser.parse_args()
    dags_folder = os.environ.get(
        "AIRFLOW__CORE__DAGS_FOLDER", str(Path(__file__).resolve().parents[1] / "airflow_dags")
    )
    if args.action == "describe":
        result = describe(dags_folder)
    else:
        result = run_tests(dags_folder, [json.loads(run) for run in args.run])
    print(RESULT_PREFIX + json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
