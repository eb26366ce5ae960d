"""The batch path's last two gates: compare each candidate with the served version, then publish.

`validation_gate` is the TFX Evaluator's blessing (headline metric only, nothing exported);
`publish_models` runs the full protocol of `models.serving.publish.publish_model` on the
candidates that passed. Both are idempotent: what a run decided for a candidate (a digest of its
weights and metrics) is remembered below the run's root, so re-running an interval publishes no
second version and logs nothing twice.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from models.serving.gate import DEFAULT_METRIC_TOLERANCE, HEADLINE_METRICS
from seqlens.batch_settings import BatchRun

logger = logging.getLogger(__name__)

MODEL_NAMES = ("recommender", "sentiment", "intent")
# The data run each model is trained on (its held-out users or texts feed the publish gate).
MODEL_DATA_KINDS = {"recommender": "events", "sentiment": "news", "intent": "chats"}
GATE_MEMORY = "gate.json"
PUBLISHED_MARKER = "published.json"


def read_json(path: Path) -> dict:
    """A JSON file's object, or `{}` when the file does not exist."""
    return json.loads(path.read_text()) if path.exists() else {}


def nested_metrics(metrics: Mapping[str, Any]) -> dict[str, Any]:
    """A `metrics.json`-shaped document from flat `a.b.c` keys (what `evaluate_recommender`
    returns); nested documents pass through unchanged."""
    document: dict[str, Any] = {}
    for key, value in metrics.items():
        node = document
        *parents, leaf = str(key).split(".")
        for parent in parents:
            node = node.setdefault(parent, {})
        node[leaf] = value
    return document


def candidate_fingerprint(model_dir: Path) -> str:
    """A digest of a trained model's weights file and metrics: the same candidate, the same key."""
    digest = hashlib.sha256()
    for file_name in ("model.keras", "metrics.json"):
        path = Path(model_dir) / file_name
        if path.exists():
            digest.update(path.read_bytes())
    return digest.hexdigest()


def _model_dirs(run: BatchRun, names, model_dirs: Mapping[str, str | Path] | None) -> dict:
    given = dict(model_dirs or {})
    return {name: Path(given.get(name) or run.layout.model_dir(name)) for name in names}


def validation_gate(
    run: BatchRun,
    model_dirs: Mapping[str, str | Path] | None = None,
    candidate_metrics: Mapping[str, Mapping[str, Any]] | None = None,
    names: tuple[str, ...] = MODEL_NAMES,
    tolerance: float = DEFAULT_METRIC_TOLERANCE,
) -> dict[str, dict]:
    """Compare each candidate's headline metric with the version being served; publish nothing.

    A candidate passes when its headline metric (`models.serving.gate.HEADLINE_METRICS`) is at
    most `tolerance` below the served version's (or nothing is served yet). A rejection is
    appended to the publish log as a `PublishDecision` (`decision: rejected`, `stage:
    validation_gate`). `publish_models` then runs the full publish protocol on the candidates
    that passed. Idempotent: the decision for a candidate against a given served version is
    remembered in `<root>/gate.json`.

    Args:
        run: the batch run.
        model_dirs: the candidates' model folders by name (default: the run's layout).
        candidate_metrics: metrics by name, nested or flat (`evaluate_recommender`'s return
            value); default: each model folder's `metrics.json`.
        names: the models to gate.
        tolerance: how far below the served version a headline metric may fall.

    Returns:
        `{name: {"passed": bool, "reasons": [...], "metric": str, "candidate": float | None,
        "published": float | None, "served_version": int | None}}`.
    """
    from models.serving import versions as serving_versions
    from models.serving.gate import compare_metric, headline_metric_value

    memory_path = run.root / GATE_MEMORY
    memory = read_json(memory_path)
    folders = _model_dirs(run, names, model_dirs)
    results: dict[str, dict] = {}
    for name in names:
        metric = HEADLINE_METRICS[name]
        model_dir = folders[name]
        base_path = serving_versions.model_base_path(run.serving_root, name)
        served = serving_versions.latest_version(base_path)
        key = f"{candidate_fingerprint(model_dir)}:{served}"
        if memory.get(name, {}).get("key") == key:
            results[name] = memory[name]["result"]
            continue
        given = (candidate_metrics or {}).get(name)
        metrics = nested_metrics(given) if given else read_json(model_dir / "metrics.json")
        candidate = headline_metric_value(name, metrics)
        published = None
        if served is not None:
            served_metadata = serving_versions.read_export_metadata(base_path / str(served))
            published = headline_metric_value(name, served_metadata.get("metrics", {}))
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
            with serving_versions.serving_root_lock(run.serving_root):
                _log_gate_rejection(
                    run, name, model_dir, base_path, served, metric, candidate, check
                )
        memory[name] = {"key": key, "result": result}
        results[name] = result
    memory_path.parent.mkdir(parents=True, exist_ok=True)
    memory_path.write_text(json.dumps(memory, indent=2) + "\n")
    return results


def _log_gate_rejection(
    run: BatchRun,
    name: str,
    model_dir: Path,
    base_path: Path,
    served: int | None,
    metric: str,
    candidate: float | None,
    check,
) -> None:
    """Append the validation gate's rejection of `name` to the publish log.

    The caller holds the serving root's lock, so the version number the entry names is the one
    the next publish would take.
    """
    from models.serving import versions as serving_versions
    from models.serving.publish import PublishDecision

    decision = PublishDecision(
        name=name,
        version=serving_versions.next_version(base_path),
        decision="rejected",
        reasons=[check.reason] if check.reason else [],
        checks={"no_metric_regression": check.to_json()},
        metrics={metric: candidate},
        path=None,
        time=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        extra={
            "stage": "validation_gate",
            "source": str(model_dir),
            "previous_version": served,
            "metric": metric,
        },
    )
    serving_versions.append_publish_log(run.serving_root, decision.log_entry())


def publish_models(
    run: BatchRun,
    names: tuple[str, ...],
    model_dirs: Mapping[str, str | Path] | None = None,
) -> dict[str, int | None]:
    """Publish the named models with `models.serving.publish.publish_model`.

    The publisher re-checks each candidate: the reloaded SavedModel answers like the Keras
    model, the headline metric does not regress against the served version, and single requests
    are fast enough (`run.settings.latency_p99_ms`); a candidate that fails stays unpublished
    (`None` below) and the publish log says why. Idempotent: what this run decided for a
    candidate is recorded in `<root>/published.json`; running it again for the same candidate
    publishes no second version and logs nothing twice.

    Args:
        run: the batch run.
        names: the models to publish (those that passed `validation_gate`).
        model_dirs: their model folders by name (default: the run's layout).

    Returns:
        `{name: published version, or None when rejected}`.
    """
    from models.serving import versions as serving_versions
    from models.serving.publish import publish_model

    marker_path = run.root / PUBLISHED_MARKER
    marker = read_json(marker_path)
    folders = _model_dirs(run, names, model_dirs)
    settings = run.settings
    outcome: dict[str, int | None] = {}
    for name in names:
        model_dir = folders[name]
        fingerprint = candidate_fingerprint(model_dir)
        previous = marker.get(name, {})
        version = previous.get("version")
        base_path = serving_versions.model_base_path(run.serving_root, name)
        if previous.get("fingerprint") == fingerprint and (
            version is None or (base_path / str(version)).is_dir()
        ):
            outcome[name] = version
            continue
        decision = publish_model(
            model_dir,
            run.serving_root,
            name,
            data=run.layout.data_run(MODEL_DATA_KINDS[name]),
            metric_tolerance=DEFAULT_METRIC_TOLERANCE,
            latency_p99_ms=settings.latency_p99_ms,
            num_requests=settings.gate_requests,
            seed=settings.seed,
        )
        logger.info("%s", decision.summary())
        outcome[name] = decision.version if decision.published else None
        marker[name] = {
            "fingerprint": fingerprint,
            "version": outcome[name],
            "decision": decision.decision,
            "time": decision.time,
        }
        marker_path.write_text(json.dumps(marker, indent=2) + "\n")
    return outcome
