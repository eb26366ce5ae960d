import numpy as np
import pytest

from models.text.out_of_scope import (
    MahalanobisDistance,
    calibrate_score_threshold,
    fit_class_statistics,
)


def test_mahalanobis_distance_to_the_nearest_class_mean():
    rng = np.random.default_rng(0)
    pooled = np.concatenate([rng.normal(0, 1, (200, 2)), rng.normal(10, 1, (200, 2))])
    labels = np.repeat([0, 1], 200)
    means, precision = fit_class_statistics(pooled, labels, num_classes=3)
    np.testing.assert_allclose(means[:2], [[0, 0], [10, 10]], atol=0.3)
    layer = MahalanobisDistance(3, 2)
    layer.build((None, 2))
    layer.set_statistics(means, precision)
    distances = np.asarray(layer(np.array([[0.0, 0.0], [10.0, 10.0], [5.0, -20.0]], "float32")))
    assert distances[0] < 1 and distances[1] < 1 and distances[2] > 100  # far from both
    with pytest.raises(ValueError, match="Received: means=\\(2, 2\\)"):
        layer.set_statistics(means[:2], precision)


def test_threshold_keeps_the_share_of_in_scope_scores():
    scores = np.linspace(0, 1, 101)
    threshold = calibrate_score_threshold(scores, 0.95)
    assert np.mean(scores <= threshold) >= 0.95 and threshold == pytest.approx(0.95)
    with pytest.raises(ValueError, match="Received: keep_rate=0"):
        calibrate_score_threshold(scores, 0)
    with pytest.raises(ValueError, match="Expected at least one score"):
        calibrate_score_threshold(np.array([]))
