"""Text encoder layers: token (+ character n-gram) + position embeddings, Transformer blocks.

`TextEmbedding` adds a fastText-style sub-word vector (the mean of the token's character n-gram
embeddings) to the token embedding, so rare and out-of-vocabulary words ("unprofitability")
still get a meaningful vector. `TransformerBlock` is a post-norm encoder block on
`keras.layers.MultiHeadAttention` with a padding mask, optionally returning the per-head
self-attention matrices.
"""

from __future__ import annotations

import keras
from keras import ops


def _check_positive(name: str, value) -> None:
    if not isinstance(value, int) or value < 1:
        raise ValueError(f"Expected {name} to be a positive int. Received: {name}={value!r}")


def _check_rate(name: str, value) -> None:
    if not isinstance(value, (int, float)) or not 0.0 <= value < 1.0:
        raise ValueError(f"Expected {name} in [0, 1). Received: {name}={value!r}")


@keras.saving.register_keras_serializable(package="seqlens")
class TextEmbedding(keras.layers.Layer):
    """Token + optional character n-gram + learned position embeddings.

    Args:
        vocabulary_size: number of token ids (0 = padding, 1 = OOV).
        sequence_length: maximum number of tokens `T`.
        embedding_dim: output width `D`.
        ngram_vocabulary_size: number of n-gram ids (0 = padding); 0 disables n-gram features.
        dropout: dropout on the summed embeddings.
        **kwargs: base `Layer` arguments.

    Call arguments:
        token_ids: int tensor, shape `(B, T)`.
        ngram_ids: int tensor, shape `(B, T, G)`, or `None`.
        training: Python bool.

    Returns:
        Embeddings, shape `(B, T, D)`.
    """

    def __init__(
        self,
        vocabulary_size: int,
        sequence_length: int,
        embedding_dim: int,
        ngram_vocabulary_size: int = 0,
        dropout: float = 0.1,
        **kwargs,
    ):
        super().__init__(**kwargs)
        _check_positive("vocabulary_size", vocabulary_size)
        _check_positive("sequence_length", sequence_length)
        _check_positive("embedding_dim", embedding_dim)
        if not isinstance(ngram_vocabulary_size, int) or ngram_vocabulary_size < 0:
            raise ValueError(
                "Expected ngram_vocabulary_size to be an int >= 0. "
                f"Received: ngram_vocabulary_size={ngram_vocabulary_size!r}"
            )
        _check_rate("dropout", dropout)
        self.vocabulary_size = vocabulary_size
        self.sequence_length = sequence_length
        self.embedding_dim = embedding_dim
        self.ngram_vocabulary_size = ngram_vocabulary_size
        self.dropout = dropout

    def build(self, token_ids_shape, ngram_ids_shape=None):
        self.token_embedding = keras.layers.Embedding(
            self.vocabulary_size, self.embedding_dim, name="token_embedding"
        )
        self.token_embedding.build(token_ids_shape)
        self.position_embedding = self.add_weight(
            name="position_embedding",
            shape=(self.sequence_length, self.embedding_dim),
            initializer=keras.initializers.RandomNormal(stddev=0.02),
        )
        if self.ngram_vocabulary_size:
            self.ngram_embedding = keras.layers.Embedding(
                self.ngram_vocabulary_size, self.embedding_dim, name="ngram_embedding"
            )
            self.ngram_embedding.build(ngram_ids_shape or (None, None, None))
        self.embedding_dropout = keras.layers.Dropout(self.dropout)
        super().build(token_ids_shape)

    def call(self, token_ids, ngram_ids=None, training=None):
        embedded = self.token_embedding(token_ids)  # (B, T, D)
        if self.ngram_vocabulary_size and ngram_ids is not None:
            gram_vectors = self.ngram_embedding(ngram_ids)  # (B, T, G, D)
            gram_mask = ops.cast(ops.not_equal(ngram_ids, 0), gram_vectors.dtype)  # (B, T, G)
            gram_sum = ops.sum(gram_vectors * ops.expand_dims(gram_mask, -1), axis=2)
            gram_count = ops.maximum(ops.sum(gram_mask, axis=2, keepdims=True), 1.0)
            embedded = embedded + gram_sum / gram_count
        length = ops.shape(token_ids)[1]
        embedded = embedded + self.position_embedding[None, :length, :]
        return self.embedding_dropout(embedded, training=training)

    def compute_output_shape(self, token_ids_shape, ngram_ids_shape=None):
        return (*token_ids_shape, self.embedding_dim)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "vocabulary_size": self.vocabulary_size,
                "sequence_length": self.sequence_length,
                "embedding_dim": self.embedding_dim,
                "ngram_vocabulary_size": self.ngram_vocabulary_size,
                "dropout": self.dropout,
            }
        )
        return config


@keras.saving.register_keras_serializable(package="seqlens")
class TransformerBlock(keras.layers.Layer):
    """Post-norm Transformer encoder block with a padding mask.

    Args:
        num_heads: attention heads.
        key_dim: width per head.
        feed_forward_dim: hidden width of the position-wise feed-forward network.
        dropout: dropout on attention probabilities and residual branches.
        **kwargs: base `Layer` arguments.

    Call arguments:
        inputs: shape `(B, T, D)`.
        padding_mask: 0/1 or boolean tensor, shape `(B, T)`; 1 for real tokens.
        training: Python bool.

    Returns:
        `(outputs, attention_scores)`: shapes `(B, T, D)` and `(B, heads, T, T)`.
    """

    def __init__(
        self,
        num_heads: int = 2,
        key_dim: int = 32,
        feed_forward_dim: int = 128,
        dropout: float = 0.1,
        **kwargs,
    ):
        super().__init__(**kwargs)
        _check_positive("num_heads", num_heads)
        _check_positive("key_dim", key_dim)
        _check_positive("feed_forward_dim", feed_forward_dim)
        _check_rate("dropout", dropout)
        self.num_heads = num_heads
        self.key_dim = key_dim
        self.feed_forward_dim = feed_forward_dim
        self.dropout = dropout

    def build(self, inputs_shape, padding_mask_shape=None):
        input_shape = inputs_shape
        width = input_shape[-1]
        self.attention = keras.layers.MultiHeadAttention(
            num_heads=self.num_heads, key_dim=self.key_dim, dropout=self.dropout, name="attention"
        )
        self.attention.build(input_shape, input_shape)
        self.attention_norm = keras.layers.LayerNormalization(epsilon=1e-6, name="attention_norm")
        self.attention_norm.build(input_shape)
        self.hidden = keras.layers.Dense(self.feed_forward_dim, activation="gelu", name="hidden")
        self.hidden.build(input_shape)
        self.output_projection = keras.layers.Dense(width, name="output_projection")
        self.output_projection.build((*input_shape[:-1], self.feed_forward_dim))
        self.output_norm = keras.layers.LayerNormalization(epsilon=1e-6, name="output_norm")
        self.output_norm.build(input_shape)
        self.residual_dropout = keras.layers.Dropout(self.dropout)
        super().build(input_shape)

    def call(self, inputs, padding_mask=None, training=None):
        attention_mask = None
        if padding_mask is not None:
            keys = ops.cast(padding_mask, "bool")
            attention_mask = ops.expand_dims(keys, 1)  # (B, 1, T): queries attend to real keys
            attention_mask = ops.logical_and(attention_mask, ops.expand_dims(keys, 2))
            # padded queries attend to themselves only, so no row of the mask is empty
            eye = ops.cast(ops.eye(ops.shape(inputs)[1]), "bool")[None]
            attention_mask = ops.logical_or(attention_mask, eye)
        attended, scores = self.attention(
            inputs,
            inputs,
            attention_mask=attention_mask,
            return_attention_scores=True,
            training=training,
        )  # (B, T, D), (B, heads, T, T)
        hidden = self.attention_norm(inputs + self.residual_dropout(attended, training=training))
        transformed = self.output_projection(self.hidden(hidden))  # (B, T, D)
        outputs = self.output_norm(hidden + self.residual_dropout(transformed, training=training))
        return outputs, scores

    def compute_output_shape(self, inputs_shape, padding_mask_shape=None):
        input_shape = inputs_shape
        return input_shape, (input_shape[0], self.num_heads, input_shape[1], input_shape[1])

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "num_heads": self.num_heads,
                "key_dim": self.key_dim,
                "feed_forward_dim": self.feed_forward_dim,
                "dropout": self.dropout,
            }
        )
        return config
