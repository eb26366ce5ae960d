"""The batch path, one step at a time: the functions `seqlens demo` and the Airflow DAG both call.

Each step is one function that takes a `BatchRun` (where the run writes, where it publishes, and
its settings) and runs one `seqlens` command in-process through `seqlens.cli.main`, the stable
surface every part exposes. Steps return only paths and small metrics (what an Airflow XCom may
carry) and are idempotent: a step writes below the run's root, which the DAG keys on the data
interval (`<base>/runs/<ds>`), so running the same interval again rewrites the same folders with
the same seeds and publishes no second version (see `publish_models`).

```
generate_inputs -> run_pipeline(events | news | chats) -> train_recommender -> evaluate_recommender
                -> train_text_model(sentiment | intent) -> validation_gate -> publish_models
                -> raise_alerts
```
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from seqlens.layout import ArtifactLayout

PIPELINE_KINDS = ("events", "news", "chats")
TEXT_TASKS = ("sentiment", "intent")
MODEL_NAMES = ("recommender", "sentiment", "intent")
INTERVAL_KEY_PATTERN = re.compile(r"^[0-9A-Za-z][0-9A-Za-z_.:+-]*$")
PUBLISHED_MARKER = "published.json"
# The metric each model must not regress on (higher is better), as written by its evaluation.
HEADLINE_METRICS = {"recommender": "ndcg@10", "sentiment": "macro_f1", "intent": "accuracy"}
DEFAULT_METRIC_TOLERANCE = 0.01
# The publish gate's p99 single-request limit is 50 ms in production (the DAG's default); the
# demo and the tests run on shared 2-core machines where other jobs inflate the tail.
DEMO_LATENCY_P99_MS = 250.0
FAST_LATENCY_P99_MS = 1000.0
INPUT_ERROR_EXIT_CODE = 2  # what `seqlens.cli.main` returns for ValueError / FileNotFoundError


class StepUnavailableError(RuntimeError):
    """The `seqlens` command a step needs is not registered (its part is not installed)."""


class StepFailedError(RuntimeError):
    """A `seqlens` command a step ran returned a non-zero exit code."""


class StepInputError(StepFailedError):
    """A `seqlens` command rejected its input (exit code 2): retrying cannot help."""


@dataclass(frozen=True)
class BatchSettings:
    """Sizes, epochs and seeds of one batch run.

    Args:
        seed: seed of the generator and of every training run.
        num_users: users in the generated event log.
        num_items: items in the generated catalogue.
        num_days: days of generated news.
        num_chats: generated chat messages.
        max_length: longest user history the pipeline keeps and the recommender reads.
        recommender_epochs: training epochs of the recommender (at most: it stops early when
            validation NDCG@10 stops improving).
        recommender_blocks: attention blocks of the recommender.
        recommender_heads: attention heads per block of the recommender.
        recommender_batch_size: full-length sequences per training batch of the recommender
            (small batches: more steps per epoch, so a few epochs converge).
        text_epochs: training epochs of the sentiment and intent models.
        embedding_dim: width of the recommender's item embeddings.
        text_embedding_dim: width of the text models' token embeddings.
        recommender_dropout: dropout rate of the recommender, in [0, 1).
        recommender_weight_decay: decoupled (AdamW) weight decay of the recommender, >= 0.
        learning_rate: learning rate of the recommender (0 trains nothing: a control that must
            fail the validation gate).
        top_k: cut-off of the ranking metrics.
        latency_p99_ms: the publish gate's limit on the p99 latency of single requests through
            the reloaded SavedModel.
        gate_requests: held-out users (recommender) or texts (text models) on which the publish
            gate compares the reloaded SavedModel with the Keras model.
    """

    seed: int = 42
    num_users: int = 2_000
    num_items: int = 800
    num_days: int = 90
    num_chats: int = 4_000
    max_length: int = 50
    recommender_epochs: int = 5
    recommender_blocks: int = 2
    recommender_heads: int = 2
    recommender_batch_size: int = 32
    text_epochs: int = 2
    embedding_dim: int = 32
    text_embedding_dim: int = 32
    recommender_dropout: float = 0.2
    recommender_weight_decay: float = 0.1
    learning_rate: float = 1e-2
    top_k: int = 10
    latency_p99_ms: float = 50.0
    gate_requests: int = 256

    def __post_init__(self) -> None:
        for name in (
            "num_users",
            "num_items",
            "num_days",
            "num_chats",
            "max_length",
            "recommender_epochs",
            "recommender_blocks",
            "recommender_heads",
            "recommender_batch_size",
            "text_epochs",
            "embedding_dim",
            "text_embedding_dim",
            "top_k",
            "gate_requests",
        ):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ValueError(
                    f"Expected {name} to be a positive integer. Received: {name}={value!r}"
                )
        if not self.latency_p99_ms > 0:
            raise ValueError(
                "Expected latency_p99_ms to be > 0. "
                f"Received: latency_p99_ms={self.latency_p99_ms!r}"
            )
        if not 0 <= self.recommender_dropout < 1:
            raise ValueError(
                "Expected recommender_dropout in [0, 1). "
                f"Received: recommender_dropout={self.recommender_dropout!r}"
            )
        if not self.recommender_weight_decay >= 0:
            raise ValueError(
                "Expected recommender_weight_decay to be >= 0. "
                f"Received: recommender_weight_decay={self.recommender_weight_decay!r}"
            )
        if not self.learning_rate >= 0:
            raise ValueError(
                f"Expected learning_rate to be >= 0. Received: learning_rate={self.learning_rate!r}"
            )

    @classmethod
    def fast(cls, seed: int = 42) -> BatchSettings:
        """The smallest settings that still exercise every step (tests, `seqlens demo --fast`)."""
        return cls(
            seed=seed,
            num_users=60,
            num_items=40,
            num_days=20,
            num_chats=300,
            max_length=20,
            recommender_epochs=2,
            recommender_blocks=1,
            recommender_heads=1,
            recommender_batch_size=16,
            text_epochs=1,
            embedding_dim=16,
            text_embedding_dim=16,
            latency_p99_ms=FAST_LATENCY_P99_MS,
            gate_requests=32,
        )

    @classmethod
    def demo(cls, seed: int = 42) -> BatchSettings:
        """The default sizes, with a latency limit a busy laptop or CI machine can meet."""
        return cls(seed=seed, latency_p99_ms=DEMO_LATENCY_P99_MS)

    @classmethod
    def from_mapping(cls, values: dict) -> BatchSettings:
        """Settings from a mapping such as Airflow params; unknown keys are ignored."""
        names = set(cls.__dataclass_fields__)
        return cls(**{key: value for key, value in values.items() if key in names})

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class BatchRun:
    """Where one batch run writes and publishes, and with which settings.

    Args:
        root: the run's artifacts root (an `ArtifactLayout` root); the DAG uses
            `<base>/runs/<ds>`, the demo its `--output` folder.
        serving_root: the TF Serving model root the run publishes to. Defaults to the layout's
            `<root>/serving`; the DAG shares one serving root between runs so the gate compares
            each candidate with the model currently served.
        settings: sizes, epochs and seeds.
        until_timestamp: end of the data interval (Unix seconds, exclusive); the pipelines
            dead-letter later rows, so a run sees exactly the logs up to its interval's end.
            `None` (the demo) keeps every row.
    """

    root: Path
    serving_root: Path | None = None
    settings: BatchSettings = field(default_factory=BatchSettings)
    until_timestamp: int | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "root", Path(self.root))
        if self.serving_root is None:
            object.__setattr__(self, "serving_root", ArtifactLayout(self.root).serving_root)
        object.__setattr__(self, "serving_root", Path(self.serving_root))

    @property
    def layout(self) -> ArtifactLayout:
        return ArtifactLayout(self.root)


def interval_run_root(base_root: str | Path, interval_key: str) -> Path:
    """The run root of one data interval: `<base_root>/runs/<interval_key>`.

    Args:
        base_root: the folder holding every run (and, by default, the shared serving root).
        interval_key: a path-safe key of the data interval, e.g. Airflow's `ds` (`2024-03-01`).
    """
    if not INTERVAL_KEY_PATTERN.match(str(interval_key)):
        raise ValueError(
            "Expected interval_key to be a path-safe key such as '2024-03-01'. "
            f"Received: interval_key={interval_key!r}"
        )
    return Path(base_root) / "runs" / str(interval_key)


# --- running commands ---------------------------------------------------------------------------


def command_available(*words: str) -> bool:
    """Whether `seqlens <words...>` is registered (e.g. `command_available("train", "intent")`)."""
    from seqlens.cli import build_parser

    parser = build_parser()
    for word in words:
        subparsers = [
            action for action in parser._actions if action.__class__.__name__ == "_SubParsersAction"
        ]
        if not subparsers or word not in subparsers[0].choices:
            return False
        parser = subparsers[0].choices[word]
    return True


def run_command(command: tuple[str, ...], options: list) -> None:
    """Run `seqlens <command...> <options...>` in-process.

    Raises:
        StepUnavailableError: the command is not registered.
        StepInputError: the command rejected its input (exit code 2).
        StepFailedError: the command exited with another non-zero code.
    """
    from seqlens.cli import main

    name = " ".join(command)
    if not command_available(*command):
        raise StepUnavailableError(f"`seqlens {name}` is not registered yet")
    argv = [*command, *(str(option) for option in options)]
    code = main(argv)
    if code == INPUT_ERROR_EXIT_CODE:
        raise StepInputError(f"`seqlens {' '.join(argv)}` exited with code {code} (bad input)")
    if code != 0:
        raise StepFailedError(f"`seqlens {' '.join(argv)}` exited with code {code}")


def _read_json(path: Path) -> dict:
    return json.loads(path.read_text()) if path.exists() else {}


# --- the steps ----------------------------------------------------------------------------------


def generate_inputs(run: BatchRun) -> dict[str, str]:
    """Write the synthetic logs (deterministic under the seed) to `<root>/raw`."""
    settings = run.settings
    run_command(
        ("generate",),
        [
            "--output",
            run.layout.raw_dir,
            "--users",
            settings.num_users,
            "--items",
            settings.num_items,
            "--days",
            settings.num_days,
            "--chats",
            settings.num_chats,
            "--seed",
            settings.seed,
        ],
    )
    layout = run.layout
    return {
        "events": str(layout.raw_events),
        "news": str(layout.raw_news),
        "chats": str(layout.raw_chats),
    }


def run_pipeline(run: BatchRun, kind: str, input_path: str | Path | None = None) -> str:
    """Run the Beam pipeline of `kind` over its raw log; return the data run folder."""
    if kind not in PIPELINE_KINDS:
        raise ValueError(f"Expected kind to be one of {PIPELINE_KINDS}. Received: kind={kind!r}")
    layout = run.layout
    source = (
        Path(input_path)
        if input_path
        else {"events": layout.raw_events, "news": layout.raw_news, "chats": layout.raw_chats}[kind]
    )
    output = layout.data_run(kind)
    options = ["--input", source, "--output", output]
    if run.until_timestamp is not None:
        options += ["--max-timestamp", int(run.until_timestamp) - 1]
    if kind == "events":
        options += ["--max-length", run.settings.max_length]
    run_command(("pipeline", kind), options)
    return str(output)


def train_recommender(run: BatchRun) -> str:
    """Train the recommender on the events data run; return the model folder.

    A batch run trains a handful of epochs, so the learning rate stays constant and the
    regularisation is lighter than the Games-tuned defaults (dropout 0.5, weight decay 0.6, a
    22-epoch cosine), which need twenty epochs: on the demo data (5 epochs, seed 42) validation
    NDCG@10 was 0.630 with those defaults, 0.470 with a 5-epoch cosine and 0.695 with the batch
    settings (learning rate 1e-2, dropout 0.2, weight decay 0.1; BENCHMARKS.md).
    """
    settings = run.settings
    layout = run.layout
    output = layout.model_dir("recommender")
    run_command(
        ("train", "recommender"),
        [
            "--data",
            layout.data_run("events"),
            "--output",
            output,
            "--epochs",
            settings.recommender_epochs,
            "--embedding-dim",
            settings.embedding_dim,
            "--num-blocks",
            settings.recommender_blocks,
            "--num-heads",
            settings.recommender_heads,
            "--batch-size",
            settings.recommender_batch_size,
            "--max-length",
            settings.max_length,
            "--learning-rate",
            settings.learning_rate,
            "--dropout",
            settings.recommender_dropout,
            "--weight-decay",
            settings.recommender_weight_decay,
            "--learning-rate-decay-epochs",
            "none",
            "--seed",
            settings.seed,
        ],
    )
    return str(output)


def evaluate_recommender(run: BatchRun) -> dict[str, float]:
    """Evaluate the recommender on the held-out targets; return its headline metrics."""
    model_dir = run.layout.model_dir("recommender")
    run_command(
        ("evaluate", "recommender"),
        [
            "--model",
            model_dir,
            "--data",
            run.layout.data_run("events"),
            "--k",
            run.settings.top_k,
            "--seed",
            run.settings.seed,
        ],
    )
    return _headline_metrics(_read_json(model_dir / "metrics.json"))


def train_text_model(run: BatchRun, task: str) -> str:
    """Train the `sentiment` (on news) or `intent` (on chats) model; return its folder."""
    if task not in TEXT_TASKS:
        raise ValueError(f"Expected task to be one of {TEXT_TASKS}. Received: task={task!r}")
    data = run.layout.data_run("news" if task == "sentiment" else "chats")
    output = run.layout.model_dir(task)
    run_command(
        ("train", task),
        [
            "--input",
            data,
            "--output",
            output,
            "--epochs",
            run.settings.text_epochs,
            "--embedding-dim",
            run.settings.text_embedding_dim,
            "--seed",
            run.settings.seed,
        ],
    )
    return str(output)


def _headline_metrics(metrics: dict) -> dict[str, float]:
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
    return dict(list(flat.items())[:40])


def headline_metric_value(name: str, metrics: dict) -> float | None:
    """The headline metric of model `name` in a `metrics.json` (nested) or a flat metrics dict.

    The recommender's evaluation lists the recommender and its baselines (`find_metric` takes the
    recommender's full-ranking figure); a text model's lists its members, and the graph that is
    exported for serving is the `attention_model`, so its figure counts (as in `seqlens publish`).
    """
    from models.serving.candidates import find_metric

    subtree = metrics
    if name in TEXT_TASKS and isinstance(metrics.get("attention_model"), dict):
        subtree = metrics["attention_model"]
    return find_metric(subtree, HEADLINE_METRICS[name])


def _candidate_fingerprint(model_dir: Path) -> str:
    """A digest of a trained model's weights file and metrics: the same candidate, the same key."""
    digest = hashlib.sha256()
    for file_name in ("model.keras", "metrics.json"):
        path = model_dir / file_name
        if path.exists():
            digest.update(path.read_bytes())
    return digest.hexdigest()


def validation_gate(
    run: BatchRun, names: tuple[str, ...] = MODEL_NAMES, tolerance: float = DEFAULT_METRIC_TOLERANCE
) -> dict[str, dict]:
    """Compare each candidate's headline metric with the version being served; publish nothing.

    The TFX Evaluator's blessing: a candidate passes when its headline metric
    (`HEADLINE_METRICS`) is at most `tolerance` below the served version's (or nothing is served
    yet). A rejection is appended to the publish log (`decision: rejected`, `stage:
    validation_gate`). `publish_models` then runs the full publish protocol (SavedModel parity,
    metric and latency checks, atomic rename) on the candidates that passed.

    Idempotent: the decision for a candidate (digest of its weights and metrics) against a given
    served version is remembered in `<root>/gate.json`, so re-running an interval logs nothing
    twice.

    Returns:
        `{name: {"passed": bool, "reasons": [...], "metric": str, "candidate": float | None,
        "published": float | None, "served_version": int | None}}`.
    """
    from models.serving import versions as serving_versions
    from models.serving.gate import compare_metric

    memory_path = run.root / "gate.json"
    memory = _read_json(memory_path)
    results: dict[str, dict] = {}
    for name in names:
        metric = HEADLINE_METRICS[name]
        model_dir = run.layout.model_dir(name)
        base_path = serving_versions.model_base_path(run.serving_root, name)
        served = serving_versions.latest_version(base_path)
        key = f"{_candidate_fingerprint(model_dir)}:{served}"
        if memory.get(name, {}).get("key") == key:
            results[name] = memory[name]["result"]
            continue
        candidate = headline_metric_value(name, _read_json(model_dir / "metrics.json"))
        published = None
        if served is not None:
            served_metrics = serving_versions.read_export_metadata(base_path / str(served)).get(
                "metrics", {}
            )
            published = headline_metric_value(name, served_metrics)
        check = compare_metric(
            {metric: candidate} if candidate is not None else {},
            None if served is None else ({metric: published} if published is not None else {}),
            metric,
            tolerance,
        )
        result = {
            "passed": check.passed,
            "reasons": [check.reason] if check.reason else [],
            "metric": metric,
            "candidate": candidate,
            "published": published,
            "served_version": served,
        }
        if not check.passed:
            serving_versions.append_publish_log(
                run.serving_root,
                {
                    "name": name,
                    "version": serving_versions.next_version(base_path),
                    "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                    "decision": "rejected",
                    "reasons": result["reasons"],
                    "checks": {"no_metric_regression": check.to_json()},
                    "metrics": {metric: candidate},
                    "path": None,
                    "stage": "validation_gate",
                    "source": str(model_dir),
                    "previous_version": served,
                    "metric": metric,
                },
            )
        memory[name] = {"key": key, "result": result}
        results[name] = result
    memory_path.parent.mkdir(parents=True, exist_ok=True)
    memory_path.write_text(json.dumps(memory, indent=2) + "\n")
    return results


def publish_models(run: BatchRun, names: tuple[str, ...]) -> dict[str, int | None]:
    """Publish the named models with `seqlens publish` (export, full gate, atomic rename).

    `seqlens publish` re-checks each candidate: the reloaded SavedModel answers like the Keras
    model, the headline metric does not regress against the served version, and single requests
    are fast enough; a candidate that fails stays unpublished (`None` below) and the publish log
    says why.

    Idempotent: what this run decided for a candidate (digest of its weights and metrics) is
    recorded in `<root>/published.json`; running it again for the same candidate publishes no
    second version and logs nothing twice.

    Returns:
        `{name: published version, or None when rejected}`.
    """
    from models.serving import versions as serving_versions
    from seqlens.cli import main

    marker_path = run.root / PUBLISHED_MARKER
    marker = _read_json(marker_path)
    outcome: dict[str, int | None] = {}
    for name in names:
        model_dir = run.layout.model_dir(name)
        fingerprint = _candidate_fingerprint(model_dir)
        base_path = serving_versions.model_base_path(run.serving_root, name)
        previous = marker.get(name, {})
        if previous.get("fingerprint") == fingerprint and (
            previous.get("version") is None or (base_path / str(previous["version"])).is_dir()
        ):
            outcome[name] = previous.get("version")
            continue
        if not command_available("publish"):
            raise StepUnavailableError("`seqlens publish` is not registered yet")
        argv = [
            "publish",
            "--model",
            str(model_dir),
            "--serving-root",
            str(run.serving_root),
            "--name",
            name,
            "--data",
            str(_data_run_of_model(run, name)),
            "--tolerance",
            str(DEFAULT_METRIC_TOLERANCE),
            "--latency-p99-ms",
            str(run.settings.latency_p99_ms),
            "--requests",
            str(run.settings.gate_requests),
            "--seed",
            str(run.settings.seed),
        ]
        code = main(argv)
        entries = [
            entry
            for entry in serving_versions.read_publish_log(run.serving_root)
            if entry.get("name") == name
        ]
        last = entries[-1] if entries else {}
        if code == 0 and last.get("decision") == "published":
            outcome[name] = int(last["version"])
        elif code == 1 and last.get("decision") == "rejected":
            outcome[name] = None
        elif code == INPUT_ERROR_EXIT_CODE:
            raise StepInputError(f"`seqlens {' '.join(argv)}` exited with code 2 (bad input)")
        else:
            raise StepFailedError(f"`seqlens {' '.join(argv)}` exited with code {code}")
        marker[name] = {
            "fingerprint": fingerprint,
            "version": outcome[name],
            "decision": last.get("decision"),
            "time": last.get("time"),
        }
        marker_path.write_text(json.dumps(marker, indent=2) + "\n")
    return outcome


def _data_run_of_model(run: BatchRun, name: str) -> Path:
    """The data run a model was trained on (its held-out users or texts feed the gate)."""
    kind = {"recommender": "events", "sentiment": "news", "intent": "chats"}[name]
    return run.layout.data_run(kind)


def raise_alerts(run: BatchRun, sentiment_model: str | Path | None = None) -> dict:
    """Score the news data run with the sentiment model and write the alerts; return a summary."""
    layout = run.layout
    model = Path(sentiment_model) if sentiment_model else layout.model_dir("sentiment")
    run_command(
        ("alerts",),
        ["--news", layout.data_run("news"), "--model", model, "--output", layout.alerts_dir],
    )
    alerts_file = layout.alerts_file
    count = len(alerts_file.read_text().splitlines()) if alerts_file.exists() else 0
    return {"alerts_file": str(alerts_file), "alerts": count}
