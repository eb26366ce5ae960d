import numpy as np
import pytest

from models.text.linear import (
    build_linear_text_classifier,
    fit_temperature,
    linear_probabilities,
)
from tests.text_model_fixtures import planted_texts


def test_linear_model_learns_planted_keywords_and_gives_probabilities():
    texts, labels, _ = planted_texts(200, seed=3)
    pipeline = build_linear_text_classifier().fit(texts, labels)
    test_texts, test_labels, _ = planted_texts(100, seed=4)
    names = sorted(set(labels))
    probabilities = linear_probabilities(pipeline, test_texts, names)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, atol=1e-5)
    accuracy = np.mean(np.array(names)[probabilities.argmax(axis=1)] == np.array(test_labels))
    assert accuracy >= 0.9


def test_temperature_sharpens_confident_correct_decisions():
    decisions = np.array([[2.0, -1.0], [-1.5, 1.0]])
    assert fit_temperature(decisions, np.array([0, 1])) < 0.5


def test_rejects_bad_regularization():
    with pytest.raises(ValueError, match="Received: regularization=0"):
        build_linear_text_classifier(regularization=0)
