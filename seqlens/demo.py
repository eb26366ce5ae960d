"""`seqlens demo`: the whole batch path on the embedded synthetic data, step by step with timings.

generate -> pipelines (events, news, chats) -> train recommender (and a GRU4Rec baseline) ->
evaluate -> train sentiment and intent -> validation gate -> publish -> alerts, then it prints where
everything is and the command that opens the dashboard on it. The steps are the functions of
`seqlens.batch`, the same ones the Airflow DAG runs, so the demo is the nightly job on a small data
set; the demo adds a GRU4Rec baseline, trained with the same settings, that the recommender's
`metrics.json` reports beside the Markov chain (the generated events plant structure that attention
over the history learns and neither baseline does).
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

from seqlens.errors import UsageError

# The recurrent baseline the demo trains beside the attention recommender (a `models/` folder).
BASELINE_MODEL = "gru4rec"
# What a step raises for bad input (a wrong path or setting): the step fails, the demo stops.
INPUT_ERRORS = (UsageError, ValueError, FileNotFoundError)


@dataclass
class StepOutcome:
    """What one demo step did: `status` is `ok`, `skipped` or `failed`."""

    name: str
    status: str
    seconds: float
    detail: str = ""


@dataclass
class DemoReport:
    """Outcome of every step of a demo run, in order, and the total wall-clock seconds."""

    output: str
    steps: list[StepOutcome] = field(default_factory=list)
    total_seconds: float = 0.0
    published: dict = field(default_factory=dict)

    @property
    def succeeded(self) -> bool:
        return all(step.status == "ok" for step in self.steps)

    def to_dict(self) -> dict:
        return {
            "output": self.output,
            "total_seconds": round(self.total_seconds, 2),
            "steps": [step.__dict__ for step in self.steps],
            "published": self.published,
        }


def train_baseline_recommender(run, data_run: str | Path) -> str:
    """Train the GRU4Rec baseline (`BASELINE_MODEL`) with the run's recommender settings into
    `<root>/models/gru4rec`; return the folder.

    Args:
        run: the batch run (`seqlens.batch.BatchRun`).
        data_run: the events data run.
    """
    from seqlens.jobs.recommender import train_recommender_run

    output = run.layout.model_dir(BASELINE_MODEL)
    config = replace(run.settings.recommender, model=BASELINE_MODEL)
    train_recommender_run(data_run, output, config)
    return str(output)


def demo_steps(run) -> list[tuple[str, tuple[str, ...], Callable[[dict], object]]]:
    """The demo's steps: `(name, names of the steps it needs, function of earlier results)`.

    Each step takes what the steps it needs returned (paths, metrics), as the DAG's tasks do.
    """
    from seqlens import batch

    def pipeline(kind: str) -> Callable[[dict], object]:
        return lambda results: batch.run_pipeline(run, kind, results["generate"][kind])

    def gate(results: dict) -> dict:
        model_dirs = {
            "recommender": results["train recommender"],
            "sentiment": results["train sentiment"],
            "intent": results["train intent"],
        }
        metrics = {"recommender": results["evaluate recommender"]}
        return batch.validation_gate(run, model_dirs, metrics)

    def publish(results: dict) -> dict:
        passed = tuple(
            name for name, check in results["validation gate"].items() if check["passed"]
        )
        model_dirs = {
            "recommender": results["train recommender"],
            "sentiment": results["train sentiment"],
            "intent": results["train intent"],
        }
        return batch.publish_models(run, passed, model_dirs)

    def train_baseline(results: dict) -> str:
        return train_baseline_recommender(run, results["pipeline events"])

    return [
        ("generate", (), lambda results: batch.generate_inputs(run)),
        ("pipeline events", ("generate",), pipeline("events")),
        ("pipeline news", ("generate",), pipeline("news")),
        ("pipeline chats", ("generate",), pipeline("chats")),
        (
            "train recommender",
            ("pipeline events",),
            lambda results: batch.train_recommender(run, results["pipeline events"]),
        ),
        ("train gru4rec", ("pipeline events",), train_baseline),
        (
            "evaluate recommender",
            ("train recommender", "train gru4rec", "pipeline events"),
            lambda results: batch.evaluate_recommender(
                run,
                results["train recommender"],
                results["pipeline events"],
                compare=(results["train gru4rec"],),
            ),
        ),
        (
            "train sentiment",
            ("pipeline news",),
            lambda results: batch.train_text_model(run, "sentiment", results["pipeline news"]),
        ),
        (
            "train intent",
            ("pipeline chats",),
            lambda results: batch.train_text_model(run, "intent", results["pipeline chats"]),
        ),
        ("validation gate", ("evaluate recommender", "train sentiment", "train intent"), gate),
        ("publish", ("validation gate",), publish),
        (
            "alerts",
            ("pipeline news", "train sentiment"),
            lambda results: batch.raise_alerts(run, results["train sentiment"]),
        ),
    ]


@contextlib.contextmanager
def captured_output(log_path: Path) -> Iterator[None]:
    """Send everything written to file descriptors 1 and 2 (Python, TensorFlow's C++ logging,
    Beam) to `log_path` while the block runs; the terminal gets only the demo's progress lines."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    sys.stdout.flush()
    sys.stderr.flush()
    saved = [os.dup(1), os.dup(2)]
    try:
        with open(log_path, "ab") as log:
            os.dup2(log.fileno(), 1)
            os.dup2(log.fileno(), 2)
            try:
                yield
            finally:
                sys.stdout.flush()
                sys.stderr.flush()
                os.dup2(saved[0], 1)
                os.dup2(saved[1], 2)
    finally:
        for descriptor in saved:
            os.close(descriptor)


def echo_line(line: str) -> None:
    """Print one progress line at once (also when stdout is a pipe or a file)."""
    print(line, flush=True)


def run_demo(
    output: str | Path,
    seed: int = 42,
    fast: bool = False,
    echo: Callable[[str], None] = echo_line,
    capture_logs: bool = True,
) -> DemoReport:
    """Run every demo step into `output`; a step whose input is missing is skipped, with a reason.

    Args:
        output: the artifacts root to write (created if needed).
        seed: seed of the data generator and of every model.
        fast: the smallest settings that still exercise every step (seconds per step, not minutes).
        echo: where progress lines go.
        capture_logs: write each step's output to `<output>/logs/<NN>-<step>.log` instead of the
            terminal (where only one progress line per step appears).
    """
    from seqlens import batch

    settings = batch.BatchSettings.fast(seed) if fast else batch.BatchSettings.demo(seed)
    run = batch.BatchRun(root=Path(output), settings=settings)
    run.root.mkdir(parents=True, exist_ok=True)
    report = DemoReport(output=str(run.root))
    results: dict[str, object] = {}
    steps = demo_steps(run)
    started = time.perf_counter()
    for index, (name, needs, function) in enumerate(steps, start=1):
        prefix = f"[{index:>2}/{len(steps)}] {name:<21}"
        missing = [need for need in needs if need not in results]
        if missing:
            outcome = StepOutcome(name, "skipped", 0.0, f"needs {', '.join(missing)}")
        else:
            step_started = time.perf_counter()
            log_path = run.root / "logs" / f"{index:02d}-{name.replace(' ', '-')}.log"
            capture = captured_output(log_path) if capture_logs else contextlib.nullcontext()
            try:
                with capture:
                    results[name] = function(results)
                outcome = StepOutcome(
                    name, "ok", time.perf_counter() - step_started, _describe(results[name])
                )
            except INPUT_ERRORS as error:
                outcome = StepOutcome(
                    name, "failed", time.perf_counter() - step_started, str(error)
                )
        report.steps.append(outcome)
        echo(f"{prefix} {outcome.status:<7} {outcome.seconds:7.1f} s  {outcome.detail}")
        if outcome.status == "failed":
            if capture_logs and log_path.exists():
                echo(f"  last lines of {log_path}:")
                for line in log_path.read_text(errors="replace").splitlines()[-15:]:
                    echo(f"    {line}")
            break
    report.total_seconds = time.perf_counter() - started
    report.published = results.get("publish", {}) or {}
    (run.root / "demo_report.json").write_text(json.dumps(report.to_dict(), indent=2) + "\n")
    return report


def _describe(result: object) -> str:
    """A short line about a step's result (a path, or a few metrics)."""
    if isinstance(result, dict):
        text = ", ".join(f"{key}={_short(value)}" for key, value in list(result.items())[:4])
        return text[:110]
    return _short(result)


def _short(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{key}: {_short(inner)}" for key, inner in value.items()) + "}"
    return str(value)


def print_summary(report: DemoReport, echo: Callable[[str], None] = echo_line) -> None:
    """Where everything is, and the command that opens the dashboard on it."""
    from seqlens.layout import ArtifactLayout

    layout = ArtifactLayout(Path(report.output))
    echo("")
    echo(f"done in {report.total_seconds:.1f} s; artifacts in {layout.root}")
    rows = [
        ("raw logs", layout.raw_dir),
        ("pipeline runs", layout.root / "data"),
        ("trained models", layout.root / "models"),
        ("serving root", layout.serving_root),
        ("publish log", layout.publish_log),
        ("alerts", layout.alerts_file),
        ("step logs", layout.root / "logs"),
    ]
    for label, path in rows:
        echo(f"  {label:<15} {path}{'' if path.exists() else '  (not written)'}")
    skipped = [step for step in report.steps if step.status != "ok"]
    for step in skipped:
        echo(f"  {step.status}: {step.name} ({step.detail})")
    echo("")
    echo(f"open the dashboard:  seqlens dashboard --artifacts {layout.root}")
