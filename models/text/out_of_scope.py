"""Out-of-scope scores of the text classifier, computed in the Keras graph (so in the SavedModel).

Three scores, each "higher = more likely out of scope":

- `max_softmax`: `1 - max_c p_c` (Hendrycks & Gimpel 2017);
- `energy`: `-logsumexp(logits)` (Liu et al. 2020, temperature 1);
- `mahalanobis`: the smallest Mahalanobis distance of the deep branch's pooled embedding to the
  class means of the training texts, with one shared (tied) covariance (Lee et al. 2018;
  Podolskiy et al. 2021 for intent detection). Needs the deep branch.

Each score's threshold keeps `keep_rate` of in-scope validation texts (`calibrate_score_threshold`,
the rule of `models.text.evaluation.calibrate_oos_threshold`, mirrored); which score decides
`out_of_scope` is a training setting (`TextTrainingConfig.oos_score`).
"""

from __future__ import annotations

import keras
import numpy as np
from keras import ops

OOS_SCORES = ("max_softmax", "energy", "mahalanobis")


@keras.saving.register_keras_serializable(package="seqlens")
class MahalanobisDistance(keras.layers.Layer):
    """Smallest Mahalanobis distance to the class means: `(B, D)` -> `(B,)`.

    The statistics are non-trainable weights (zeros until `set_statistics`), saved with the model.

    Args:
        num_classes: classes `C`.
        dim: embedding width `D`.
    """

    def __init__(self, num_classes: int, dim: int, **kwargs):
        super().__init__(**kwargs)
        for name, value in (("num_classes", num_classes), ("dim", dim)):
            if not isinstance(value, int) or value < 1:
                raise ValueError(
                    f"Expected {name} to be a positive int. Received: {name}={value!r}"
                )
        self.num_classes, self.dim = num_classes, dim

    def build(self, input_shape):
        self.means = self.add_weight(
            name="means", shape=(self.num_classes, self.dim), initializer="zeros", trainable=False
        )
        self.precision = self.add_weight(
            name="precision", shape=(self.dim, self.dim), initializer="identity", trainable=False
        )

    def set_statistics(self, means: np.ndarray, precision: np.ndarray) -> None:
        """Set the class means `(C, D)` and the shared precision matrix `(D, D)`."""
        if means.shape != (self.num_classes, self.dim) or precision.shape != (self.dim, self.dim):
            raise ValueError(
                f"Expected means ({self.num_classes}, {self.dim}) and precision ({self.dim}, "
                f"{self.dim}). Received: means={means.shape}, precision={precision.shape}"
            )
        self.means.assign(means.astype("float32"))
        self.precision.assign(precision.astype("float32"))

    def call(self, pooled):
        difference = pooled[:, None, :] - self.means[None, :, :]  # (B, C, D)
        projected = ops.einsum("bcd,de->bce", difference, self.precision)
        distances = ops.sum(projected * difference, axis=-1)  # (B, C)
        return ops.min(distances, axis=-1)

    def compute_output_shape(self, input_shape):
        return (input_shape[0],)

    def get_config(self):
        return {**super().get_config(), "num_classes": self.num_classes, "dim": self.dim}


@keras.saving.register_keras_serializable(package="seqlens")
class SoftmaxScores(keras.layers.Layer):
    """`logits (B, C)` -> `(max_softmax (B,), energy (B,))`, both higher = more out of scope."""

    def call(self, logits):
        probabilities = ops.softmax(logits, axis=-1)
        return 1.0 - ops.max(probabilities, axis=-1), -ops.logsumexp(logits, axis=-1)

    def compute_output_shape(self, input_shape):
        return (input_shape[0],), (input_shape[0],)


def fit_class_statistics(
    pooled: np.ndarray, label_ids: np.ndarray, num_classes: int, ridge: float = 1e-3
) -> tuple[np.ndarray, np.ndarray]:
    """Class means `(C, D)` and the tied precision `(D, D)` of training embeddings `(N, D)`.

    The covariance is shrunk towards `ridge * mean variance * I` so it is invertible for few
    texts; a class without texts gets a mean far away (it never is the nearest).
    """
    pooled = np.asarray(pooled, dtype="float64")
    dim = pooled.shape[1]
    means = np.full((num_classes, dim), 1e6)
    centred = np.zeros_like(pooled)
    for label in range(num_classes):
        members = label_ids == label
        if members.any():
            means[label] = pooled[members].mean(axis=0)
            centred[members] = pooled[members] - means[label]
    covariance = centred.T @ centred / max(len(pooled), 1)
    scale = float(np.trace(covariance) / dim) or 1.0
    precision = np.linalg.pinv(covariance + ridge * scale * np.eye(dim), hermitian=True)
    return means, precision


def calibrate_score_threshold(in_scope_scores: np.ndarray, keep_rate: float = 0.95) -> float:
    """The score threshold keeping `keep_rate` of in-scope validation texts (score <= it)."""
    if not 0.0 < keep_rate <= 1.0:
        raise ValueError(f"Expected keep_rate in (0, 1]. Received: keep_rate={keep_rate!r}")
    scores = np.asarray(in_scope_scores, dtype="float64")
    if scores.size == 0:
        raise ValueError(f"Expected at least one score. Received: in_scope_scores={scores!r}")
    return float(np.quantile(scores, keep_rate, method="higher"))
