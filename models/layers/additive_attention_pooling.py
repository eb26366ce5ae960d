"""Additive (Bahdanau-style) attention pooling: a learned query scores every token.

`score_t = v^T tanh(W h_t + b)`, masked softmax over the sequence, pooled vector
`sum_t weight_t h_t`. The weights are the per-token importance shown to analysts.
"""

from __future__ import annotations

import keras
from keras import ops

MASKED_SCORE = -1e9


@keras.saving.register_keras_serializable(package="seqlens")
class AdditiveAttentionPooling(keras.layers.Layer):
    """Pools a sequence into one vector with a learned additive-attention query.

    Padding positions get zero weight; a sequence that is all padding gets uniform weights
    (no NaN), so empty texts never crash.

    Args:
        attention_units: width of the hidden scoring layer `W`.
        dropout: dropout rate on the attention weights during training (0 disables).
        **kwargs: base `Layer` arguments.

    Call arguments:
        inputs: token representations, shape `(B, T, D)`.
        padding_mask: boolean or 0/1 tensor, shape `(B, T)`; `True` for real tokens.
        training: Python bool.

    Returns:
        `(pooled, weights)`: shapes `(B, D)` and `(B, T)`; weights sum to 1 over `T`.
    """

    def __init__(self, attention_units: int = 64, dropout: float = 0.0, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(attention_units, int) or attention_units < 1:
            raise ValueError(
                "Expected attention_units to be a positive int. "
                f"Received: attention_units={attention_units!r}"
            )
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"Expected dropout in [0, 1). Received: dropout={dropout!r}")
        self.attention_units = attention_units
        self.dropout = dropout

    def build(self, inputs_shape, padding_mask_shape=None):
        feature_size = inputs_shape[-1]
        self.projection = self.add_weight(
            name="projection",
            shape=(feature_size, self.attention_units),
            initializer="glorot_uniform",
        )
        self.projection_bias = self.add_weight(
            name="projection_bias", shape=(self.attention_units,), initializer="zeros"
        )
        self.query = self.add_weight(
            name="query", shape=(self.attention_units,), initializer="glorot_uniform"
        )
        self.weight_dropout = keras.layers.Dropout(self.dropout)
        super().build(inputs_shape)

    def call(self, inputs, padding_mask=None, training=None):
        hidden = ops.tanh(ops.matmul(inputs, self.projection) + self.projection_bias)  # (B, T, U)
        scores = ops.sum(hidden * self.query, axis=-1)  # (B, T)
        if padding_mask is not None:
            valid = ops.cast(padding_mask, "bool")
            scores = ops.where(valid, scores, ops.full_like(scores, MASKED_SCORE))
        weights = ops.softmax(scores, axis=-1)  # (B, T)
        dropped = self.weight_dropout(weights, training=training)
        pooled = ops.sum(inputs * ops.expand_dims(dropped, -1), axis=1)  # (B, D)
        return pooled, weights

    def compute_output_shape(self, inputs_shape, padding_mask_shape=None):
        return (inputs_shape[0], inputs_shape[-1]), (inputs_shape[0], inputs_shape[1])

    def get_config(self):
        config = super().get_config()
        config.update({"attention_units": self.attention_units, "dropout": self.dropout})
        return config
