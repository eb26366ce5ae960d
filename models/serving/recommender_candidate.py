"""A recommender as a gate candidate: export it, and check the SavedModel against Keras.

`recommender_candidate` works for any Keras model with `encode_last` / `score_items` plus a
reference `keras_recommend(histories, k) -> (item_ids, scores[, attention])` (the Keras path
the application would use). `recommender_candidate_from_model_dir` builds one from a trained
recommender folder (see docs/CONTRACTS.md), with `Recommender.recommend` as the reference and
held-out users of its data run. `recommender_writer` is the exporter both the candidate and the
ungated `seqlens export recommender` use.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from models.recommender.inference import load_recommender
from models.recommender.sequence_data import ITEM_INDEX_OFFSET, OOV_INDEX, PADDING_INDEX
from models.serving.candidate import GATE_BATCH_SIZE, SavedModelWriter, ServingCandidate
from models.serving.gate import (
    DEFAULT_GATE_REQUESTS,
    DEFAULT_SCORE_TOLERANCE,
    HEADLINE_METRICS,
    GateCheck,
    compare_rankings,
)
from models.serving.held_out import held_out_histories, read_json, recorded_data_run
from models.serving.recommender_signature import (
    RecommenderServingSpec,
    export_recommender_savedmodel,
    pad_histories,
)

KerasRecommend = Callable[[list[list[str]], int], tuple]


def serve_recommendations(
    signature: Any, histories: Sequence[Sequence[str]], k: int
) -> tuple[list[list[str]], np.ndarray, np.ndarray]:
    """Call a recommender signature the way a client does.

    Returns:
        `(item_ids, scores, attention)`: `B` lists of `K` ids, `(B, K)` scores and `(B, W)`
        attention over the padded histories.
    """
    import tensorflow as tf

    outputs = signature(
        history=tf.constant(pad_histories(histories), tf.string),
        k=tf.fill([len(histories)], tf.constant(k, tf.int32)),
    )
    item_ids = [[item.decode("utf-8") for item in row] for row in outputs["item_ids"].numpy()]
    return item_ids, outputs["scores"].numpy(), outputs["attention"].numpy()


def compare_recommender_with_keras(
    loaded: Any,
    histories: Sequence[Sequence[str]],
    k: int,
    keras_recommend: KerasRecommend,
    score_tolerance: float = DEFAULT_SCORE_TOLERANCE,
    max_length: int | None = None,
) -> GateCheck:
    """Run `serving_default` on `histories` (in batches) and compare with the Keras path.

    With `max_length`, both sides get each history's most recent `max_length` items (what the
    model reads): the SavedModel also excludes older history items from the top-k, which
    `Recommender.recommend` does not, so longer histories would differ by design.

    `keras_recommend(histories, k)` returns `(item_ids, scores)` or `(item_ids, scores,
    attention)` with `attention` `(B, T)` (averaged over heads, left-padded: a row's last
    `min(len(history), max_length)` columns belong to its most recent items); when given,
    the served attention must agree within `score_tolerance` too.
    """
    signature = loaded.signatures["serving_default"]
    served_ids, served_scores, keras_ids, keras_scores = [], [], [], []
    attention_difference: float | None = None
    for start in range(0, len(histories), GATE_BATCH_SIZE):
        batch = [
            list(history)[-max_length:] if max_length else list(history)
            for history in histories[start : start + GATE_BATCH_SIZE]
        ]
        ids, scores, served_attention = serve_recommendations(signature, batch, k)
        served_ids += ids
        served_scores.append(scores)
        reference = keras_recommend(batch, k)
        keras_ids += [list(row) for row in reference[0]]
        keras_scores.append(np.asarray(reference[1], dtype="float64"))
        if len(reference) > 2 and reference[2] is not None:
            difference = _attention_difference(batch, served_attention, np.asarray(reference[2]))
            attention_difference = max(attention_difference or 0.0, difference)
    check = compare_rankings(
        served_ids,
        np.concatenate(served_scores),
        keras_ids,
        np.concatenate(keras_scores),
        score_tolerance,
    )
    check.details["max_abs_attention_difference"] = attention_difference
    if check.passed and attention_difference is not None and attention_difference > score_tolerance:
        check.passed = False
        check.reason = (
            f"SavedModel attention differs from the Keras model by up to "
            f"{attention_difference:.3g} (tolerance {score_tolerance:g})"
        )
    return check


def _attention_difference(
    histories: list[list[str]], served: np.ndarray, reference: np.ndarray
) -> float:
    """Largest gap between served `(B, W)` and reference `(B, T)` attention on the kept items."""
    largest = 0.0
    for row, history in enumerate(histories):
        present = len(history)
        kept = min(present, reference.shape[1])
        if kept:
            gap = np.abs(served[row, present - kept : present] - reference[row, -kept:])
            largest = max(largest, float(gap.max()))
    return largest


def recommender_writer(
    model: Any,
    spec: RecommenderServingSpec,
    metadata: dict[str, Any] | None = None,
    jit_compile: bool = False,
) -> SavedModelWriter:
    """`write(export_dir, name)` exporting `model` with `spec` (`export_recommender_savedmodel`);
    `metadata` goes to `assets.extra/seqlens_export.json`, `jit_compile` compiles the numeric
    core with XLA."""
    return lambda export_dir, name: export_recommender_savedmodel(
        model, spec, export_dir, name, metadata=metadata, jit_compile=jit_compile
    )


def recommender_candidate(
    model: Any,
    spec: RecommenderServingSpec,
    histories: Sequence[Sequence[str]],
    keras_recommend: KerasRecommend,
    metrics: dict[str, Any],
    metric: str = HEADLINE_METRICS["recommender"],
    k: int = 10,
    score_tolerance: float = DEFAULT_SCORE_TOLERANCE,
    source: str = "",
    jit_compile: bool = False,
) -> ServingCandidate:
    """A recommender candidate gated on `histories` (held-out users' histories, non-empty);
    `jit_compile` exports the numeric core compiled by XLA."""
    if not histories:
        raise ValueError(
            "Expected at least one held-out history for the gate. Received: histories=[]"
        )
    latency_history = list(histories[0])[-spec.max_length :]
    return ServingCandidate(
        kind="recommender",
        write_savedmodel=recommender_writer(
            model, spec, metadata={"source": source}, jit_compile=jit_compile
        ),
        compare_with_keras=lambda loaded: compare_recommender_with_keras(
            loaded, histories, k, keras_recommend, score_tolerance, spec.max_length
        ),
        latency_inputs={
            "history": pad_histories([latency_history]),
            "k": np.array([k], dtype="int32"),
        },
        metrics=dict(metrics),
        metric=metric,
        source=source,
    )


def recommender_spec(recommender: Any) -> RecommenderServingSpec:
    """The serving spec of a `models.recommender.inference.Recommender` (its index conventions)."""
    specials = [f"[seqlens:reserved-{index}]" for index in range(ITEM_INDEX_OFFSET)]
    specials[PADDING_INDEX], specials[OOV_INDEX] = "[seqlens:padding]", "[seqlens:oov]"
    return RecommenderServingSpec(
        item_vocabulary=(*specials, *recommender.item_ids),
        max_length=recommender.max_length,
        padding_index=PADDING_INDEX,
        oov_index=OOV_INDEX,
        non_item_indices=(PADDING_INDEX, OOV_INDEX),
        padding_side="left",
    )


def keras_recommend_function(recommender: Any) -> KerasRecommend:
    """The application's Keras path: `Recommender.recommend` -> `(item_ids, scores, attention)`."""

    def keras_recommend(histories: list[list[str]], k: int) -> tuple:
        result = recommender.recommend(histories, k=min(k, len(recommender.item_ids)))
        attention = result.attention.mean(axis=1) if result.attention.shape[1] else None
        return result.item_ids, result.scores, attention

    return keras_recommend


def recommender_writer_from_model_dir(
    model_dir: str | Path, jit_compile: bool = False
) -> SavedModelWriter:
    """The exporter of a trained recommender folder, with its metrics.json as metadata."""
    model_dir = Path(model_dir)
    recommender = load_recommender(model_dir)
    return recommender_writer(
        recommender.model,
        recommender_spec(recommender),
        metadata={"source": str(model_dir), "metrics": read_json(model_dir / "metrics.json")},
        jit_compile=jit_compile,
    )


def recommender_candidate_from_model_dir(
    model_dir: str | Path,
    data_dir: str | Path | None = None,
    num_users: int = DEFAULT_GATE_REQUESTS,
    seed: int = 0,
    k: int = 10,
    score_tolerance: float = DEFAULT_SCORE_TOLERANCE,
    metric: str = HEADLINE_METRICS["recommender"],
    jit_compile: bool = False,
) -> ServingCandidate:
    """A candidate from a trained recommender folder; held-out users from `data_dir` (an events
    data run; default: the run recorded in the folder's data_run.json)."""
    model_dir = Path(model_dir)
    recommender = load_recommender(model_dir)
    data_dir = Path(data_dir) if data_dir is not None else recorded_data_run(model_dir)
    if data_dir is None:
        raise FileNotFoundError(
            "Expected held-out users: pass --data (an events data run) or a model "
            f"folder whose data_run.json names one. Received: model={str(model_dir)!r}"
        )
    histories = held_out_histories(data_dir, num_users=num_users, seed=seed)
    return recommender_candidate(
        recommender.model,
        recommender_spec(recommender),
        histories,
        keras_recommend_function(recommender),
        read_json(model_dir / "metrics.json"),
        metric=metric,
        k=k,
        score_tolerance=score_tolerance,
        source=str(model_dir),
        jit_compile=jit_compile,
    )
