import numpy as np
import pytest

from models.text.evaluation import calibrate_oos_threshold, classification_metrics, oos_metrics


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
