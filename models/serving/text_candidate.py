"""A text model (sentiment, intent) as a gate candidate: export it, check it against Keras.

The served graph is the whole wide-and-deep Keras model, so the reference is
`load_text_model(model_dir)` (what `seqlens score` runs) and the gate reads the served model's
metrics (`served_text_metrics`). `text_writer` is the exporter both the candidate and the
ungated `seqlens export sentiment|intent` use.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from models.serving.candidate import GATE_BATCH_SIZE, SavedModelWriter, ServingCandidate
from models.serving.gate import (
    DEFAULT_GATE_REQUESTS,
    DEFAULT_SCORE_TOLERANCE,
    HEADLINE_METRICS,
    GateCheck,
)
from models.serving.held_out import held_out_texts, read_json, recorded_text_data
from models.serving.text_signature import (
    TextServingSpec,
    export_text_savedmodel,
    text_spec_from_model,
)
from models.text.inference import load_text_model


def compare_text_with_keras(
    loaded: Any, texts: Sequence[str], text_model: Any, tolerance: float = DEFAULT_SCORE_TOLERANCE
) -> GateCheck:
    """Served labels, probabilities, tokens, token attention and wide contributions against
    `TextModel.predict` (the same Keras graph).

    A label may differ only where the Keras model's two best probabilities are within
    `tolerance` (a near tie); tokens must be identical; probabilities, attention and
    contributions within `tolerance`.
    """
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
        for row, (label, tokens, weights, contributions) in enumerate(
            zip(
                expected["label"],
                expected["tokens"],
                expected["token_attention"],
                expected["wide_contributions"],
                strict=True,
            )
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
                if served_labels[row] == label:  # contributions towards the same class
                    gap = np.abs(
                        served["wide_contributions"].numpy()[row][: len(tokens)]
                        - np.asarray(contributions)
                    )
                    attention_gap = max(attention_gap, float(gap.max()))
    details = {
        "texts": len(texts),
        "texts_with_different_label": mismatched_labels,
        "texts_with_different_tokens": mismatched_tokens,
        "max_abs_probability_difference": probability_gap,
        "max_abs_attention_or_contribution_difference": attention_gap,
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
            f"probabilities / attention / wide contributions differ from the Keras model by up to "
            f"{max(probability_gap, attention_gap):.3g} (tolerance {tolerance:g})"
        )
    return GateCheck("matches_keras", not problems, "; ".join(problems), details)


def served_text_metrics(metrics: Any) -> dict[str, Any]:
    """The metrics of the graph that is served: a text model folder's `served_model` (the
    whole document when it has none; `{}` when it is not a JSON object)."""
    if not isinstance(metrics, dict):
        return {}
    return metrics.get("served_model", metrics)


def text_writer(
    model: Any, spec: TextServingSpec, metadata: dict[str, Any] | None = None
) -> SavedModelWriter:
    """`write(export_dir, name)` exporting the Keras wide-and-deep text `model` with `spec`
    (`export_text_savedmodel`); `metadata` goes to `assets.extra/seqlens_export.json`."""
    return lambda export_dir, name: export_text_savedmodel(
        model, spec, export_dir, name, metadata=metadata
    )


def text_writer_from_model_dir(model_dir: str | Path) -> SavedModelWriter:
    """The exporter of a trained text model folder, with its served metrics as metadata."""
    model_dir = Path(model_dir)
    text_model = load_text_model(model_dir)
    metrics = served_text_metrics(read_json(model_dir / "metrics.json"))
    return text_writer(
        text_model.model,
        text_spec_from_model(text_model),
        metadata={"source": str(model_dir), "metrics": metrics},
    )


def text_candidate_from_model_dir(
    model_dir: str | Path,
    data: str | Path | None = None,
    num_texts: int = DEFAULT_GATE_REQUESTS,
    seed: int = 0,
    tolerance: float = DEFAULT_SCORE_TOLERANCE,
    metric: str | None = None,
) -> ServingCandidate:
    """A candidate from a trained text model folder; held-out texts from `data` (default: the
    data run recorded in the folder's data_run.json); `metric` defaults to the task's headline
    metric (`gate.HEADLINE_METRICS`)."""
    model_dir = Path(model_dir)
    text_model = load_text_model(model_dir)
    if data is None:
        data = recorded_text_data(model_dir)
    if data is None:
        raise FileNotFoundError(
            "Expected held-out texts: pass --data (a news/chats data run or a file "
            f"with a text column). Received: model={str(model_dir)!r}"
        )
    texts = held_out_texts(data, num_texts=num_texts, seed=seed)
    spec = text_spec_from_model(text_model)
    return ServingCandidate(
        kind=spec.task,
        write_savedmodel=text_writer(text_model.model, spec, metadata={"source": str(model_dir)}),
        compare_with_keras=lambda loaded: compare_text_with_keras(
            loaded, texts, text_model, tolerance
        ),
        latency_inputs={"text": np.array(texts[:1], dtype=object)},
        metrics=served_text_metrics(read_json(model_dir / "metrics.json")),
        metric=metric or HEADLINE_METRICS[spec.task],
        source=str(model_dir),
    )
