# Over 300 lines on purpose: one Keras model (build, both blends, the call with its attention).
"""A target-attention ranker: each candidate item attends over the user's history.

Deep Interest Network (Zhou et al. 2018) and Behavior Sequence Transformer (Chen et al. 2019)
rank a short candidate list, proposed by a cheap retriever, with cross-attention: the candidate
(its id embedding plus its feature embeddings) is the query; the history (item + feature
embeddings + a position embedding counted from the most recent item) is the key and value of a
`keras.layers.MultiHeadAttention`. A small MLP scores `[query, attended, query * attended,
query - attended]`. With the retriever rank, two ways to combine it (`blend`):

- `"stacked"`: the MLP never sees the rank; the score is
  `ranker_weight * mlp - rank_weight * log(rank)` with the two scalars *not* trained by `fit`
  (1 and 0 while the attention model trains alone) and set afterwards by `set_blend`, fitted on
  examples whose retriever ranks are honest (`ranker_training.fit_blend`). The attention model
  can then train on positions the retriever trained on (many examples, optimistic ranks) without
  learning to lean on those ranks.
- `"joint"`: the MLP also reads `log(rank)`, and `rank_weight` (from 1) is trained with the rest:
  the ranker starts from the retriever's order.

The attention row of a candidate says which history items made it score as it did: the
per-recommendation explanation (`score_with_attention`).

Items are indexed as in `models.recommender.ranker_features`: items at or above `trained_items`
(cold start) have no trained id embedding and are read through the OOV id plus their features.
"""

from __future__ import annotations

import math

import keras
from keras import ops

from models.recommender.ranker_config import BLENDS
from models.recommender.sequence_data import OOV_INDEX, PADDING_INDEX


def _check_positive(**values) -> None:
    for name, value in values.items():
        if not isinstance(value, int) or value < 1:
            raise ValueError(f"Expected {name} to be an int >= 1. Received: {name}={value!r}")


@keras.saving.register_keras_serializable(package="seqlens")
class TargetAttentionRanker(keras.Model):
    """Scores `N` candidate items per user by cross-attention over the user's history.

    Args:
        num_items: item indices, padding + OOV + trained items + cold items.
        trained_items: the retriever's vocabulary size; indices `>= trained_items` are cold.
        num_features: feature indices (padding + unknown + values); used with `use_features`.
        max_features: feature slots per item (the width of the item-feature table).
        max_length: longest history read (the most recent `max_length` items).
        hidden_dim: `D`, embedding width; divisible by `num_heads`.
        num_heads: attention heads.
        hidden_units: widths of the scoring MLP's hidden layers.
        dropout: dropout in attention and the MLP.
        use_item_ids: embed item ids (off: features only).
        use_features: embed item features (off: ids only).
        use_retriever_rank: read `inputs["candidate_ranks"]` (1-based retriever ranks).
        id_dropout: in training, the share of item ids replaced by OOV (teaches the model to
            score from features alone, as it must for cold items).
        blend: how the retriever rank enters the score, `"stacked"` or `"joint"` (above).

    Call arguments:
        inputs: dict with `history (B, L)` int item indices (left-padded, 0 = padding),
            `candidates (B, N)` int item indices and, with `use_retriever_rank`,
            `candidate_ranks (B, N)` float.

    Returns:
        `(B, N)` float32 scores (higher = better).
    """

    def __init__(
        self,
        num_items: int,
        trained_items: int,
        num_features: int = 2,
        max_features: int = 1,
        max_length: int = 50,
        hidden_dim: int = 64,
        num_heads: int = 2,
        hidden_units: tuple[int, ...] | list[int] = (64, 32),
        dropout: float = 0.1,
        use_item_ids: bool = True,
        use_features: bool = True,
        use_retriever_rank: bool = True,
        id_dropout: float = 0.1,
        blend: str = "joint",
        **kwargs,
    ):
        super().__init__(**kwargs)
        _check_positive(
            num_items=num_items,
            trained_items=trained_items,
            num_features=num_features,
            max_features=max_features,
            max_length=max_length,
            hidden_dim=hidden_dim,
            num_heads=num_heads,
        )
        if not 2 < trained_items <= num_items:
            raise ValueError(
                "Expected 2 < trained_items <= num_items. "
                f"Received: trained_items={trained_items}, num_items={num_items}"
            )
        if hidden_dim % num_heads:
            raise ValueError(
                "Expected hidden_dim divisible by num_heads. "
                f"Received: hidden_dim={hidden_dim}, num_heads={num_heads}"
            )
        if not (use_item_ids or use_features):
            raise ValueError(
                "Expected use_item_ids or use_features (or both). "
                "Received: use_item_ids=False, use_features=False"
            )
        if blend not in BLENDS:
            raise ValueError(f"Expected blend in {BLENDS}. Received: blend={blend!r}")
        for name, rate in (("dropout", dropout), ("id_dropout", id_dropout)):
            if not 0 <= rate < 1:
                raise ValueError(f"Expected {name} in [0, 1). Received: {name}={rate}")
        self.num_items = num_items
        self.trained_items = trained_items
        self.num_features = num_features
        self.max_features = max_features
        self.max_length = max_length
        self.hidden_dim = hidden_dim
        self.num_heads = num_heads
        self.hidden_units = [int(units) for units in hidden_units]
        self.dropout = dropout
        self.use_item_ids = bool(use_item_ids)
        self.use_features = bool(use_features)
        self.use_retriever_rank = bool(use_retriever_rank)
        self.id_dropout = id_dropout
        self.blend = blend

    def build(self, input_shape=None):
        self.item_feature_table = self.add_weight(
            shape=(self.num_items, self.max_features),
            initializer="zeros",
            dtype="int32",
            trainable=False,
            name="item_feature_table",
        )
        self.item_embedding = keras.layers.Embedding(
            self.trained_items, self.hidden_dim, name="item_embedding"
        )
        self.item_embedding.build((None, None))
        self.feature_embedding = keras.layers.Embedding(
            self.num_features, self.hidden_dim, name="feature_embedding"
        )
        self.feature_embedding.build((None, None, None))
        self.position_embedding = keras.layers.Embedding(
            self.max_length, self.hidden_dim, name="position_embedding"
        )
        self.position_embedding.build((None,))
        self.attention = keras.layers.MultiHeadAttention(
            self.num_heads,
            self.hidden_dim,
            dropout=self.dropout,
            name="target_attention",
        )
        shape = (None, None, self.hidden_dim)
        self.attention.build(shape, shape, shape)
        self.query_norm = keras.layers.LayerNormalization(epsilon=1e-6, name="query_norm")
        self.query_norm.build(shape)
        self.key_norm = keras.layers.LayerNormalization(epsilon=1e-6, name="key_norm")
        self.key_norm.build(shape)
        self.mlp = [
            keras.layers.Dense(units, activation="relu", name=f"mlp_{index}")
            for index, units in enumerate(self.hidden_units)
        ]
        width = 4 * self.hidden_dim + int(self.rank_in_mlp)
        for layer in self.mlp:
            layer.build((None, None, width))
            width = layer.units
        self.mlp_dropout = keras.layers.Dropout(self.dropout)
        self.id_dropout_seed = keras.random.SeedGenerator(0, name="id_dropout_seed")
        self.output_layer = keras.layers.Dense(1, name="score")
        self.output_layer.build((None, None, width))
        # "joint": the retriever's order is the starting point, `score = mlp - rank_weight *
        # log(rank)` with `rank_weight` = 1 at first, so an untrained (or data-starved) ranker
        # keeps it. "stacked": `ranker_weight * mlp - rank_weight * log(rank)`, both set by
        # `set_blend` after training (1 and 0 until then: the attention model alone).
        stacked = self.blend == "stacked"
        self.rank_weight = (
            self.add_weight(
                shape=(),
                initializer=keras.initializers.Constant(0.0 if stacked else 1.0),
                trainable=not stacked,
                name="rank_weight",
            )
            if self.use_retriever_rank
            else None
        )
        self.ranker_weight = (
            self.add_weight(
                shape=(),
                initializer=keras.initializers.Constant(1.0),
                trainable=False,
                name="ranker_weight",
            )
            if self.use_retriever_rank and stacked
            else None
        )

    @property
    def rank_in_mlp(self) -> bool:
        """Whether the MLP reads `log(rank)` (the `"joint"` blend with the retriever rank)."""
        return self.use_retriever_rank and self.blend == "joint"

    def set_blend(self, ranker_weight: float, rank_weight: float) -> None:
        """Set the `"stacked"` blend: `score = ranker_weight * mlp - rank_weight * log(rank)`."""
        if self.ranker_weight is None:
            raise ValueError(
                "Expected a ranker with blend='stacked' and use_retriever_rank. Received: "
                f"blend={self.blend!r}, use_retriever_rank={self.use_retriever_rank}"
            )
        for name, value in (("ranker_weight", ranker_weight), ("rank_weight", rank_weight)):
            if not isinstance(value, int | float) or not math.isfinite(value):
                raise ValueError(f"Expected a finite {name}. Received: {name}={value!r}")
        self.ranker_weight.assign(float(ranker_weight))
        self.rank_weight.assign(float(rank_weight))

    def set_item_features(self, feature_ids) -> None:
        """Store the `(num_items, max_features)` feature indices (`ItemFeatureTable`'s)."""
        if not self.built:
            self.build()
        shape = tuple(ops.shape(feature_ids))
        if shape != (self.num_items, self.max_features):
            raise ValueError(
                f"Expected feature_ids of shape {(self.num_items, self.max_features)}. "
                f"Received: shape={shape}"
            )
        self.item_feature_table.assign(ops.cast(feature_ids, "int32"))

    def _items(self, item_ids, training):
        """`(..)` item indices -> `(.., D)` item representations (id + mean of features)."""
        item_ids = ops.cast(item_ids, "int32")
        hidden = None
        if self.use_item_ids:
            ids = ops.where(item_ids >= self.trained_items, OOV_INDEX, item_ids)
            if training and self.id_dropout:
                drop = keras.random.uniform(ops.shape(ids), seed=self.id_dropout_seed)
                drop = drop < self.id_dropout
                ids = ops.where(drop & (ids != PADDING_INDEX), OOV_INDEX, ids)
            hidden = self.item_embedding(ids)
        if self.use_features:
            features = ops.take(self.item_feature_table, item_ids, axis=0)  # (.., F)
            present = ops.cast(features != 0, self.compute_dtype)[..., None]  # (.., F, 1)
            embedded = ops.sum(self.feature_embedding(features) * present, axis=-2)  # (.., D)
            embedded = embedded / ops.maximum(ops.sum(present, axis=-2), 1.0)
            hidden = embedded if hidden is None else hidden + embedded
        return hidden

    def score_with_attention(self, inputs, training=None):
        """Scores and each candidate's attention over the history.

        Args:
            inputs: as in the class docstring.
            training: dropout and id dropout on or off.

        Returns:
            `scores (B, N)` float32 and `attention (B, N, L)` float32: the heads' mean attention
            of each candidate over the history positions; each row sums to 1 over the real
            (non-padding) positions, and is all zeros for an empty history.
        """
        history = ops.cast(inputs["history"], "int32")[:, -self.max_length :]  # (B, L)
        candidates = ops.cast(inputs["candidates"], "int32")  # (B, N)
        length = ops.shape(history)[1]
        real = history != PADDING_INDEX  # (B, L)
        positions = ops.arange(length, dtype="int32") + (self.max_length - length)  # (L,)
        keys = self._items(history, training) + self.position_embedding(positions)[None]
        keys = self.key_norm(keys) * ops.cast(real, self.compute_dtype)[..., None]  # (B, L, D)
        query = self.query_norm(self._items(candidates, training))  # (B, N, D)
        num_candidates = ops.shape(candidates)[1]
        mask = ops.repeat(real[:, None, :], num_candidates, axis=1)  # (B, N, L)
        attended, weights = self.attention(
            query,
            keys,
            keys,
            attention_mask=mask,
            return_attention_scores=True,
            training=training,
        )  # (B, N, D), (B, H, N, L)
        any_real = ops.cast(ops.any(real, axis=1), self.compute_dtype)[:, None, None]  # (B, 1, 1)
        attended = attended * any_real
        parts = [query, attended, query * attended, query - attended]
        log_ranks = None
        if self.use_retriever_rank:
            ranks = ops.cast(inputs["candidate_ranks"], self.compute_dtype)  # (B, N)
            log_ranks = ops.log(ops.maximum(ranks, 1.0))
            if self.rank_in_mlp:
                parts.append(log_ranks[..., None])
        hidden = ops.concatenate(parts, axis=-1)  # (B, N, 4D [+ 1 with "joint"])
        for layer in self.mlp:
            hidden = self.mlp_dropout(layer(hidden), training=training)
        scores = ops.cast(ops.squeeze(self.output_layer(hidden), -1), "float32")  # (B, N)
        if self.ranker_weight is not None:
            scores = scores * ops.cast(self.ranker_weight, "float32")
        if log_ranks is not None:
            scores = scores - ops.cast(self.rank_weight * log_ranks, "float32")
        attention = ops.mean(ops.cast(weights, "float32"), axis=1)  # (B, N, L)
        attention = attention * ops.cast(real, "float32")[:, None, :]
        total = ops.sum(attention, axis=-1, keepdims=True)
        attention = ops.where(total > 0, attention / ops.maximum(total, 1e-12), 0.0)
        return scores, attention

    def call(self, inputs, training=None):
        scores, _ = self.score_with_attention(inputs, training=training)
        return scores

    def get_config(self):
        config = super().get_config()
        config.update(
            num_items=self.num_items,
            trained_items=self.trained_items,
            num_features=self.num_features,
            max_features=self.max_features,
            max_length=self.max_length,
            hidden_dim=self.hidden_dim,
            num_heads=self.num_heads,
            hidden_units=list(self.hidden_units),
            dropout=self.dropout,
            use_item_ids=self.use_item_ids,
            use_features=self.use_features,
            use_retriever_rank=self.use_retriever_rank,
            id_dropout=self.id_dropout,
            blend=self.blend,
        )
        return config
