"""A small real Keras recommender for the serving tests (not a test module).

It follows the recommender's serving interface: `encode_last(item_indices) -> (last (B, D),
attention (B, heads, T))`, `score_items(last) -> scores (B, V)` and `score_last` (both), index
0 = padding, 1 = out-of-vocabulary, real items from 2, left padding (the most recent item at the
last position). Weights are seeded, so two builds agree.
"""

from __future__ import annotations

import keras
import numpy as np

PADDING_INDEX = 0
OOV_INDEX = 1


class TinyAttentionRecommender(keras.Model):
    """Item embedding + learned positions + one causal `MultiHeadAttention` block.

    Args:
        vocabulary_size: score columns `V` (padding and OOV included).
        max_length: model sequence length `T`.
        embedding_dim: width `D`.
        num_heads: attention heads.
        seed: weight initialisation seed.
    """

    def __init__(
        self,
        vocabulary_size: int,
        max_length: int,
        embedding_dim: int = 16,
        num_heads: int = 2,
        seed: int = 7,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.vocabulary_size = vocabulary_size
        self.max_length = max_length
        self.num_heads = num_heads
        initializer = keras.initializers.RandomNormal(stddev=0.5, seed=seed)
        self.item_embedding = keras.layers.Embedding(
            vocabulary_size, embedding_dim, embeddings_initializer=initializer
        )
        self.position_embedding = keras.layers.Embedding(
            max_length,
            embedding_dim,
            embeddings_initializer=keras.initializers.RandomNormal(stddev=0.1, seed=seed + 1),
        )
        self.attention = keras.layers.MultiHeadAttention(
            num_heads=num_heads,
            key_dim=embedding_dim // num_heads,
            kernel_initializer=keras.initializers.GlorotUniform(seed=seed + 2),
        )
        self.build((None, max_length))

    def build(self, input_shape):
        self.item_embedding.build(input_shape)
        self.position_embedding.build((self.max_length,))
        shape = (None, self.max_length, self.item_embedding.output_dim)
        self.attention.build(shape, shape)
        self.built = True

    def _encode(self, item_indices):
        ops = keras.ops
        positions = ops.arange(self.max_length)
        hidden = self.item_embedding(item_indices) + self.position_embedding(positions)[None]
        valid = ops.not_equal(item_indices, PADDING_INDEX)  # (B, T)
        causal = ops.tril(ops.ones((self.max_length, self.max_length), dtype="bool"))
        mask = ops.logical_and(causal[None], valid[:, None, :])  # (B, T, T)
        # A fully padded row would have no key at all: let it attend to itself.
        mask = ops.logical_or(mask, ops.eye(self.max_length, dtype="bool")[None])
        output, scores = self.attention(
            hidden, hidden, attention_mask=mask, return_attention_scores=True
        )
        return output + hidden, scores  # (B, T, D), (B, H, T, T)

    def call(self, item_indices):
        output, _ = self._encode(item_indices)
        return output

    def encode_last(self, item_indices):
        """`item_indices (B, T)` -> `(last (B, D), attention (B, heads, T))`, last position."""
        output, attention_scores = self._encode(item_indices)
        return output[:, -1, :], attention_scores[:, :, -1, :]

    def score_items(self, last):
        """`last (B, D)` -> `scores (B, V)`."""
        return keras.ops.matmul(last, keras.ops.transpose(self.item_embedding.embeddings))

    def score_last(self, item_indices):
        """`item_indices (B, T)` -> `(scores (B, V), attention (B, heads, T))`, last position."""
        last, attention = self.encode_last(item_indices)
        return self.score_items(last), attention


def make_vocabulary(num_items: int) -> list[str]:
    """Index -> item id: `[PAD]`, `[OOV]`, then `item_0000` ... in popularity order."""
    return ["[PAD]", "[OOV]"] + [f"item_{index:04d}" for index in range(num_items)]


def reference_recommend(
    model: TinyAttentionRecommender,
    vocabulary: list[str],
    histories: list[list[str]],
    k: int,
    exclude_history: bool = True,
):
    """The Keras model called directly, with the serving rules written in NumPy.

    Returns `(item_ids list[list[str]], scores (B, k), attention (B, T_kept))`.
    """
    index_of = {item: index for index, item in enumerate(vocabulary) if index > OOV_INDEX}
    batch = np.full((len(histories), model.max_length), PADDING_INDEX, dtype="int32")
    for row, history in enumerate(histories):
        kept = [index_of.get(item, OOV_INDEX) for item in history if item][-model.max_length :]
        if kept:
            batch[row, -len(kept) :] = kept
    scores, attention = (keras.ops.convert_to_numpy(x) for x in model.score_last(batch))
    scores = scores.astype("float64")
    scores[:, [PADDING_INDEX, OOV_INDEX]] = -np.inf
    all_item_ids, all_scores = [], []
    for row, history in enumerate(histories):
        if exclude_history:
            for item in history:
                if item in index_of:
                    scores[row, index_of[item]] = -np.inf
        order = np.argsort(-scores[row], kind="stable")[:k]
        all_item_ids.append([vocabulary[index] for index in order])
        all_scores.append(scores[row, order])
    return all_item_ids, np.array(all_scores), attention.mean(axis=1)
