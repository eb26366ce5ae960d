"""The wide branch: sublinear TF-IDF of word 1-2-grams and character n-grams -> linear logits.

`WideTfidfLogits` reads the slots of `models.text.wide_features` (ids and term counts per token
position) and computes, per text, the TF-IDF vector of scikit-learn's
`TfidfVectorizer(sublinear_tf=True)`: `(1 + ln tf) * idf`, L2-normalised separately over the
word features (uni- and bigrams) and the character n-grams, as the union of two vectorisers in
the TF-IDF baseline. The IDF weights (fitted on the training texts) are a non-trainable weight
saved with the model; the linear weights `(V, C)` start at zero.

Because the model is linear, the logits are an exact sum over token positions: each token's
contribution is its unigram's and character n-grams' terms plus half of each bigram it is part
of. `token_contributions` `(B, T, C)` sums over `T` (plus the bias) to the logits.
"""

from __future__ import annotations

import keras
import numpy as np
from keras import ops


@keras.saving.register_keras_serializable(package="seqlens")
class WideTfidfLogits(keras.layers.Layer):
    """Linear logits on in-graph sublinear TF-IDF features.

    Args:
        feature_count: feature ids including padding (0), `V`.
        num_classes: output classes `C`.
        scale: the weights are stored divided by `scale` (the effective weight is
            `scale * stored`), which multiplies the branch's learning rate under Adam:
            a sparse linear model needs larger steps than the deep branch.
        learned_scale: one more weight, a trainable scalar (initially 1) that multiplies the
            logits and the contributions: with weights fitted first (`set_fitted`, an SVM's
            margins), it learns how far to trust them beside the deep branch's logits.

    Call arguments:
        wide_ids: `(B, T, K)` int feature ids (0 = none).
        wide_counts: `(B, T, K)` float term counts of each slot's id in its text.
        margin_offset: optional `(B, C)` added to the margins before the learned scale; the
            training view passes `out-of-fold margins - in-sample margins` for fitted weights.

    Returns:
        `(logits (B, C), token_contributions (B, T, C))`.
    """

    def __init__(
        self,
        feature_count: int,
        num_classes: int,
        scale: float = 10.0,
        learned_scale: bool = False,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if not isinstance(feature_count, int) or feature_count < 1:
            raise ValueError(
                f"Expected feature_count to be a positive int. Received: "
                f"feature_count={feature_count!r}"
            )
        if not isinstance(num_classes, int) or num_classes < 2:
            raise ValueError(f"Expected num_classes >= 2. Received: num_classes={num_classes!r}")
        if not scale > 0:
            raise ValueError(f"Expected scale > 0. Received: scale={scale!r}")
        self.feature_count = feature_count
        self.num_classes = num_classes
        self.scale = float(scale)
        self.learned_scale = bool(learned_scale)

    def build(self, wide_ids_shape, wide_counts_shape=None):
        self.idf = self.add_weight(
            name="idf", shape=(self.feature_count,), initializer="ones", trainable=False
        )
        self.kernel = self.add_weight(
            name="kernel",
            shape=(self.feature_count, self.num_classes),
            initializer="zeros",
        )
        self.bias = self.add_weight(name="bias", shape=(self.num_classes,), initializer="zeros")
        self.logit_scale = None
        if self.learned_scale:
            self.logit_scale = self.add_weight(name="logit_scale", shape=(), initializer="ones")

    def set_fitted(self, kernel: np.ndarray, bias: np.ndarray) -> None:
        """Set the effective weights `(V, C)` and bias `(C,)` fitted outside Keras and freeze
        them (the learned scale, if any, stays trainable)."""
        kernel = np.asarray(kernel, dtype="float32")
        bias = np.asarray(bias, dtype="float32")
        if kernel.shape != (self.feature_count, self.num_classes):
            raise ValueError(
                f"Expected kernel of shape ({self.feature_count}, {self.num_classes}). "
                f"Received: shape={kernel.shape}"
            )
        if bias.shape != (self.num_classes,):
            raise ValueError(
                f"Expected bias of shape ({self.num_classes},). Received: shape={bias.shape}"
            )
        self.kernel.assign(kernel / self.scale)
        self.bias.assign(bias / self.scale)
        self.kernel.trainable = False
        self.bias.trainable = False

    def set_idf(self, idf: np.ndarray) -> None:
        """Set the IDF weights: `(V - 1,)` for ids 1.. (padding gets 0)."""
        idf = np.asarray(idf, dtype="float32")
        if idf.shape != (self.feature_count - 1,):
            raise ValueError(
                f"Expected idf of shape ({self.feature_count - 1},). Received: shape={idf.shape}"
            )
        self.idf.assign(np.concatenate([[0.0], idf]).astype("float32"))

    def call(self, wide_ids, wide_counts, margin_offset=None):
        ids = ops.cast(wide_ids, "int32")  # (B, T, K)
        counts = ops.cast(wide_counts, "float32")
        present = ops.cast(ops.logical_and(ids > 0, counts > 0), "float32")
        safe_counts = ops.maximum(counts, 1.0)
        idf = ops.take(self.idf, ids, axis=0)  # (B, T, K)
        per_feature = (1.0 + ops.log(safe_counts)) * idf * present  # tf-idf of the slot's feature
        # Each feature appears `count` times among the slots: divide so sums count it once.
        squares = ops.square(per_feature) / safe_counts
        word_norm = ops.sqrt(ops.sum(squares[:, :, :2], axis=(1, 2)))  # (B,)
        char_norm = ops.sqrt(ops.sum(squares[:, :, 2:], axis=(1, 2)))
        word_norm = ops.where(word_norm > 0, word_norm, 1.0)[:, None, None]
        char_norm = ops.where(char_norm > 0, char_norm, 1.0)[:, None, None]
        slot_values = per_feature / safe_counts  # (B, T, K)
        slot_values = ops.concatenate(
            [slot_values[:, :, :2] / word_norm, slot_values[:, :, 2:] / char_norm], axis=-1
        )
        weights = ops.take(self.kernel, ids, axis=0) * self.scale  # (B, T, K, C)
        slot_logits = slot_values[..., None] * weights  # (B, T, K, C)
        own = ops.sum(slot_logits[:, :, 2:], axis=2) + slot_logits[:, :, 0]  # (B, T, C)
        bigram = slot_logits[:, :, 1]  # (B, T, C): the bigram (t, t + 1)
        from_previous = ops.pad(bigram[:, :-1], [[0, 0], [1, 0], [0, 0]])
        contributions = own + 0.5 * bigram + 0.5 * from_previous
        logits = ops.sum(contributions, axis=1) + self.bias * self.scale
        if margin_offset is not None:  # training only: out-of-fold margins (see wide_fit)
            logits = logits + ops.cast(margin_offset, logits.dtype)
        if self.logit_scale is not None:
            contributions = contributions * self.logit_scale
            logits = logits * self.logit_scale
        return logits, contributions

    def compute_output_shape(
        self, wide_ids_shape, wide_counts_shape=None, margin_offset_shape=None
    ):
        batch, length = wide_ids_shape[0], wide_ids_shape[1]
        return (batch, self.num_classes), (batch, length, self.num_classes)

    def get_config(self):
        return {
            **super().get_config(),
            "feature_count": self.feature_count,
            "num_classes": self.num_classes,
            "scale": self.scale,
            "learned_scale": self.learned_scale,
        }
