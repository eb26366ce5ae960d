"""A pre-norm causal Transformer block on `keras.layers.MultiHeadAttention`."""

from __future__ import annotations

import keras
from keras import ops


def validate_attention_arguments(
    hidden_dim: int, num_heads: int, dropout: float, attention_window: int | None
) -> None:
    """Raise a `ValueError` naming the argument when a causal attention setting is invalid.

    Shared by `CausalSelfAttentionBlock` and the models that build such blocks in `build()`, so
    a bad setting fails at construction with the same message.
    """
    if num_heads < 1 or hidden_dim % num_heads:
        raise ValueError(
            f"Expected num_heads >= 1 dividing hidden_dim={hidden_dim}. "
            f"Received: num_heads={num_heads}"
        )
    if not 0.0 <= dropout < 1.0:
        raise ValueError(f"Expected dropout in [0, 1). Received: dropout={dropout}")
    if attention_window is not None and attention_window < 1:
        raise ValueError(
            "Expected attention_window to be None or >= 1. "
            f"Received: attention_window={attention_window}"
        )


@keras.saving.register_keras_serializable(package="seqlens")
class CausalSelfAttentionBlock(keras.layers.Layer):
    """Pre-norm Transformer block: `x + MHA(LN(x))`, then `x + FFN(LN(x))`, causal.

    Attention is causal (`use_causal_mask`), ignores padded keys, and with `attention_window`
    is local: a position sees itself and the `attention_window - 1` positions before it (MHA's
    `sliding_window`). Without attention scores requested, MHA runs through
    `keras.ops.dot_product_attention` (the fused / flash path where the backend has one).

    Args:
        hidden_dim: model width `D`.
        num_heads: attention heads; `hidden_dim` must be divisible by it.
        dropout: dropout rate after attention and in the feed-forward part.
        attention_window: `None` for full causal attention, else a positive window length.
        flash_attention: passed to MHA: `None` lets Keras decide, `True` forces flash attention
            (GPU backends), `False` keeps the plain path.
        feed_forward_multiplier: an int >= 1; the feed-forward layer has
            `D * feed_forward_multiplier` units.

    Call arguments:
        inputs: `(B, T, D)` hidden states.
        padding_mask: `(B, T)` bool, True for real items.
        return_attention_scores: also return the attention weights `(B, heads, T, T)`.
        training: dropout on or off.
        last_query_only: compute the last position only (inference for the next item: the last
            block need not transform positions nobody reads); full attention only, not with
            `attention_window`.

    Returns:
        `(B, T, D)` (and the attention weights when asked); with `last_query_only`, `(B, 1, D)`
        and `(B, heads, 1, T)`.
    """

    def __init__(
        self,
        hidden_dim: int,
        num_heads: int,
        dropout: float = 0.2,
        attention_window: int | None = None,
        flash_attention: bool | None = False,
        feed_forward_multiplier: int = 1,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if hidden_dim < 1:
            raise ValueError(f"Expected hidden_dim >= 1. Received: hidden_dim={hidden_dim}")
        validate_attention_arguments(hidden_dim, num_heads, dropout, attention_window)
        if (
            not isinstance(feed_forward_multiplier, int)
            or isinstance(feed_forward_multiplier, bool)
            or feed_forward_multiplier < 1
        ):
            raise ValueError(
                "Expected feed_forward_multiplier to be an int >= 1. "
                f"Received: feed_forward_multiplier={feed_forward_multiplier!r}"
            )
        self.hidden_dim = hidden_dim
        self.num_heads = num_heads
        self.dropout = dropout
        self.attention_window = attention_window
        self.flash_attention = flash_attention
        self.feed_forward_multiplier = feed_forward_multiplier

    def build(self, input_shape):
        dimension = self.hidden_dim
        self.attention_norm = keras.layers.LayerNormalization(epsilon=1e-6, name="attention_norm")
        self.attention = keras.layers.MultiHeadAttention(
            num_heads=self.num_heads,
            key_dim=dimension // self.num_heads,
            sliding_window=self.attention_window,
            flash_attention=self.flash_attention,
            name="attention",
        )
        self.feed_forward_norm = keras.layers.LayerNormalization(
            epsilon=1e-6, name="feed_forward_norm"
        )
        self.feed_forward_inner = keras.layers.Dense(
            dimension * self.feed_forward_multiplier, activation="gelu", name="feed_forward_inner"
        )
        self.feed_forward_outer = keras.layers.Dense(dimension, name="feed_forward_outer")
        self.dropout_layer = keras.layers.Dropout(self.dropout)
        self.attention_norm.build(input_shape)
        self.attention.build(input_shape, input_shape)
        self.feed_forward_norm.build(input_shape)
        self.feed_forward_inner.build(input_shape)
        self.feed_forward_outer.build((*input_shape[:-1], dimension * self.feed_forward_multiplier))

    def call(
        self,
        inputs,
        padding_mask,
        return_attention_scores=False,
        training=None,
        last_query_only=False,
    ):
        if last_query_only and self.attention_window is not None:
            raise ValueError(
                "Expected last_query_only only with full attention. "
                f"Received: attention_window={self.attention_window}"
            )
        # Keys: real items only; padded query rows may see anything (their output is discarded),
        # so that no row is fully masked.
        key_valid = ops.expand_dims(padding_mask, 1)  # (B, 1, T)
        query_mask = padding_mask[:, -1:] if last_query_only else padding_mask  # (B, Tq)
        query_padded = ops.expand_dims(ops.logical_not(query_mask), 2)  # (B, Tq, 1)
        attention_mask = ops.logical_or(key_valid, query_padded)  # (B, Tq, T)
        normalized = self.attention_norm(inputs)
        query = normalized[:, -1:, :] if last_query_only else normalized
        result = self.attention(
            query,
            normalized,
            attention_mask=attention_mask,
            # the last position sees every key anyway; MHA's causal mask aligns a shorter query
            # with the *first* keys, so it must be off here
            use_causal_mask=not last_query_only,
            return_attention_scores=return_attention_scores,
            training=training,
        )
        attended, scores = result if return_attention_scores else (result, None)
        residual = inputs[:, -1:, :] if last_query_only else inputs
        hidden = residual + self.dropout_layer(attended, training=training)  # (B, Tq, D)
        feed_forward = self.feed_forward_outer(
            self.feed_forward_inner(self.feed_forward_norm(hidden))
        )
        hidden = hidden + self.dropout_layer(feed_forward, training=training)
        if return_attention_scores:
            return hidden, scores
        return hidden

    def compute_output_shape(
        self,
        inputs_shape,
        padding_mask_shape=None,
        *,
        return_attention_scores=False,
        last_query_only=False,
    ):
        """`(B, Tq, D)`, and `(B, heads, Tq, T)` with scores; `Tq` is 1 with `last_query_only`."""
        batch_size, length = inputs_shape[0], inputs_shape[1]
        query_length = 1 if last_query_only else length
        hidden_shape = (batch_size, query_length, self.hidden_dim)  # (B, Tq, D)
        if not return_attention_scores:
            return hidden_shape
        return hidden_shape, (batch_size, self.num_heads, query_length, length)  # (B, H, Tq, T)

    def compute_output_spec(
        self,
        inputs,
        padding_mask=None,
        return_attention_scores=False,
        training=None,
        last_query_only=False,
    ):
        # Keras passes only the shapes to `compute_output_shape`; the modes decide the shapes.
        shapes = self.compute_output_shape(
            inputs.shape,
            None if padding_mask is None else padding_mask.shape,
            return_attention_scores=return_attention_scores,
            last_query_only=last_query_only,
        )
        return keras.tree.map_shape_structure(
            lambda shape: keras.KerasTensor(shape, dtype=self.compute_dtype), shapes
        )

    def get_config(self):
        config = super().get_config()
        config.update(
            hidden_dim=self.hidden_dim,
            num_heads=self.num_heads,
            dropout=self.dropout,
            attention_window=self.attention_window,
            flash_attention=self.flash_attention,
            feed_forward_multiplier=self.feed_forward_multiplier,
        )
        return config
