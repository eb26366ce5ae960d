"""Metrics for the text models: accuracy, macro-F1, and out-of-scope detection.

Out-of-scope (OOS) detection uses the model's confidence (the largest class probability): a
message is out of scope when its confidence is below a threshold. `calibrate_oos_threshold`
chooses that threshold on *in-scope validation* data only (no OOS examples are needed): the
threshold that keeps `keep_rate` (default 95%) of in-scope validation messages, i.e. the
`(1 - keep_rate)` quantile of their confidences.

A figure that is undefined for the data (e.g. the AUROC of an evaluation without out-of-scope
texts) is `None`, never `NaN`: these dictionaries are written to `metrics.json`, and
`json.dumps` would write `NaN`, which is not JSON (RFC 8259) and which strict parsers
(JavaScript's `JSON.parse`, `jq`, Go, Java) reject; `None` is written as `null`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.metrics import accuracy_score, f1_score, roc_auc_score


def classification_metrics(
    true_labels: Sequence[str], predicted_labels: Sequence[str]
) -> dict[str, float]:
    """`{"accuracy", "macro_f1", "count"}` for string labels."""
    if len(true_labels) != len(predicted_labels):
        raise ValueError(
            "Expected as many predictions as labels. "
            f"Received: len(true_labels)={len(true_labels)}, "
            f"len(predicted_labels)={len(predicted_labels)}"
        )
    if not len(true_labels):
        raise ValueError(f"Expected at least one example. Received: len(true_labels)={0}")
    return {
        "accuracy": float(accuracy_score(true_labels, predicted_labels)),
        "macro_f1": float(f1_score(true_labels, predicted_labels, average="macro")),
        "count": int(len(true_labels)),
    }


def calibrate_oos_threshold(in_scope_confidences: np.ndarray, keep_rate: float = 0.95) -> float:
    """The confidence threshold that keeps `keep_rate` of in-scope validation examples.

    Args:
        in_scope_confidences: max class probability of in-scope validation texts, shape `(N,)`.
        keep_rate: share of in-scope examples that must stay at or above the threshold.
    """
    if not 0.0 < keep_rate <= 1.0:
        raise ValueError(f"Expected keep_rate in (0, 1]. Received: keep_rate={keep_rate!r}")
    confidences = np.asarray(in_scope_confidences, dtype="float64")
    if confidences.size == 0:
        raise ValueError(
            f"Expected at least one confidence. Received: in_scope_confidences={confidences!r}"
        )
    return float(np.quantile(confidences, 1.0 - keep_rate, method="lower"))


def oos_metrics(
    in_scope_confidences: np.ndarray,
    in_scope_correct: np.ndarray,
    out_of_scope_confidences: np.ndarray,
    threshold: float,
) -> dict[str, float | None]:
    """Out-of-scope detection figures at `threshold`, plus the threshold-free AUROC.

    Args:
        in_scope_confidences: confidences of in-scope test texts, shape `(N,)`.
        in_scope_correct: whether each in-scope text got the right intent, shape `(N,)`.
        out_of_scope_confidences: confidences of out-of-scope test texts, shape `(M,)`.
        threshold: texts with confidence below it are called out of scope.

    Returns:
        `auroc` (OOS vs in-scope, scored by `1 - confidence`), `in_scope_accuracy` (right intent
        *and* kept), `in_scope_kept`, `oos_recall`, `oos_precision`, `threshold`. A figure
        the data cannot define (no in-scope or no out-of-scope texts, nothing flagged) is
        `None` (written as JSON `null`), not `NaN` (not valid JSON; see the module docstring).
    """
    inside = np.asarray(in_scope_confidences, dtype="float64")
    outside = np.asarray(out_of_scope_confidences, dtype="float64")
    correct = np.asarray(in_scope_correct, dtype=bool)
    scores = np.concatenate([1.0 - inside, 1.0 - outside])
    is_oos = np.concatenate([np.zeros(len(inside)), np.ones(len(outside))])
    flagged_in = inside < threshold
    flagged_out = outside < threshold
    flagged = int(flagged_in.sum() + flagged_out.sum())
    return json_safe(
        {
            "auroc": float(roc_auc_score(is_oos, scores)) if len(inside) and len(outside) else None,
            "in_scope_accuracy": float(np.mean(correct & ~flagged_in)) if len(inside) else None,
            "in_scope_kept": float(np.mean(~flagged_in)) if len(inside) else None,
            "oos_recall": float(np.mean(flagged_out)) if len(outside) else None,
            "oos_precision": float(flagged_out.sum() / flagged) if flagged else None,
            "threshold": float(threshold),
        }
    )


def json_safe(value: Any) -> Any:
    """`value` with every non-finite float (`NaN`, `inf`) replaced by `None`, recursively.

    `json.dumps` writes non-finite floats as the bare words `NaN` / `Infinity`, which are not
    JSON; `None` becomes `null`, which every parser reads. Dicts, lists and tuples are copied.
    """
    if isinstance(value, dict):
        return {key: json_safe(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(item) for item in value]
    if isinstance(value, (float, np.floating)) and not math.isfinite(float(value)):
        return None
    return value


def evaluate_text_model(model_dir: str | Path, texts: Sequence[str], labels: Sequence[str]) -> dict:
    """Evaluate a trained model folder on labelled texts (labels unknown to the model count as
    out of scope for intent models)."""
    from models.text.inference import load_text_model

    model = load_text_model(model_dir)
    predictions = model.predict(list(texts))
    labels = [str(label) for label in labels]
    known = np.array([label in model.labels for label in labels])
    predicted = predictions["label"].tolist()
    result: dict = {"task": model.task}
    if known.any():
        result["in_scope"] = classification_metrics(
            [label for label, keep in zip(labels, known, strict=False) if keep],
            [label for label, keep in zip(predicted, known, strict=False) if keep],
        )
    if model.task == "intent":
        # oos_metrics reads "confidences" (low = out of scope): the negated OOS score
        confidence = -predictions["out_of_scope_score"].to_numpy()
        correct = np.array(predicted) == np.array(labels)
        result["out_of_scope"] = oos_metrics(
            confidence[known], correct[known], confidence[~known], -model.oos_threshold
        )
        result["out_of_scope"]["threshold"] = model.oos_threshold
        result["out_of_scope"]["oos_score"] = model.oos_score
        result["out_of_scope"]["oos_count"] = int((~known).sum())
    return json_safe(result)
