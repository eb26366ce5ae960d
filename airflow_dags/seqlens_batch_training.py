"""
### seqlens nightly batch training

Turns the day's logs into sequences and texts, trains the recommender and the text models,
evaluates them, publishes each model that passes the validation gate to the TF Serving root, and
scores the news for sentiment alerts.

```
prepare_run -> pipeline_events -> train_recommender -> evaluate_recommender --\\
            -> pipeline_news   -> train_sentiment ---------------------------- validation_gate
            -> pipeline_chats  -> train_intent -------------------------------/      |
                                                                                   publish
                                                 score_news_and_alert <- (publish done or skipped)
```

* **Idempotent, keyed on the data interval**: every task writes below `<artifacts_root>/runs/<key>`
  (`<key>` = the data interval's start, e.g. `2024-03-01`), so re-running an interval rewrites the
  same folders with the same seeds; `publish` records what it published for the interval and
  never publishes a second version for it; alerts carry a stable dedup key.
* **Gate**: `validation_gate` compares each candidate with the model currently served and lets
  only the passing ones through. When none passes, `publish` is skipped; alerting still runs.
* **Configuration**: the Params below (trigger form or `dag.test(run_conf=...)`); empty paths fall
  back to the Airflow Variable `seqlens_artifacts_root`, then `$SEQLENS_ARTIFACTS`, then
  `$AIRFLOW_HOME/seqlens`. Empty log paths mean: generate the embedded synthetic data set.
  The recommender's Params are the fields of `RecommenderConfig`, named as the flags of
  `seqlens train recommender` (`num_blocks` is `--num-blocks`); earlier names such as
  `recommender_blocks` are still accepted in the run's conf.
  The schedule comes from the Variable `seqlens_batch_schedule` set through the environment
  (`AIRFLOW_VAR_SEQLENS_BATCH_SCHEDULE`, a cron expression or preset; default `@daily`).
* **Data flow**: each task takes the paths and metrics its upstream tasks returned; a path no
  upstream task returns comes from the run's `seqlens.layout.ArtifactLayout`.
* Beam runs inside a `@task` through the pipeline's Python API (no Beam operator).
"""

from __future__ import annotations

import dataclasses
import logging
import os
from datetime import timedelta

import pendulum
from airflow.sdk import (
    CronDataIntervalTimetable,
    ExceptionRetryPolicy,
    Param,
    RetryAction,
    RetryRule,
    TriggerRule,
    dag,
    task,
)

# light: no TensorFlow, Beam or Keras at parse time
from seqlens.batch_settings import BatchSettings, setting_fields
from seqlens.layout import ARTIFACTS_ENV_VAR, ArtifactLayout

logger = logging.getLogger(__name__)

SCHEDULE = os.environ.get("AIRFLOW_VAR_SEQLENS_BATCH_SCHEDULE", "@daily")

# Bad input (a wrong path or setting) fails at once; anything else is retried.
NO_RETRY_ON_BAD_INPUT = ExceptionRetryPolicy(
    rules=[
        RetryRule(
            exception=[
                "seqlens.errors.UsageError",
                "builtins.ValueError",
                "builtins.FileNotFoundError",
            ],
            action=RetryAction.FAIL,
            reason="bad input: retrying cannot help",
        )
    ]
)

DEFAULT_ARGS = {
    "owner": "seqlens",
    "retry_policy": NO_RETRY_ON_BAD_INPUT,
    "retries": 2,
    "retry_delay": timedelta(minutes=5),
    "retry_exponential_backoff": True,
    "max_retry_delay": timedelta(minutes=30),
    "execution_timeout": timedelta(hours=2),
}

# JSON schema types of the settings' Python types (`BatchSettings` and `RecommenderConfig`).
PARAM_TYPES = {
    "int": "integer",
    "float": "number",
    "str": "string",
    "bool": "boolean",
    "int | None": ["null", "integer"],
    "float | None": ["null", "number"],
    "bool | None": ["null", "boolean"],
    "bool | str": ["boolean", "string"],
}


def _setting_param(setting: dataclasses.Field, value) -> Param:
    """An Airflow Param for one flat batch setting (see `seqlens.batch_settings.setting_fields`)."""
    schema: dict = {"type": PARAM_TYPES[setting.type]}
    if "choices" in setting.metadata:
        schema["enum"] = list(setting.metadata["choices"])
    elif setting.type == "bool | str":
        schema["enum"] = [True, False, "auto"]
    elif setting.name == "latency_p99_ms":
        schema["exclusiveMinimum"] = 0
    elif setting.type.startswith("float"):
        schema["minimum"] = 0
    elif setting.type.startswith("int"):
        schema["minimum"] = 0 if setting.name == "seed" else 1
    return Param(value, description=setting.metadata["help"], **schema)


PARAMS = {
    "artifacts_root": Param(
        "", type="string", description="folder of every run (empty: Variable, env, AIRFLOW_HOME)"
    ),
    "serving_root": Param(
        "", type="string", description="TF Serving model root (empty: <artifacts_root>/serving)"
    ),
    "events_log": Param("", type="string", description="events log (empty: generate)"),
    "news_log": Param("", type="string", description="news log (empty: generate)"),
    "chats_log": Param("", type="string", description="chats log (empty: generate)"),
    "limit_to_interval": Param(
        True, type="boolean", description="drop log rows after the data interval's end"
    ),
    # every flat batch setting (the recommender's are RecommenderConfig's fields), with its default
    **{
        setting.name: _setting_param(setting, BatchSettings().to_dict()[setting.name])
        for setting in setting_fields()
    },
}


def _batch_run(run_info: dict):
    """The `seqlens.batch.BatchRun` described by `prepare_run`'s XCom."""
    from seqlens.batch import BatchRun

    return BatchRun(
        root=run_info["root"],
        serving_root=run_info["serving_root"],
        settings=BatchSettings.from_mapping(run_info["settings"]),
        until_timestamp=run_info["until_timestamp"],
    )


@dag(
    dag_id="seqlens_batch_training",
    schedule=CronDataIntervalTimetable(SCHEDULE, timezone="UTC"),
    start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    params=PARAMS,
    tags=["seqlens", "training", "recommender", "sentiment"],
    doc_md=__doc__,
)
def seqlens_batch_training():
    @task
    def prepare_run(**context) -> dict:
        """Resolve the run's folders from the data interval and Params; write or link the logs."""
        from seqlens import batch

        params = context["params"]
        base_root = params["artifacts_root"] or _default_artifacts_root()
        run_root = batch.interval_run_root(base_root, _interval_key(context))
        serving_root = params["serving_root"] or ArtifactLayout(base_root).serving_root
        run = batch.BatchRun(
            root=run_root,
            serving_root=serving_root,
            settings=batch.BatchSettings.from_mapping(params),
        )
        logs = {kind: params[f"{kind}_log"] for kind in batch.PIPELINE_KINDS}
        if not all(logs.values()):
            generated = batch.generate_inputs(run)
            logs = {kind: logs[kind] or generated[kind] for kind in logs}
        interval_end = context.get("data_interval_end")
        until = (
            int(interval_end.timestamp())
            if params["limit_to_interval"] and interval_end is not None
            else None
        )
        return {
            "root": str(run.root),
            "serving_root": str(run.serving_root),
            "settings": run.settings.to_dict(),
            "logs": logs,
            "until_timestamp": until,
        }

    @task
    def pipeline(run_info: dict, kind: str) -> str:
        """Run the Beam pipeline of `kind` over the log `prepare_run` chose."""
        from seqlens import batch

        return batch.run_pipeline(_batch_run(run_info), kind, run_info["logs"][kind])

    @task
    def train_recommender(run_info: dict, events_run: str) -> str:
        """Train on the events data run `pipeline_events` wrote."""
        from seqlens import batch

        return batch.train_recommender(_batch_run(run_info), events_run)

    @task
    def evaluate_recommender(run_info: dict, model_dir: str) -> dict:
        """Evaluate the model `train_recommender` wrote (on the data run it was trained on)."""
        from seqlens import batch

        return batch.evaluate_recommender(_batch_run(run_info), model_dir)

    @task
    def train_text_model(run_info: dict, data_run: str, task_name: str) -> str:
        """Train the sentiment or intent model on the data run its pipeline wrote."""
        from seqlens import batch

        return batch.train_text_model(_batch_run(run_info), task_name, data_run)

    @task.short_circuit(ignore_downstream_trigger_rules=False)
    def validation_gate(
        run_info: dict, metrics: dict, sentiment_dir: str, intent_dir: str
    ) -> list[str]:
        """Gate the recommender on the metrics `evaluate_recommender` returned and the text
        models in the folders their training returned; an empty list skips `publish`."""
        from seqlens import batch

        checks = batch.validation_gate(
            _batch_run(run_info),
            model_dirs={"sentiment": sentiment_dir, "intent": intent_dir},
            candidate_metrics={"recommender": metrics},
        )
        for name, check in checks.items():
            logger.info(
                "gate %s: %s %s", name, "pass" if check["passed"] else "FAIL", check["reasons"]
            )
        return [name for name, check in checks.items() if check["passed"]]

    @task
    def publish(run_info: dict, passed: list[str]) -> dict:
        """Publish the models the gate passed."""
        from seqlens import batch

        return batch.publish_models(_batch_run(run_info), tuple(passed))

    @task(trigger_rule=TriggerRule.NONE_FAILED)
    def score_news_and_alert(run_info: dict, sentiment_dir: str) -> dict:
        """Score the news with the model `train_sentiment` wrote; runs whether `publish` ran or
        was skipped by the gate."""
        from seqlens import batch

        return batch.raise_alerts(_batch_run(run_info), sentiment_dir)

    run_info = prepare_run()
    events_run = pipeline.override(task_id="pipeline_events")(run_info, "events")
    news_run = pipeline.override(task_id="pipeline_news")(run_info, "news")
    chats_run = pipeline.override(task_id="pipeline_chats")(run_info, "chats")
    recommender_dir = train_recommender(run_info, events_run)
    metrics = evaluate_recommender(run_info, recommender_dir)
    sentiment_dir = train_text_model.override(task_id="train_sentiment")(
        run_info, news_run, "sentiment"
    )
    intent_dir = train_text_model.override(task_id="train_intent")(run_info, chats_run, "intent")
    passed = validation_gate(run_info, metrics, sentiment_dir, intent_dir)
    published = publish(run_info, passed)
    alerts = score_news_and_alert(run_info, sentiment_dir)
    published >> alerts


def _default_artifacts_root() -> str:
    """Variable `seqlens_artifacts_root`, else `$SEQLENS_ARTIFACTS`, else `$AIRFLOW_HOME/seqlens`.

    The environment variable's name is `seqlens.layout.ARTIFACTS_ENV_VAR`, as for the CLI.
    """
    from airflow.sdk import Variable

    fallback = os.environ.get(ARTIFACTS_ENV_VAR) or os.path.join(
        os.environ.get("AIRFLOW_HOME", os.path.expanduser("~/airflow")), "seqlens"
    )
    return Variable.get("seqlens_artifacts_root", default=fallback)


def _interval_key(context) -> str:
    """A path-safe key of the data interval: its start date (with the time when not midnight)."""
    start = context.get("data_interval_start") or context.get("logical_date")
    if start is None:
        return "".join(c if c.isalnum() or c in "-_." else "_" for c in context["run_id"])
    return start.strftime("%Y-%m-%d" if start.time() == start.time().min else "%Y-%m-%dT%H%M%S")


seqlens_batch_training()
