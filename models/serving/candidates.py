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

from models.serving.gate import DEFAULT_SCORE_TOLERANCE, GateCheck, compare_rankings
from models.serving.publish import ServingCandidate
from models.serving.recommender_signature import (
    RecommenderServingSpec,
    export_recommender_savedmodel,
    pad_histories,
)

GATE_BATCH_SIZE = 256


def serve_recommendations(
    signature: Any, histories: Sequence[Sequence[str]], k: int
) -> tuple[list[list[str]], np.ndarray, np.ndarray]:
    """Call a recommender signature the way a client does; `(item_ids, scores (B, K), attention (B, W))`."""
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
    keras_recommend: Callable[[list[list[str]], int], tuple],
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


def recommender_candidate(
    model: Any,
    spec: RecommenderServingSpec,
    histories: Sequence[Sequence[str]],
    keras_recommend: Callable[[list[list[str]], int], tuple],
    metrics: dict[str, Any],
    metric: str = "ndcg@10",
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
        write_savedmodel=lambda export_dir, name: export_recommender_savedmodel(
            model, spec, export_dir, name, metadata={"source": source}, jit_compile=jit_compile
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


def held_out_histories(
    data_dir: str | Path, num_users: int = 256, seed: int = 0
) -> list[list[str]]:
    """Test histories (`item_ids[:test_position]`) of up to `num_users` users of an events data run.

    Users are drawn with `seed` among those with a test target and a non-empty history.
    """
    import pyarrow.parquet as pq

    sequences = Path(data_dir) / "sequences"
    if not sequences.is_dir():
        raise FileNotFoundError(
            f"Expected an events data run with sequences/. Received: data={str(data_dir)!r}"
        )
    table = pq.read_table(sequences, columns=["item_ids", "test_position"]).to_pydict()
    histories = [
        list(items[:position])
        for items, position in zip(table["item_ids"], table["test_position"], strict=True)
        if position and position > 0
    ]
    if not histories:
        raise ValueError(
            f"Expected users with a test target in the data run. Received: data={str(data_dir)!r}"
        )
    chosen = np.random.default_rng(seed).permutation(len(histories))[:num_users]
    return [histories[index] for index in sorted(chosen)]


def _data_run_of(model_dir: Path) -> Path | None:
    recorded = _read_json(model_dir / "data_run.json").get("data_run")
    return Path(recorded) if recorded and (Path(recorded) / "sequences").is_dir() else None


def recommender_spec(recommender: Any) -> RecommenderServingSpec:
    """The serving spec of a `models.recommender.inference.Recommender` (its index conventions)."""
    from models.recommender.sequence_data import ITEM_INDEX_OFFSET, OOV_INDEX, PADDING_INDEX

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


def keras_recommend_function(recommender: Any) -> Callable[[list[list[str]], int], tuple]:
    """The application's Keras path: `Recommender.recommend` -> `(item_ids, scores, attention)`."""

    def keras_recommend(histories: list[list[str]], k: int) -> tuple:
        result = recommender.recommend(histories, k=min(k, len(recommender.item_ids)))
        attention = result.attention.mean(axis=1) if result.attention.shape[1] else None
        return result.item_ids, result.scores, attention

    return keras_recommend


def recommender_candidate_from_model_dir(
    model_dir: str | Path,
    data_dir: str | Path | None = None,
    num_users: int = 256,
    seed: int = 0,
    k: int = 10,
    score_tolerance: float = DEFAULT_SCORE_TOLERANCE,
    metric: str = "ndcg@10",
    jit_compile: bool = False,
) -> ServingCandidate:
    """A candidate from a trained recommender folder; held-out users from `data_dir` (an events
    data run; default: the run recorded in the folder's data_run.json)."""
    from models.recommender.inference import load_recommender

    model_dir = Path(model_dir)
    recommender = load_recommender(model_dir)
    data_dir = Path(data_dir) if data_dir is not None else _data_run_of(model_dir)
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
        _read_json(model_dir / "metrics.json"),
        metric=metric,
        k=k,
        score_tolerance=score_tolerance,
        source=str(model_dir),
        jit_compile=jit_compile,
    )


def compare_text_with_keras(
    loaded: Any, texts: Sequence[str], text_model: Any, tolerance: float = DEFAULT_SCORE_TOLERANCE
) -> GateCheck:
    """Served labels, probabilities, tokens and token attention against `TextModel.predict`
    (the Keras attention model alone: the served graph has no linear ensemble member)."""
    import tensorflow as tf

    signature = loaded.signatures["serving_default"]
    mismatched_labels = mismatched_tokens = 0
    probability_gap = attention_gap = 0.0
    for start in range(0, len(texts), GATE_BATCH_SIZE):
        batch = [str(text) for text in texts[start : start + GATE_BATCH_SIZE]]
        served = signature(text=tf.constant(batch, tf.string))
        expected = text_model.predict(batch)
        probabilities = np.stack(expected["probabilities"].to_numpy())
        probability_gap = max(
            probability_gap, float(np.abs(served["probabilities"].numpy() - probabilities).max())
        )
        served_labels = [label.decode("utf-8") for label in served["label"].numpy()]
        for row, (label, tokens, weights) in enumerate(
            zip(expected["label"], expected["tokens"], expected["token_attention"], strict=True)
        ):
            near_tie = np.ptp(np.sort(probabilities[row])[-2:]) <= tolerance
            mismatched_labels += int(served_labels[row] != label and not near_tie)
            served_tokens = [
                token.decode("utf-8") for token in served["tokens"].numpy()[row][: len(tokens)]
            ]
            if served_tokens != list(tokens):
                mismatched_tokens += 1
                continue
            if tokens:
                gap = np.abs(
                    served["token_attention"].numpy()[row][: len(tokens)] - np.asarray(weights)
                )
                attention_gap = max(attention_gap, float(gap.max()))
    details = {
        "texts": len(texts),
        "texts_with_different_label": mismatched_labels,
        "texts_with_different_tokens": mismatched_tokens,
        "max_abs_probability_difference": probability_gap,
        "max_abs_attention_difference": attention_gap,
        "tolerance": tolerance,
    }
    problems = []
    if mismatched_labels:
        problems.append(
            f"label differs from the Keras model for {mismatched_labels} of {len(texts)} texts"
        )
    if mismatched_tokens:
        problems.append(
            f"in-graph tokens differ from the Python tokeniser for {mismatched_tokens} texts"
        )
    if probability_gap > tolerance or attention_gap > tolerance:
        problems.append(
            f"probabilities / attention differ from the Keras model by up to "
            f"{max(probability_gap, attention_gap):.3g} (tolerance {tolerance:g})"
        )
    return GateCheck("matches_keras", not problems, "; ".join(problems), details)


def held_out_texts(data: str | Path, num_texts: int = 256, seed: int = 0) -> list[str]:
    """Up to `num_texts` texts from a news/chats data run (`texts/`) or a CSV / JSON Lines / Parquet file."""
    import pandas as pd

    path = Path(data)
    if (path / "texts").is_dir():
        frame = pd.read_parquet(path / "texts", columns=["text"])
    elif path.is_file() and path.suffix in (".csv", ".jsonl", ".json", ".parquet"):
        frame = (
            pd.read_csv(path)
            if path.suffix == ".csv"
            else pd.read_parquet(path)
            if path.suffix == ".parquet"
            else pd.read_json(path, lines=path.suffix == ".jsonl")
        )
    else:
        raise FileNotFoundError(
            "Expected a news/chats data run with texts/ or a CSV/JSONL/Parquet "
            f"file with a text column. Received: data={str(data)!r}"
        )
    if "text" not in frame.columns:
        raise ValueError(f"Expected a 'text' column. Received: columns={list(frame.columns)}")
    texts = [str(text) for text in frame["text"].dropna()]
    if not texts:
        raise ValueError(f"Expected at least one text. Received: data={str(data)!r}")
    chosen = np.random.default_rng(seed).permutation(len(texts))[:num_texts]
    return [texts[index] for index in sorted(chosen)]


TEXT_HEADLINE_METRICS = {"sentiment": "macro_f1", "intent": "accuracy"}


def text_candidate_from_model_dir(
    model_dir: str | Path,
    data: str | Path | None = None,
    num_texts: int = 256,
    seed: int = 0,
    tolerance: float = DEFAULT_SCORE_TOLERANCE,
    metric: str | None = None,
) -> ServingCandidate:
    """A candidate from a trained text model folder; held-out texts from `data` (default: the
    data run recorded in the folder's data_run.json)."""
    from models.serving.text_signature import export_text_savedmodel, text_spec_from_model
    from models.text.inference import load_text_model

    model_dir = Path(model_dir)
    text_model = load_text_model(model_dir, use_ensemble=False)
    if data is None:
        recorded = _read_json(model_dir / "data_run.json").get("input")
        data = recorded if recorded and Path(recorded).exists() else None
    if data is None:
        raise FileNotFoundError(
            "Expected held-out texts: pass --data (a news/chats data run or a file "
            f"with a text column). Received: model={str(model_dir)!r}"
        )
    texts = held_out_texts(data, num_texts=num_texts, seed=seed)
    spec = text_spec_from_model(text_model)
    metrics = _read_json(model_dir / "metrics.json")
    # The served graph is the attention model alone: gate on its own metrics.
    served_metrics = metrics.get("attention_model", metrics) if isinstance(metrics, dict) else {}
    return ServingCandidate(
        kind=spec.task,
        write_savedmodel=lambda export_dir, name: export_text_savedmodel(
            text_model.model, spec, export_dir, name, metadata={"source": str(model_dir)}
        ),
        compare_with_keras=lambda loaded: compare_text_with_keras(
            loaded, texts, text_model, tolerance
        ),
        latency_inputs={"text": np.array(texts[:1], dtype=object)},
        metrics=served_metrics,
        metric=metric or TEXT_HEADLINE_METRICS[spec.task],
        source=str(model_dir),
    )


def model_kind(model_dir: str | Path) -> str:
    """`recommender`, `sentiment` or `intent`, from the files of a trained model folder."""
    model_dir = Path(model_dir)
    if (model_dir / "item_vocab.txt").exists():
        return "recommender"
    task = _read_json(model_dir / "config.json").get("task")
    if (model_dir / "labels.json").exists() and task in TEXT_HEADLINE_METRICS:
        return task
    raise FileNotFoundError(
        "Expected a trained model folder (item_vocab.txt for a recommender, "
        f"labels.json + config.json for a text model). Received: model={str(model_dir)!r}"
    )


def candidate_from_model_dir(
    model_dir: str | Path,
    data: str | Path | None = None,
    num_requests: int = 256,
    seed: int = 0,
    score_tolerance: float = DEFAULT_SCORE_TOLERANCE,
    jit_compile: bool = False,
) -> ServingCandidate:
    """The gate candidate of any trained model folder (kind from its files); `jit_compile`
    (XLA-compiled numeric core) applies to recommenders only."""
    if model_kind(model_dir) == "recommender":
        return recommender_candidate_from_model_dir(
            model_dir,
            data,
            num_users=num_requests,
            seed=seed,
            score_tolerance=score_tolerance,
            jit_compile=jit_compile,
        )
    _reject_xla_for_text_models(model_dir, jit_compile)
    return text_candidate_from_model_dir(
        model_dir, data, num_texts=num_requests, seed=seed, tolerance=score_tolerance
    )


def _reject_xla_for_text_models(model_dir: str | Path, jit_compile: bool) -> None:
    if jit_compile:
        raise ValueError(
            "Expected --xla only for a recommender. Received: a text model folder "
            f"{str(model_dir)!r}"
        )


def savedmodel_writer(
    model_dir: str | Path, kind: str | None = None, jit_compile: bool = False
) -> tuple[str, Callable[[Path, str], Any]]:
    """`(kind, write(export_dir, name))` for a trained model folder: export without the gate
    (`jit_compile`: XLA-compiled numeric core, recommenders only)."""
    model_dir = Path(model_dir)
    found = model_kind(model_dir)
    if kind is not None and kind != found:
        raise ValueError(
            f"Expected a {kind} model folder. Received: model={str(model_dir)!r} (a {found} model)"
        )
    if found == "recommender":
        from models.recommender.inference import load_recommender

        recommender = load_recommender(model_dir)
        return found, lambda export_dir, name: export_recommender_savedmodel(
            recommender.model,
            recommender_spec(recommender),
            export_dir,
            name,
            metadata={"source": str(model_dir), "metrics": _read_json(model_dir / "metrics.json")},
            jit_compile=jit_compile,
        )
    _reject_xla_for_text_models(model_dir, jit_compile)
    from models.serving.text_signature import export_text_savedmodel, text_spec_from_model
    from models.text.inference import load_text_model

    text_model = load_text_model(model_dir, use_ensemble=False)
    metrics = _read_json(model_dir / "metrics.json")
    return found, lambda export_dir, name: export_text_savedmodel(
        text_model.model,
        text_spec_from_model(text_model),
        export_dir,
        name,
        metadata={"source": str(model_dir), "metrics": metrics.get("attention_model", metrics)},
    )


def _read_json(path: Path) -> dict[str, Any]:
    import json

    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
