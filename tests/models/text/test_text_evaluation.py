import json

import numpy as np
import pytest

from models.text.evaluation import (
    calibrate_oos_threshold,
    classification_metrics,
    json_safe,
    oos_metrics,
)


def _strict_json(text: str):
    """`json.loads` that rejects `NaN`, `Infinity` and `-Infinity` like JSON.parse does."""

    def reject(constant):
        raise ValueError(f"Expected strict JSON. Received: constant={constant}")

    return json.loads(text, parse_constant=reject)


def test_classification_metrics():
    result = classification_metrics(["a", "a", "b", "b"], ["a", "b", "b", "b"])
    assert result["accuracy"] == 0.75 and result["count"] == 4
    assert result["macro_f1"] == pytest.approx((2 / 3 + 0.8) / 2)


def test_threshold_keeps_the_requested_share_of_in_scope_validation():
    confidences = np.linspace(0.01, 1.0, 100)
    threshold = calibrate_oos_threshold(confidences, keep_rate=0.95)
    assert np.mean(confidences >= threshold) >= 0.95
    assert np.mean(confidences >= threshold) <= 0.97
    assert calibrate_oos_threshold(confidences, keep_rate=1.0) == pytest.approx(0.01)


def test_oos_metrics_by_hand():
    result = oos_metrics(
        np.array([0.9, 0.8, 0.3]),
        np.array([True, False, True]),
        np.array([0.2, 0.6]),
        threshold=0.5,
    )
    assert result["in_scope_kept"] == pytest.approx(2 / 3)
    assert result["in_scope_accuracy"] == pytest.approx(1 / 3)  # right and kept: only 0.9
    assert result["oos_recall"] == 0.5
    assert result["oos_precision"] == 0.5  # flagged: 0.3 (in scope) and 0.2 (oos)
    assert result["auroc"] == pytest.approx(5 / 6)


def test_rejects_bad_arguments():
    with pytest.raises(ValueError, match="Received: keep_rate=0"):
        calibrate_oos_threshold(np.ones(3), keep_rate=0)
    with pytest.raises(ValueError, match="Received: in_scope_confidences="):
        calibrate_oos_threshold(np.array([]))
    with pytest.raises(
        ValueError, match="Received: len\\(true_labels\\)=1, len\\(predicted_labels\\)=2"
    ):
        classification_metrics(["a"], ["a", "b"])


def test_metrics_without_out_of_scope_texts_are_strict_json(tmp_path):
    # An intent evaluation without out-of-scope texts: AUROC, OOS recall are undefined.
    result = oos_metrics(np.array([0.9, 0.8]), np.array([True, True]), np.array([]), threshold=0.95)
    assert result["auroc"] is None and result["oos_recall"] is None
    path = tmp_path / "metrics.json"
    path.write_text(json.dumps({"evaluation": {"out_of_scope": result}}, indent=2))
    parsed = _strict_json(path.read_text())
    assert parsed["evaluation"]["out_of_scope"]["auroc"] is None
    assert parsed["evaluation"]["out_of_scope"]["in_scope_kept"] == 0.0


def test_json_safe_replaces_non_finite_numbers():
    value = {"a": float("nan"), "b": [np.float32("inf"), 1.5], "c": {"d": -float("inf")}}
    assert _strict_json(json.dumps(json_safe(value))) == {
        "a": None,
        "b": [None, 1.5],
        "c": {"d": None},
    }
