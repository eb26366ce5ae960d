"""Build `ServingCandidate`s: what the gate runs for a recommender or a text model.

`recommender_candidate` works for any Keras model with `score_last` plus a reference
`keras_recommend(histories, k) -> (item_ids, scores)` (the Keras path the application would
use); `candidate_from_model_dir` reads a trained model folder (see docs/CONTRACTS.md) and picks
the kind from its files.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from models.publish import ServingCandidate
from models.recommender_serving import (
    RecommenderServingSpec,
    export_recommender_savedmodel,
    pad_histories,
)
from models.serving_gate import GateCheck, compare_rankings

DEFAULT_SCORE_TOLERANCE = 1e-3
GATE_BATCH_SIZE = 256


def serve_recommendations(signature: Any, histories: Sequence[Sequence[str]], k: int
                          ) -> tuple[list[list[str]], np.ndarray, np.ndarray]:
    """Call a recommender signature the way a client does; `(item_ids, scores (B, K), attention (B, W))`."""
    import tensorflow as tf

    outputs = signature(history=tf.constant(pad_histories(histories), tf.string),
                        k=tf.fill([len(histories)], tf.constant(k, tf.int32)))
    item_ids = [[item.decode("utf-8") for item in row] for row in outputs["item_ids"].numpy()]
    return item_ids, outputs["scores"].numpy(), outputs["attention"].numpy()


def compare_recommender_with_keras(loaded: Any, histories: Sequence[Sequence[str]], k: int,
                                   keras_recommend: Callable[[list[list[str]], int], tuple],
                                   score_tolerance: float = DEFAULT_SCORE_TOLERANCE) -> GateCheck:
    """Run `serving_default` on `histories` (in batches) and compare with the Keras path."""
    signature = loaded.signatures["serving_default"]
    served_ids, served_scores, keras_ids, keras_scores = [], [], [], []
    for start in range(0, len(histories), GATE_BATCH_SIZE):
        batch = [list(history) for history in histories[start:start + GATE_BATCH_SIZE]]
        ids, scores, _ = serve_recommendations(signature, batch, k)
        served_ids += ids
        served_scores.append(scores)
        reference_ids, reference_scores = keras_recommend(batch, k)[:2]
        keras_ids += [list(row) for row in reference_ids]
        keras_scores.append(np.asarray(reference_scores, dtype="float64"))
    return compare_rankings(served_ids, np.concatenate(served_scores), keras_ids,
                            np.concatenate(keras_scores), score_tolerance)


def recommender_candidate(model: Any, spec: RecommenderServingSpec,
                          histories: Sequence[Sequence[str]],
                          keras_recommend: Callable[[list[list[str]], int], tuple],
                          metrics: dict[str, float], metric: str = "ndcg@10", k: int = 10,
                          score_tolerance: float = DEFAULT_SCORE_TOLERANCE,
                          source: str = "") -> ServingCandidate:
    """A recommender candidate gated on `histories` (held-out users' histories, non-empty)."""
    if not histories:
        raise ValueError("Expected at least one held-out history for the gate. Received: histories=[]")
    latency_history = list(histories[0])[-spec.max_length:]
    return ServingCandidate(
        kind="recommender",
        write_savedmodel=lambda export_dir, name: export_recommender_savedmodel(
            model, spec, export_dir, name, metadata={"source": source}),
        compare_with_keras=lambda loaded: compare_recommender_with_keras(
            loaded, histories, k, keras_recommend, score_tolerance),
        latency_inputs={"history": pad_histories([latency_history]),
                        "k": np.array([k], dtype="int32")},
        metrics=dict(metrics), metric=metric, source=source)


def find_metric(metrics: dict[str, Any], metric: str) -> float | None:
    """Find `metric` in a (possibly nested) metrics.json, preferring the full-ranking protocol.

    Looks for a key equal to `metric` (case-insensitive) at any depth; when several match,
    one under a path mentioning `full` wins over `sampled` ones, then the shallowest.
    """
    found: list[tuple[int, int, float]] = []

    def walk(node: Any, path: tuple[str, ...]) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if str(key).lower() == metric.lower() and isinstance(value, int | float):
                    text = "/".join(path).lower()
                    preference = 0 if "full" in text else 2 if "sampl" in text else 1
                    found.append((preference, len(path), float(value)))
                else:
                    walk(value, (*path, str(key)))

    walk(metrics, ())
    return min(found)[2] if found else None


def _read_json(path: Path) -> dict[str, Any]:
    import json

    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
