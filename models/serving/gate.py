# Over 300 lines on purpose: the gate's checks and their defaults are one idea, read together.
"""The validation gate's checks: each returns a `GateCheck` (passed or not, why, figures).

Modelled on the TFX Evaluator's blessing: a candidate SavedModel is *reloaded* and must
(1) answer like the Keras model it came from (same top-k, scores within a tolerance),
(2) not regress on the headline metric against the version being served (within a tolerance),
(3) answer a single request fast enough (p99 over repeated calls, after warm-up).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

# The gate's defaults: the one place the publisher, `seqlens publish`, the batch path and the DAG
# read them from.
DEFAULT_METRIC_TOLERANCE = 0.01  # how far below the served version a headline metric may fall
DEFAULT_SCORE_TOLERANCE = 1e-3  # largest |SavedModel - Keras| score difference
DEFAULT_LATENCY_P99_MS = 250.0  # a sanity limit on a shared CPU; set the real SLO per call
DEFAULT_LATENCY_REQUESTS = 200  # single requests timed for the p99
DEFAULT_GATE_REQUESTS = 256  # held-out users or texts the SavedModel is compared on
DEFAULT_KEEP = 3  # published versions kept for rollback
# The metric each kind of model must not regress on (higher is better), as its evaluation
# writes it.
HEADLINE_METRICS = {"recommender": "ndcg@10", "sentiment": "macro_f1", "intent": "accuracy"}
TEXT_TASKS = ("sentiment", "intent")


@dataclass
class GateCheck:
    """One check's outcome. `reason` is the one line shown to the user when it fails."""

    name: str
    passed: bool
    reason: str = ""
    details: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"passed": self.passed, "reason": self.reason, **self.details}


def compare_rankings(
    served_ids: Sequence[Sequence[str]],
    served_scores: np.ndarray,
    keras_ids: Sequence[Sequence[str]],
    keras_scores: np.ndarray,
    score_tolerance: float,
) -> GateCheck:
    """Same top-k and scores within `score_tolerance` (absolute), user by user.

    Two rankings that differ only by the order of items whose scores are within the tolerance
    (ties) still match: the positions where the ids differ must all be inside such a tie.
    """
    if score_tolerance < 0:
        raise ValueError(
            f"Expected score_tolerance >= 0. Received: score_tolerance={score_tolerance}"
        )
    served_scores, keras_scores = np.asarray(served_scores, float), np.asarray(keras_scores, float)
    if served_scores.shape != keras_scores.shape or len(served_ids) != len(keras_ids):
        return GateCheck(
            "matches_keras",
            False,
            f"served output shape {served_scores.shape} differs from Keras {keras_scores.shape}",
        )
    finite = np.isfinite(keras_scores)
    difference = np.where(finite, np.abs(served_scores - np.where(finite, keras_scores, 0.0)), 0.0)
    max_difference = float(difference.max(initial=0.0))
    mismatched_users = 0
    for row, (served_row, keras_row) in enumerate(zip(served_ids, keras_ids, strict=True)):
        differing = [
            j for j, (a, b) in enumerate(zip(served_row, keras_row, strict=True)) if a != b
        ]
        # A different item is acceptable only inside a tie: same score at that position, and
        # the Keras score ties with a neighbour (or sits at the cut-off, where the tie partner
        # is the first item below the top-k).
        if not all(
            difference[row, j] <= score_tolerance
            and (_in_tie(keras_scores[row], j, score_tolerance) or j == len(keras_row) - 1)
            for j in differing
        ):
            mismatched_users += 1
    details = {
        "users": len(keras_ids),
        "users_with_different_top_k": mismatched_users,
        "max_abs_score_difference": max_difference,
        "score_tolerance": score_tolerance,
    }
    if mismatched_users:
        return GateCheck(
            "matches_keras",
            False,
            f"SavedModel top-k differs from the Keras model for {mismatched_users} of "
            f"{len(keras_ids)} held-out users",
            details,
        )
    if max_difference > score_tolerance:
        return GateCheck(
            "matches_keras",
            False,
            f"SavedModel scores differ from the Keras model by up to {max_difference:.3g} "
            f"(tolerance {score_tolerance:g})",
            details,
        )
    return GateCheck("matches_keras", True, "", details)


def _in_tie(scores: np.ndarray, position: int, tolerance: float) -> bool:
    neighbours = [scores[j] for j in (position - 1, position + 1) if 0 <= j < len(scores)]
    return any(abs(scores[position] - other) <= tolerance for other in neighbours)


def compare_metric(
    candidate_metrics: Mapping[str, float],
    published_metrics: Mapping[str, float] | None,
    metric: str,
    tolerance: float,
) -> GateCheck:
    """No regression of `metric` beyond `tolerance` (absolute) against the published version."""
    if tolerance < 0:
        raise ValueError(f"Expected tolerance >= 0. Received: tolerance={tolerance}")
    candidate = candidate_metrics.get(metric)
    details = {
        "metric": metric,
        "candidate": candidate,
        "tolerance": tolerance,
        "published": None if published_metrics is None else published_metrics.get(metric),
    }
    if candidate is None or not np.isfinite(candidate):
        return GateCheck(
            "no_metric_regression",
            False,
            f"the candidate's metrics.json has no value for {metric!r}",
            details,
        )
    if published_metrics is None:
        details["note"] = "no version published yet"
        return GateCheck("no_metric_regression", True, "", details)
    published = published_metrics.get(metric)
    if published is None:
        details["note"] = f"the published version has no {metric!r}; nothing to compare"
        return GateCheck("no_metric_regression", True, "", details)
    if candidate < published - tolerance:
        return GateCheck(
            "no_metric_regression",
            False,
            f"{metric} regressed from {published:.4f} (published) to {candidate:.4f} "
            f"(candidate), more than the tolerance {tolerance:g}",
            details,
        )
    return GateCheck("no_metric_regression", True, "", details)


def measure_latency(call: Callable[[], Any], repeats: int, warmup: int = 20) -> dict[str, float]:
    """Milliseconds per `call()` after `warmup` calls: p50, p90, p99, mean, over `repeats` calls."""
    if repeats < 1:
        raise ValueError(f"Expected repeats >= 1. Received: repeats={repeats}")
    for _ in range(warmup):
        call()
    timings = np.empty(repeats)
    for index in range(repeats):
        start = time.perf_counter()
        call()
        timings[index] = (time.perf_counter() - start) * 1000.0
    return {
        "p50_ms": float(np.percentile(timings, 50)),
        "p90_ms": float(np.percentile(timings, 90)),
        "p99_ms": float(np.percentile(timings, 99)),
        "mean_ms": float(timings.mean()),
        "requests": repeats,
    }


def check_latency(call: Callable[[], Any], p99_limit_ms: float, repeats: int = 200) -> GateCheck:
    """p99 single-request latency of the reloaded signature at most `p99_limit_ms`."""
    if p99_limit_ms <= 0:
        raise ValueError(f"Expected p99_limit_ms > 0. Received: p99_limit_ms={p99_limit_ms}")
    figures = measure_latency(call, repeats)
    details = {**figures, "p99_limit_ms": p99_limit_ms}
    if figures["p99_ms"] > p99_limit_ms:
        return GateCheck(
            "latency",
            False,
            f"p99 latency {figures['p99_ms']:.2f} ms over {repeats} single requests "
            f"exceeds the limit {p99_limit_ms:g} ms",
            details,
        )
    return GateCheck("latency", True, "", details)


def check_session_loader(
    export_dir: str,
    inputs: Mapping[str, np.ndarray],
    expected: Mapping[str, np.ndarray],
    tolerance: float = 1e-4,
    signature_name: str = "serving_default",
) -> GateCheck:
    """Load the SavedModel the way TF Serving does (TF1 session loader) and run one request.

    `tf.saved_model.load` restores Python objects; TF Serving (and `saved_model_cli run`) instead
    imports the MetaGraph into a session and runs the restore op, which fails when a variable the
    signature reads is missing from the checkpoint ("Could not find variable ..."). The outputs
    must equal `expected` (the object loader's answer to the same `inputs`).
    """
    import tensorflow as tf

    try:
        with tf.Graph().as_default() as graph, tf.compat.v1.Session(graph=graph) as session:
            meta_graph = tf.compat.v1.saved_model.loader.load(session, ["serve"], export_dir)
            signature = meta_graph.signature_def[signature_name]
            feed = {signature.inputs[name].name: value for name, value in inputs.items()}
            fetches = {name: info.name for name, info in signature.outputs.items()}
            outputs = session.run(fetches, feed)
    except (tf.errors.OpError, KeyError, ValueError) as error:
        first_line = (str(error).strip().splitlines() or [type(error).__name__])[0]
        return GateCheck(
            "session_loader",
            False,
            f"TF Serving's session loader cannot run the SavedModel: {first_line[:300]}",
        )
    mismatched = []
    for name, value in expected.items():
        served = outputs.get(name)
        value = np.asarray(value)
        if served is None or served.shape != value.shape:
            mismatched.append(name)
        elif value.dtype.kind in "fc":
            if not np.allclose(served, value, atol=tolerance, equal_nan=True):
                mismatched.append(name)
        elif not np.array_equal(served, value):
            mismatched.append(name)
    details = {"outputs": sorted(outputs), "mismatched_outputs": mismatched}
    if mismatched:
        return GateCheck(
            "session_loader",
            False,
            f"the session loader's outputs differ from tf.saved_model.load's: {mismatched}",
            details,
        )
    return GateCheck("session_loader", True, "", details)


def find_metric(metrics: dict[str, Any], metric: str) -> float | None:
    """The headline value of `metric` in a metrics.json document (nested or flat), or `None`.

    Recommender metrics.json (`models.recommender.evaluation`): `headline["full/NDCG@10"]`, else
    `models.recommender.model.full["NDCG@10"]` (the full-ranking protocol, never a baseline's).
    Otherwise a key equal to `metric` (case-insensitive) at any depth: the full-ranking protocol
    first, then the shallowest, then the first found; baselines (`most_popular`, `markov`,
    `linear_model`, ...) only when nothing else has it.
    """
    if not isinstance(metrics, dict):
        return None
    wanted = metric.lower()
    headline = metrics.get("headline")
    if isinstance(headline, dict):
        for key in (f"full/{wanted}", wanted):
            value = {str(name).lower(): value for name, value in headline.items()}.get(key)
            if isinstance(value, int | float):
                return float(value)
    models = metrics.get("models")
    if isinstance(models, dict) and isinstance(models.get("recommender"), dict):
        metrics = models["recommender"]
    found: list[tuple[int, int, int, float]] = []

    def walk(node: Any, path: tuple[str, ...]) -> None:
        for key, value in node.items():
            if (
                str(key).lower() == wanted
                and isinstance(value, int | float)
                and not isinstance(value, bool)
            ):
                text = "/".join(path).lower()
                baseline = any(name in text for name in _BASELINE_NAMES)
                protocol = 0 if "full" in text else 2 if "sampled" in text else 1
                found.append((int(baseline), protocol, len(path), len(found), float(value)))
            elif isinstance(value, dict):
                walk(value, (*path, str(key)))

    walk(metrics, ())
    return min(found)[-1] if found else None


_BASELINE_NAMES = ("most_popular", "markov", "linear_model", "baseline", "gru4rec")


def headline_metric_value(kind: str, metrics: dict[str, Any]) -> float | None:
    """The headline metric (`HEADLINE_METRICS[kind]`) of a model's `metrics.json`, or `None`.

    The recommender's evaluation lists the recommender and its baselines (`find_metric` takes
    the recommender's full-ranking figure); a text model's lists the served model and its
    branches, and the graph that is exported for serving is the `served_model` (the
    `attention_model` in folders trained before the wide-and-deep model), so its figure counts.
    """
    if kind not in HEADLINE_METRICS:
        raise ValueError(
            f"Expected kind to be one of {sorted(HEADLINE_METRICS)}. Received: kind={kind!r}"
        )
    subtree = metrics
    served = next(
        (key for key in ("served_model", "attention_model") if isinstance(metrics.get(key), dict)),
        None,
    )
    if kind in TEXT_TASKS and served is not None:
        subtree = metrics[served]
    return find_metric(subtree, HEADLINE_METRICS[kind])
