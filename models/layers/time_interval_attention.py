"""Time-aware causal self-attention: a learned bias per (head, bucketed time interval).

TiSASRec (Li, Wang & McAuley, WSDM 2020) lets attention know how long before the query each
key happened. Here that knowledge is a learned scalar per head and interval bucket, added to
the attention logits (a relative-position bias in the style of T5 / ALiBi, with time in place of
position): cheap, `keras.ops` only, the same on TensorFlow and JAX.

Bucketing rule (`time_interval_buckets`): the interval between query `i` and key `j` is
`d = max(t_i - t_j, 0)` seconds and its bucket is `min(floor(log2(1 + d)), num_buckets - 1)`,
i.e. bucket `b` holds `2^b - 1 <= d < 2^(b+1) - 1`: bucket 0 is the same second (and a position
with itself), 1 is 1-2 s, 2 is 3-6 s, ..., 11 is 34 min - 1.1 h, 16 is 18 h - 1.5 days, 20 is
12 - 24 days, 24 is 0.5 - 1 year; the last bucket holds everything longer (with the default 32
buckets, 68 years and more).

Why not `keras.layers.MultiHeadAttention`: its `attention_mask` is boolean (it only removes
keys, through `-inf`), and it has no additive-bias input; `keras.ops.dot_product_attention` takes
a `bias` but returns no attention weights, which the dashboard shows. So this block computes
`softmax(q k^T / sqrt(d) + bias)` itself, with the same projections, pre-norm and feed-forward
as `CausalSelfAttentionBlock`.
"""

from __future__ import annotations

import math

import keras
from keras import ops

from models.layers.attention_blocks import validate_attention_arguments

DEFAULT_NUM_BUCKETS = 32
MASKED_LOGIT = -1e9


def time_interval_buckets(query_timestamps, key_timestamps, num_buckets: int = DEFAULT_NUM_BUCKETS):
    """Log-spaced bucket of the time from each key to each query (see the module docstring).

    Args:
        query_timestamps: `(B, Tq)` integer seconds (any common origin per row).
        key_timestamps: `(B, T)` integer seconds, same origin as the queries.
        num_buckets: buckets `0 .. num_buckets - 1`; longer intervals share the last one.

    Returns:
        `(B, Tq, T)` int32 buckets; a key after its query counts as interval 0.
    """
    # The difference in integers (exact), then float32 for the logarithm.
    interval = ops.expand_dims(query_timestamps, 2) - ops.expand_dims(key_timestamps, 1)
    interval = ops.maximum(ops.cast(interval, "float32"), 0.0)  # (B, Tq, T)
    bucket = ops.floor(ops.log2(1.0 + interval))
    return ops.cast(ops.minimum(bucket, float(num_buckets - 1)), "int32")


@keras.saving.register_keras_serializable(package="seqlens")
class TimeIntervalSelfAttentionBlock(keras.layers.Layer):
    """Pre-norm causal Transformer block whose attention logits get a time-interval bias.

    `x + Attention(LN(x))`, then `x + FFN(LN(x))`, as `CausalSelfAttentionBlock`; the logits of
    head `h`, query `i`, key `j` are `q_i . k_j / sqrt(d) + bias[h, bucket(t_i - t_j)]`
    (`time_interval_buckets`). The bias starts at zero, so the block starts as plain attention.
    Causal, padded keys ignored (padded query rows may see anything: their output is discarded);
    with `attention_window` a position sees itself and the `attention_window - 1` before it.

    Args:
        hidden_dim: model width `D`.
        num_heads: attention heads; `hidden_dim` must be divisible by it.
        dropout: dropout rate of the attention weights' output and the feed-forward part.
        attention_window: `None` for full causal attention, else a positive window length.
        num_buckets: time-interval buckets (>= 2).
        feed_forward_multiplier: an int >= 1; the feed-forward layer has
            `D * feed_forward_multiplier` units.

    Call arguments:
        inputs: `(B, T, D)` hidden states.
        timestamps: `(B, T)` integer seconds of each position (padding: any value).
        padding_mask: `(B, T)` bool, True for real items.
        return_attention_scores: also return the attention weights `(B, heads, T, T)`.
        training: dropout on or off.
        last_query_only: compute the last position only (`(B, 1, D)` and `(B, heads, 1, T)`).

    Returns:
        `(B, T, D)` (and the attention weights when asked).
    """

    def __init__(
        self,
        hidden_dim: int,
        num_heads: int,
        dropout: float = 0.2,
        attention_window: int | None = None,
        num_buckets: int = DEFAULT_NUM_BUCKETS,
        feed_forward_multiplier: int = 1,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if hidden_dim < 1:
            raise ValueError(f"Expected hidden_dim >= 1. Received: hidden_dim={hidden_dim}")
        validate_attention_arguments(hidden_dim, num_heads, dropout, attention_window)
        if not isinstance(num_buckets, int) or isinstance(num_buckets, bool) or num_buckets < 2:
            raise ValueError(
                f"Expected num_buckets to be an int >= 2. Received: num_buckets={num_buckets!r}"
            )
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
        self.num_buckets = num_buckets
        self.feed_forward_multiplier = feed_forward_multiplier

    def build(self, input_shape):
        dimension, heads = self.hidden_dim, self.num_heads
        head_dim = dimension // heads
        self.attention_norm = keras.layers.LayerNormalization(epsilon=1e-6, name="attention_norm")
        self.projections = [
            keras.layers.EinsumDense(
                "btd,dhk->bthk", (None, heads, head_dim), bias_axes="hk", name=name
            )
            for name in ("query", "key", "value")
        ]
        self.output_projection = keras.layers.EinsumDense(
            "bthk,hkd->btd", (None, dimension), bias_axes="d", name="attention_output"
        )
        self.interval_bias = self.add_weight(
            shape=(heads, self.num_buckets), initializer="zeros", name="interval_bias"
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
        for projection in self.projections:
            projection.build(input_shape)
        self.output_projection.build((*input_shape[:-1], heads, head_dim))
        self.feed_forward_norm.build(input_shape)
        self.feed_forward_inner.build(input_shape)
        self.feed_forward_outer.build((*input_shape[:-1], dimension * self.feed_forward_multiplier))

    def _allowed(self, padding_mask, query_count):
        """`(B, Tq, T)` bool: causal (and windowed) over real keys; padded query rows see all."""
        length = ops.shape(padding_mask)[1]
        keys = ops.arange(length)[None, :]  # (1, T)
        queries = ops.arange(length)[length - query_count :][:, None]  # (Tq, 1)
        allowed = keys <= queries
        if self.attention_window is not None:
            allowed = ops.logical_and(allowed, keys > queries - self.attention_window)
        allowed = ops.logical_and(allowed[None], ops.expand_dims(padding_mask, 1))
        query_mask = padding_mask[:, length - query_count :]  # (B, Tq)
        return ops.logical_or(allowed, ops.expand_dims(ops.logical_not(query_mask), 2))

    def call(
        self,
        inputs,
        timestamps,
        padding_mask,
        return_attention_scores=False,
        training=None,
        last_query_only=False,
    ):
        length = ops.shape(inputs)[1]
        query_count = 1 if last_query_only else length
        normalized = self.attention_norm(inputs)
        query_input = normalized[:, -1:, :] if last_query_only else normalized
        query_layer, key_layer, value_layer = self.projections
        query = query_layer(query_input)  # (B, Tq, H, K)
        key = key_layer(normalized)  # (B, T, H, K)
        value = value_layer(normalized)  # (B, T, H, K)
        head_dim = self.hidden_dim // self.num_heads
        logits = ops.einsum("bqhk,bthk->bhqt", query, key) / math.sqrt(head_dim)  # (B,H,Tq,T)
        query_times = timestamps[:, -1:] if last_query_only else timestamps
        buckets = time_interval_buckets(query_times, timestamps, self.num_buckets)  # (B, Tq, T)
        bias = ops.take(self.interval_bias, buckets, axis=1)  # (H, B, Tq, T)
        logits = ops.cast(logits, "float32") + ops.transpose(
            ops.cast(bias, "float32"), (1, 0, 2, 3)
        )
        allowed = ops.expand_dims(self._allowed(padding_mask, query_count), 1)  # (B, 1, Tq, T)
        weights = ops.softmax(ops.where(allowed, logits, MASKED_LOGIT), axis=-1)  # (B,H,Tq,T)
        dropped = self.dropout_layer(ops.cast(weights, self.compute_dtype), training=training)
        attended = ops.einsum("bhqt,bthk->bqhk", dropped, value)  # (B, Tq, H, K)
        attended = self.output_projection(attended)  # (B, Tq, D)
        residual = inputs[:, -1:, :] if last_query_only else inputs
        hidden = residual + self.dropout_layer(attended, training=training)
        feed_forward = self.feed_forward_outer(
            self.feed_forward_inner(self.feed_forward_norm(hidden))
        )
        hidden = hidden + self.dropout_layer(feed_forward, training=training)
        if return_attention_scores:
            return hidden, ops.cast(weights, self.compute_dtype)
        return hidden

    def compute_output_shape(
        self,
        inputs_shape,
        timestamps_shape=None,
        padding_mask_shape=None,
        *,
        return_attention_scores=False,
        last_query_only=False,
    ):
        """`(B, Tq, D)`, and `(B, heads, Tq, T)` with scores; `Tq` is 1 with `last_query_only`."""
        batch_size, length = inputs_shape[0], inputs_shape[1]
        query_length = 1 if last_query_only else length
        hidden_shape = (batch_size, query_length, self.hidden_dim)
        if not return_attention_scores:
            return hidden_shape
        return hidden_shape, (batch_size, self.num_heads, query_length, length)

    def compute_output_spec(
        self,
        inputs,
        timestamps=None,
        padding_mask=None,
        return_attention_scores=False,
        training=None,
        last_query_only=False,
    ):
        shapes = self.compute_output_shape(
            inputs.shape,
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
            num_buckets=self.num_buckets,
            feed_forward_multiplier=self.feed_forward_multiplier,
        )
        return config
