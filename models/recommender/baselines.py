"""Baselines beside the attention model, scored by the same metric code.

- `MostPopularScorer`: every user gets the catalogue ordered by training frequency.
- `MarkovChainScorer`: first-order Markov chain: next-item transition counts from the user's
  last item (ties and unseen items fall back to popularity).
- `GRU4RecModel`: a GRU4Rec-style recurrent model (embedding, GRU, tied output) that the same
  trainer trains with the same losses: the recurrent model the attention model must beat.
"""

from __future__ import annotations

import keras
import numpy as np
from keras import ops
from scipy import sparse

from models.recommender.model import SequentialRecommender
from models.recommender.sequence_data import ITEM_INDEX_OFFSET, PADDING_INDEX


class MostPopularScorer:
    """Scores = training item counts (the same list for every user)."""

    def __init__(self, item_counts: np.ndarray):
        self.scores = np.asarray(item_counts, dtype=np.float64)

    def __call__(self, histories: list[np.ndarray]) -> np.ndarray:
        """`(B, V)` scores."""
        return np.broadcast_to(self.scores, (len(histories), len(self.scores)))


class MarkovChainScorer:
    """First-order Markov chain on training transitions `(a -> b)` of consecutive items.

    Args:
        sequences: training sequences (index arrays).
        vocabulary_size: `V`.
    """

    def __init__(self, sequences: list[np.ndarray], vocabulary_size: int):
        if vocabulary_size <= ITEM_INDEX_OFFSET:
            raise ValueError(
                f"Expected vocabulary_size > 2. Received: vocabulary_size={vocabulary_size}"
            )
        pairs = [np.stack([s[:-1], s[1:]], axis=1) for s in sequences if len(s) >= 2]
        pairs_array = np.concatenate(pairs) if pairs else np.zeros((0, 2), dtype=np.int64)
        self.transitions = sparse.csr_matrix(
            (np.ones(len(pairs_array)), (pairs_array[:, 0], pairs_array[:, 1])),
            shape=(vocabulary_size, vocabulary_size),
        )
        counts = np.bincount(np.concatenate(sequences), minlength=vocabulary_size).astype(
            np.float64
        )
        # Popularity breaks ties: strictly below one transition count.
        self.fallback = 0.5 * counts / max(counts.max(), 1.0)

    def __call__(self, histories: list[np.ndarray]) -> np.ndarray:
        """`(B, V)` scores: transition counts from each history's last item, plus the fallback."""
        last = np.array([h[-1] if len(h) else PADDING_INDEX for h in histories])
        return self.transitions[last].toarray() + self.fallback[None, :]


@keras.saving.register_keras_serializable(package="seqlens")
class GRU4RecModel(SequentialRecommender):
    """GRU4Rec-style recommender: item embedding -> dropout -> GRU -> tied output.

    Args:
        vocabulary_size, hidden_dim, max_length, loss: see `SequentialRecommender`.
        dropout: dropout rate on the embeddings and the GRU output.

    Call arguments:
        item_ids: `(B, T)` int item indices, left-padded with 0.

    Returns:
        `(B, T, D)` hidden states; `score_last` gives `attention=None`.
    """

    def __init__(
        self,
        vocabulary_size: int,
        hidden_dim: int = 64,
        max_length: int = 50,
        loss: str = "softmax",
        dropout: float = 0.2,
        **kwargs,
    ):
        super().__init__(vocabulary_size, hidden_dim, max_length, loss, **kwargs)
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"Expected dropout in [0, 1). Received: dropout={dropout}")
        self.dropout = dropout

    def build(self, input_shape=None):
        super().build(input_shape)  # the item table (and bias) come first in the saved layout
        self.embedding_dropout = keras.layers.Dropout(self.dropout)
        self.gru = keras.layers.GRU(self.hidden_dim, return_sequences=True, name="gru")
        self.gru.build((None, None, self.hidden_dim))
        self.output_dropout = keras.layers.Dropout(self.dropout)

    def _encode(self, item_ids, training, output):
        """`(B, T)` indices -> `(B, T, D)` hidden states and no attention (`None`)."""
        item_ids = ops.cast(item_ids, "int32")
        padding_mask = ops.not_equal(item_ids, PADDING_INDEX)  # (B, T)
        hidden = self.embedding_dropout(self.item_embedding(item_ids), training=training)
        hidden = self.gru(hidden, mask=padding_mask, training=training)  # (B, T, D)
        hidden = self.output_dropout(hidden, training=training)
        return hidden * ops.cast(ops.expand_dims(padding_mask, -1), hidden.dtype), None

    def get_config(self):
        config = super().get_config()
        config.update(dropout=self.dropout)
        return config
