"""The batch path, one step at a time: the functions `seqlens demo` and the Airflow DAG both call.

Each step takes a `BatchRun` (where the run writes, where it publishes, and its settings) and
calls the Python function behind the matching `seqlens` command with typed settings, never argv:
the generator, the Beam pipelines, `seqlens.jobs` (recommender and text training, evaluation),
`models.serving.publish.publish_model` and `seqlens.alerts.monitor.run_alerts`. Steps take the
paths their upstream steps returned (defaulting to the run's `ArtifactLayout`), return only paths
and small metrics (what an Airflow XCom may carry), and are idempotent: a step writes below the
run's root, which the DAG keys on the data interval (`<base>/runs/<ds>`), so running the same
interval again rewrites the same folders with the same seeds and publishes no second version.
Bad input (a wrong path or setting) raises `ValueError` or `FileNotFoundError` from the function
that found it, as the command would have reported it.

```
generate_inputs -> run_pipeline(events | news | chats) -> train_recommender -> evaluate_recommender
                -> train_text_model(sentiment | intent) -> validation_gate -> publish_models
                -> raise_alerts
```

The settings (`BatchSettings`, `BatchRun`, `interval_run_root`) live in `seqlens.batch_settings`
and the gate and publish steps in `seqlens.batch_publishing`; both are re-exported here.
"""

from __future__ import annotations

import logging
from pathlib import Path

from seqlens.batch_publishing import (
    MODEL_NAMES,
    PUBLISHED_MARKER,
    publish_models,
    read_json,
    validation_gate,
)
from seqlens.batch_settings import BatchRun, BatchSettings, interval_run_root

__all__ = [
    "MODEL_NAMES",
    "PIPELINE_KINDS",
    "PUBLISHED_MARKER",
    "TEXT_TASKS",
    "BatchRun",
    "BatchSettings",
    "evaluate_recommender",
    "generate_inputs",
    "interval_run_root",
    "publish_models",
    "raise_alerts",
    "run_pipeline",
    "train_recommender",
    "train_text_model",
    "validation_gate",
]

logger = logging.getLogger(__name__)

PIPELINE_KINDS = ("events", "news", "chats")
TEXT_TASKS = ("sentiment", "intent")
# The most numeric metrics `evaluate_recommender` returns (an XCom stays small).
MAX_RETURNED_METRICS = 40


def generate_inputs(run: BatchRun) -> dict[str, str]:
    """Write the synthetic logs (deterministic under the seed) to `<root>/raw`."""
    from seqlens.synthetic.generator import GenerateConfig, generate

    settings = run.settings
    config = GenerateConfig(
        num_users=settings.num_users,
        num_items=settings.num_items,
        num_days=settings.num_days,
        num_chats=settings.num_chats,
        seed=settings.seed,
    )
    layout = run.layout
    generate(layout.raw_dir, config)
    return {
        "events": str(layout.raw_events),
        "news": str(layout.raw_news),
        "chats": str(layout.raw_chats),
    }


def run_pipeline(run: BatchRun, kind: str, input_path: str | Path | None = None) -> str:
    """Run the Beam pipeline of `kind` over its raw log; return the data run folder.

    Args:
        run: the batch run.
        kind: `events`, `news` or `chats`.
        input_path: the raw log (default: the generated one in `<root>/raw`).
    """
    from seqlens.jobs.pipelines import (
        EVENT_FORMATS,
        TEXT_FORMATS,
        check_pipeline_input,
        pipeline_summary,
    )

    if kind not in PIPELINE_KINDS:
        raise ValueError(f"Expected kind to be one of {PIPELINE_KINDS}. Received: kind={kind!r}")
    layout = run.layout
    default_inputs = {
        "events": layout.raw_events,
        "news": layout.raw_news,
        "chats": layout.raw_chats,
    }
    source = str(input_path or default_inputs[kind])
    output = str(layout.data_run(kind))
    check_pipeline_input(source, "csv", EVENT_FORMATS if kind == "events" else TEXT_FORMATS)

    from pipeline.timestamps import TimestampRange

    until = run.until_timestamp
    plausible = TimestampRange(max_timestamp=None if until is None else int(until) - 1)
    if kind == "events":
        from pipeline.event_transforms import EventsConfig
        from pipeline.events import run_events_pipeline

        config = EventsConfig(max_length=run.settings.recommender.max_length, plausible=plausible)
        stats = run_events_pipeline(source, output, "csv", config=config)
    else:
        from pipeline.texts import TextColumns, run_text_pipeline

        columns = TextColumns.news() if kind == "news" else TextColumns.chats()
        stats = run_text_pipeline(kind, source, output, "csv", columns, plausible=plausible)
    logger.info("pipeline %s: %s", kind, pipeline_summary(stats))
    return output


def train_recommender(run: BatchRun, data_run: str | Path | None = None) -> str:
    """Train the recommender with `run.settings.recommender` on the events data run.

    A batch run trains a handful of epochs, so the learning rate stays constant and the
    regularisation is lighter than the Games-tuned defaults (dropout 0.5, weight decay 0.6, a
    22-epoch cosine), which need twenty epochs: on the demo data (5 epochs, seed 42) validation
    NDCG@10 was 0.630 with those defaults, 0.470 with a 5-epoch cosine and 0.695 with the batch
    settings (`seqlens.batch_settings.BATCH_RECOMMENDER`: learning rate 1e-2, dropout 0.2,
    weight decay 0.1; BENCHMARKS.md).

    Args:
        run: the batch run.
        data_run: the events data run (default: the run's `data/events`).

    Returns:
        The model folder.
    """
    from seqlens.jobs.recommender import train_recommender_run

    output = run.layout.model_dir("recommender")
    data = data_run or run.layout.data_run("events")
    summary = train_recommender_run(data, output, run.settings.recommender)
    logger.info("train recommender: %s", summary)
    return str(output)


def evaluate_recommender(
    run: BatchRun,
    model_dir: str | Path | None = None,
    data_run: str | Path | None = None,
    compare: tuple[str, ...] = (),
) -> dict[str, float]:
    """Evaluate the recommender on the held-out targets; return its headline metrics.

    Args:
        run: the batch run.
        model_dir: the trained recommender (default: the run's `models/recommender`).
        data_run: the events data run (default: the one the model was trained on, recorded in
            its `data_run.json`, else the run's `data/events`).
        compare: other trained model folders (same vocabulary) reported beside it, e.g. the
            demo's GRU4Rec baseline.

    Returns:
        The first `MAX_RETURNED_METRICS` numeric metrics of `metrics.json`, flat (`a.b.c` keys).
    """
    from seqlens.jobs.recommender import evaluate_recommender_run

    model = Path(model_dir or run.layout.model_dir("recommender"))
    recorded = read_json(model / "data_run.json").get("data_run")
    _, summary = evaluate_recommender_run(
        model,
        data_run or recorded or run.layout.data_run("events"),
        compare=list(compare),
        k=run.settings.top_k,
        seed=run.settings.seed,
    )
    logger.info("evaluate recommender: %s", summary)
    return _flat_metrics(read_json(model / "metrics.json"))


def _flat_metrics(metrics: dict) -> dict[str, float]:
    """The flat numeric metrics of a `metrics.json` (small enough for an XCom)."""
    flat: dict[str, float] = {}

    def visit(prefix: str, value) -> None:
        if isinstance(value, bool):
            return
        if isinstance(value, int | float):
            flat[prefix] = float(value)
        elif isinstance(value, dict):
            for key, inner in value.items():
                visit(f"{prefix}.{key}" if prefix else str(key), inner)

    visit("", metrics)
    return dict(list(flat.items())[:MAX_RETURNED_METRICS])


def train_text_model(run: BatchRun, task: str, data_run: str | Path | None = None) -> str:
    """Train the `sentiment` (on news) or `intent` (on chats) model; return its folder.

    Args:
        run: the batch run.
        task: `sentiment` or `intent`.
        data_run: the news or chats data run (default: the run's `data/news` or `data/chats`).
    """
    from seqlens.jobs.text import text_training_config, train_text_run

    if task not in TEXT_TASKS:
        raise ValueError(f"Expected task to be one of {TEXT_TASKS}. Received: task={task!r}")
    settings = run.settings
    source = data_run or run.layout.data_run("news" if task == "sentiment" else "chats")
    output = run.layout.model_dir(task)
    config = text_training_config(
        task,
        embedding_dim=settings.text_embedding_dim,
        epochs=settings.text_epochs,
        seed=settings.seed,
    )
    _, summary = train_text_run(source, output, config)
    logger.info("train %s: %s", task, summary)
    return str(output)


def raise_alerts(run: BatchRun, sentiment_model: str | Path | None = None) -> dict:
    """Score the news data run with the sentiment model and write the alerts; return a summary.

    Args:
        run: the batch run.
        sentiment_model: the trained sentiment model (default: the run's `models/sentiment`).
    """
    from seqlens.alerts.monitor import MonitorSettings, run_alerts

    layout = run.layout
    model = Path(sentiment_model) if sentiment_model else layout.model_dir("sentiment")
    summary = run_alerts(layout.data_run("news"), model, layout.alerts_dir, MonitorSettings())
    logger.info("alerts: %s new of %s detected", summary["alerts_new"], summary["alerts_detected"])
    alerts_file = layout.alerts_file
    count = len(alerts_file.read_text().splitlines()) if alerts_file.exists() else 0
    return {"alerts_file": str(alerts_file), "alerts": count}
