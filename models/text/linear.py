"""The TF-IDF linear text classifier (scikit-learn): the baseline the served model must beat.

It is not served and not part of training: the served model's wide branch
(`models.text.wide_layer`) computes the same kind of features inside the Keras graph.
bench/text_models.py trains this baseline in the same run as the served model.

Word 1-2-grams + character 2-5-grams (within word boundaries), sublinear TF-IDF, a linear SVM
(scikit-learn `LinearSVC`, one-vs-rest; several times faster than logistic regression here and
as accurate). Probabilities are `softmax(decision_function / temperature)`, the temperature
fitted by minimising the log-loss on held-out data (`fit_temperature`). Texts are normalised with
the shared `pipeline.text_normalization.normalize_text` first, so cashtags, amounts and negations
are treated as in the attention model.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.pipeline import Pipeline, make_union
from sklearn.svm import LinearSVC

from pipeline.text_normalization import normalize_text


def build_linear_text_classifier(regularization: float = 0.5, seed: int = 42) -> Pipeline:
    """An unfitted TF-IDF (word 1-2 + char 2-5) + linear SVM pipeline.

    Args:
        regularization: inverse L2 strength `C` of the SVM.
        seed: random seed of the solver.
    """
    if regularization <= 0:
        raise ValueError(
            f"Expected regularization > 0. Received: regularization={regularization!r}"
        )
    features = make_union(
        TfidfVectorizer(
            preprocessor=normalize_text,
            ngram_range=(1, 2),
            sublinear_tf=True,
            token_pattern=r"[^ ]+",
            dtype=np.float32,
        ),
        TfidfVectorizer(
            preprocessor=normalize_text,
            analyzer="char_wb",
            ngram_range=(2, 5),
            sublinear_tf=True,
            min_df=2,
            dtype=np.float32,
        ),
    )
    classifier = LinearSVC(C=regularization, random_state=seed)
    return Pipeline([("features", features), ("classifier", classifier)])


def linear_decisions(pipeline: Pipeline, texts: Sequence[str], labels: Sequence[str]) -> np.ndarray:
    """Decision values `(N, C)` in the order of `labels` (-10 for classes never seen)."""
    raw = pipeline.decision_function(list(texts))
    if raw.ndim == 1:  # two classes: one column for classes_[1]
        raw = np.stack([-raw, raw], axis=1)
    columns = {label: index for index, label in enumerate(pipeline.classes_)}
    decisions = np.full((len(texts), len(labels)), -10.0, dtype="float64")
    for target, label in enumerate(labels):
        if label in columns:
            decisions[:, target] = raw[:, columns[label]]
    return decisions


def softmax_with_temperature(decisions: np.ndarray, temperature: float) -> np.ndarray:
    """`softmax(decisions / temperature)` over the last axis, shape kept."""
    scaled = decisions / temperature
    scaled = scaled - scaled.max(axis=-1, keepdims=True)
    exponentials = np.exp(scaled)
    return (exponentials / exponentials.sum(axis=-1, keepdims=True)).astype("float32")


def fit_temperature(decisions: np.ndarray, label_ids: np.ndarray) -> float:
    """The temperature (log-spaced grid) that minimises the log-loss of `label_ids`."""
    best_temperature, best_loss = 1.0, np.inf
    for temperature in np.geomspace(0.02, 2.0, 41):
        probabilities = softmax_with_temperature(decisions, float(temperature))
        loss = -np.mean(np.log(probabilities[np.arange(len(label_ids)), label_ids] + 1e-9))
        if loss < best_loss:
            best_temperature, best_loss = float(temperature), loss
    return best_temperature


def linear_probabilities(
    pipeline: Pipeline, texts: Sequence[str], labels: Sequence[str], temperature: float = 0.3
) -> np.ndarray:
    """Class probabilities `(N, C)` in the order of `labels`."""
    return softmax_with_temperature(linear_decisions(pipeline, texts, labels), temperature)
