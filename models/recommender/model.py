"""SASRec-family next-item recommender: causal self-attention over a user's item history.

Longer than 300 lines for one idea: the shared base and SASRec implement one contract.

Index conventions (also written to the model folder's `config.json`): index 0 is padding
(histories are padded on the left, the most recent item last), index 1 is an unknown item
(OOV), and the item on line `i` (0-based) of `item_vocab.txt` has index `i + 2`. Scores for
indices 0 and 1 are always `-inf`-like, so they are never recommended.

The output layer is the item-embedding table itself (tied weights). `call()` returns hidden
states; the training loss (`compute_loss`) and `score_last()` multiply them with the table.
`encode(item_ids, output=...)` reads the encoder out as one of `ENCODE_OUTPUTS`.
"""

from __future__ import annotations

import math

import keras
from keras import ops

from models.layers.attention_blocks import CausalSelfAttentionBlock, validate_attention_arguments
from models.layers.time_interval_attention import TimeIntervalSelfAttentionBlock
from models.recommender import losses
from models.recommender.config import LOSSES
from models.recommender.sequence_data import ITEM_INDEX_OFFSET, PADDING_INDEX

EXCLUDED_SCORE = -1e9
# What `SequentialRecommender.encode` returns, named for it: all positions or the last one,
# with or without the last block's attention weights.
ENCODE_OUTPUTS = ("sequence", "sequence_and_attention", "last", "last_and_attention")
LAST_OUTPUTS = ("last", "last_and_attention")
ATTENTION_OUTPUTS = ("sequence_and_attention", "last_and_attention")


class SequentialRecommender(keras.Model):
    """Shared part of the sequence recommenders: tied output, losses, last-position scoring.

    `build()` creates the item table `(V, D)` (and the item bias `(V,)`); subclasses extend
    `build()` with their own layers and implement `_encode(item_ids, training, output)`, which
    `encode()` validates and reads out.

    Args:
        vocabulary_size: `V`, items + padding + OOV.
        hidden_dim: `D`, the embedding and hidden width.
        max_length: longest history the model reads.
        loss: `softmax` (full), `sampled_softmax` or `bce`.
        exclude_history_from_loss: with the full softmax, leave each position's history items out
            of its normaliser (as evaluation and serving leave them out of the ranking).
        output_bias: add a learned per-item bias `(V,)` to every item's score (in the losses, in
            `score_items` and wherever the model ranks the catalogue).
        pairwise_weight: with the full softmax, add this many times the BPR term against the
            batch's uniform `negatives` (`losses.uniform_pairwise_loss`); 0 = none.
        label_smoothing: with the full softmax, the uniform share `e` in [0, 1) of each target
            distribution (`losses.full_softmax_loss`); 0 = none.
    """

    def __init__(
        self,
        vocabulary_size: int,
        hidden_dim: int,
        max_length: int,
        loss: str = "softmax",
        exclude_history_from_loss: bool = False,
        output_bias: bool = False,
        pairwise_weight: float = 0.0,
        label_smoothing: float = 0.0,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if vocabulary_size <= ITEM_INDEX_OFFSET:
            raise ValueError(
                f"Expected vocabulary_size > {ITEM_INDEX_OFFSET} (items + padding + OOV). "
                f"Received: vocabulary_size={vocabulary_size}"
            )
        if hidden_dim < 1:
            raise ValueError(f"Expected hidden_dim >= 1. Received: hidden_dim={hidden_dim}")
        if max_length < 1:
            raise ValueError(f"Expected max_length >= 1. Received: max_length={max_length}")
        if loss not in LOSSES:
            raise ValueError(f"Expected loss to be one of {LOSSES}. Received: loss={loss!r}")
        if exclude_history_from_loss and loss != "softmax":
            raise ValueError(
                "Expected exclude_history_from_loss only with loss='softmax'. "
                f"Received: loss={loss!r}, exclude_history_from_loss=True"
            )
        if not pairwise_weight >= 0 or (pairwise_weight and loss != "softmax"):
            raise ValueError(
                "Expected pairwise_weight >= 0, and 0 unless loss='softmax'. "
                f"Received: loss={loss!r}, pairwise_weight={pairwise_weight}"
            )
        if not 0 <= label_smoothing < 1 or (label_smoothing and loss != "softmax"):
            raise ValueError(
                "Expected label_smoothing in [0, 1), and 0 unless loss='softmax'. "
                f"Received: loss={loss!r}, label_smoothing={label_smoothing}"
            )
        self.exclude_history_from_loss = bool(exclude_history_from_loss)
        self.label_smoothing = float(label_smoothing)
        self.pairwise_weight = float(pairwise_weight)
        self.vocabulary_size = vocabulary_size
        self.hidden_dim = hidden_dim
        self.max_length = max_length
        self.loss_name = loss
        self.output_bias = bool(output_bias)

    def build(self, input_shape=None):
        # The item table first: the saved weights' layout (`.keras` files) follows this order.
        self.item_embedding = keras.layers.Embedding(
            self.vocabulary_size, self.hidden_dim, name="item_embedding"
        )
        self.item_embedding.build((None, None))
        self.item_bias = (
            self.add_weight(shape=(self.vocabulary_size,), initializer="zeros", name="item_bias")
            if self.output_bias
            else None
        )

    def encode(self, item_ids, training=None, output="sequence"):
        """Encode item histories; return what `output` names.

        Args:
            item_ids: `(B, T)` int indices, left-padded, `T <= max_length`.
            training: dropout on or off.
            output: one of `ENCODE_OUTPUTS`:
                `"sequence"`: hidden states `(B, T, D)` (padding positions zeroed);
                `"sequence_and_attention"`: `(hidden (B, T, D), attention (B, heads, T, T))`,
                the last block's attention weights;
                `"last"`: the last position's hidden state `(B, D)`;
                `"last_and_attention"`: `(last (B, D), attention (B, heads, T))`, the last
                position's attention over the history (the last block). A model may skip work
                that only other positions need.
                Attention is `None` for models without attention.

        Returns:
            The tensor, or the `(hidden, attention)` pair, described under `output`.
        """
        if output not in ENCODE_OUTPUTS:
            raise ValueError(
                f"Expected output to be one of {ENCODE_OUTPUTS}. Received: output={output!r}"
            )
        if not self.built:
            self.build((None, self.max_length))
        hidden, attention = self._encode(item_ids, training, output)  # (B, T', D), (B, H, T', T)
        if output in LAST_OUTPUTS:
            hidden = hidden[:, -1, :]  # (B, D)
            if attention is not None:
                attention = attention[:, :, -1, :]  # (B, H, T)
        if output in ATTENTION_OUTPUTS:
            return hidden, attention
        return hidden

    def _encode(self, item_ids, training, output):
        """`(B, T)` indices -> hidden states `(B, T', D)` and the last block's attention
        `(B, heads, T', T)` (`None` unless `output` asks for it, or without attention).
        `T' = T`, except that for the `last` outputs a model may return `T' >= 1` positions
        ending at the last one."""
        raise NotImplementedError

    def call(self, item_ids, training=None):
        """`(B, T)` item indices -> `(B, T, D)` hidden states (padding positions zeroed)."""
        return self.encode(item_ids, training=training, output="sequence")

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        embeddings = self.item_embedding.embeddings
        if self.loss_name == "softmax":
            history = x if self.exclude_history_from_loss else None
            if isinstance(history, dict):  # time-aware inputs: the items are the history
                history = history["item_ids"]
            loss = losses.full_softmax_loss(
                y_pred,
                embeddings,
                y["targets"],
                inputs=history,
                bias=self.item_bias,
                label_smoothing=self.label_smoothing,
            )
            if self.pairwise_weight:
                loss = loss + self.pairwise_weight * losses.uniform_pairwise_loss(
                    y_pred, embeddings, y["targets"], y["negatives"], bias=self.item_bias
                )
        elif self.loss_name == "sampled_softmax":
            loss = losses.sampled_softmax_loss(
                y_pred,
                embeddings,
                y["targets"],
                y["negatives"],
                y["target_log_q"],
                y["negative_log_q"],
                bias=self.item_bias,
            )
        else:
            loss = losses.binary_cross_entropy_loss(
                y_pred, embeddings, y["targets"], y["negatives"], bias=self.item_bias
            )
        if self.losses:
            loss = loss + ops.sum(self.losses)
        return loss

    def encode_last(self, item_ids):
        """The last position's hidden state and attention: what `score_last` scores.

        Args:
            item_ids: `(B, T)` int indices, left-padded, `T <= max_length`.

        Returns:
            `last (B, D)` float32 and `attention (B, heads, T)` float32 (the last block's
            attention weights of the last position over the history; `None` for models
            without attention).
        """
        last, attention = self.encode(item_ids, training=False, output="last_and_attention")
        last = ops.cast(last, "float32")  # (B, D)
        if attention is not None:
            attention = ops.cast(attention, "float32")  # (B, heads, T)
        return last, attention

    def score_items(self, last):
        """`last (B, D)` -> scores `(B, V)` float32 of every index (padding and OOV very low)."""
        table = ops.cast(self.item_embedding.embeddings, "float32")
        scores = ops.matmul(last, ops.transpose(table))  # (B, V)
        if self.item_bias is not None:
            scores = scores + ops.cast(self.item_bias, "float32")[None, :]
        special = ops.arange(self.vocabulary_size) < ITEM_INDEX_OFFSET
        return ops.where(special[None, :], EXCLUDED_SCORE, scores)

    def score_last(self, item_ids):
        """Scores of every item as the next one, and the last position's attention.

        Args:
            item_ids: `(B, T)` int indices, left-padded, `T <= max_length`.

        Returns:
            `scores (B, V)` float32 (padding and OOV get a very low score) and
            `attention (B, heads, T)` (see `encode_last`).
        """
        last, attention = self.encode_last(item_ids)
        return self.score_items(last), attention

    def get_config(self):
        config = super().get_config()
        config.update(
            vocabulary_size=self.vocabulary_size,
            hidden_dim=self.hidden_dim,
            max_length=self.max_length,
            loss=self.loss_name,
            exclude_history_from_loss=self.exclude_history_from_loss,
            output_bias=self.output_bias,
            pairwise_weight=self.pairwise_weight,
            label_smoothing=self.label_smoothing,
        )
        return config


@keras.saving.register_keras_serializable(package="seqlens")
class SASRecModel(SequentialRecommender):
    """Self-attentive sequential recommendation (Kang & McAuley 2018), pre-norm, tied output.

    Item embeddings (scaled by `sqrt(D)`) plus learned position embeddings, dropout, then
    `num_blocks` `CausalSelfAttentionBlock`s and a final layer norm. Positions count from the
    right: the most recent item always has position `max_length - 1`, so a shorter batch
    (`T < max_length`) reads exactly like a left-padded full-length one.

    Args:
        vocabulary_size, hidden_dim, max_length, loss: see `SequentialRecommender`.
        num_blocks: number of Transformer blocks.
        num_heads: attention heads per block; `hidden_dim` must be divisible by it.
        dropout: dropout rate (embeddings, attention output, feed-forward).
        attention_window: `None` (full causal attention) or the local window length.
        flash_attention: MHA's `flash_attention` (`None` auto, `True` on, `False` off).
        time_intervals: time-aware attention (TiSASRec-style): the blocks are
            `TimeIntervalSelfAttentionBlock`s, which add a learned bias per head and bucketed
            time interval between positions to the attention logits; the inputs then carry
            timestamps (below). Not with `flash_attention=True`.

    Call arguments:
        item_ids: `(B, T)` int item indices, `T <= max_length`, 0 = padding; with
            `time_intervals`, the dict `{"item_ids": (B, T), "timestamps": (B, T)}` (integer
            seconds, any origin per row, e.g. relative to the latest event).

    Returns:
        `(B, T, D)` hidden states.
    """

    def __init__(
        self,
        vocabulary_size: int,
        hidden_dim: int = 64,
        max_length: int = 50,
        loss: str = "softmax",
        num_blocks: int = 2,
        num_heads: int = 2,
        dropout: float = 0.2,
        attention_window: int | None = None,
        flash_attention: bool | None = False,
        time_intervals: bool = False,
        **kwargs,
    ):
        super().__init__(vocabulary_size, hidden_dim, max_length, loss, **kwargs)
        if num_blocks < 1:
            raise ValueError(f"Expected num_blocks >= 1. Received: num_blocks={num_blocks}")
        validate_attention_arguments(hidden_dim, num_heads, dropout, attention_window)
        if flash_attention not in (None, True, False):
            raise ValueError(
                "Expected flash_attention to be None, True or False. "
                f"Received: flash_attention={flash_attention!r}"
            )
        if not isinstance(time_intervals, bool) or (time_intervals and flash_attention):
            raise ValueError(
                "Expected time_intervals to be a bool, and not with flash_attention=True. "
                f"Received: time_intervals={time_intervals!r}, flash_attention={flash_attention!r}"
            )
        self.time_intervals = time_intervals
        self.num_blocks = num_blocks
        self.num_heads = num_heads
        self.dropout = dropout
        self.attention_window = attention_window
        self.flash_attention = flash_attention

    def build(self, input_shape=None):
        super().build(input_shape)  # the item table (and bias) come first in the saved layout
        shape = (None, None, self.hidden_dim)
        self.position_embedding = keras.layers.Embedding(
            self.max_length, self.hidden_dim, name="position_embedding"
        )
        self.position_embedding.build((None, None))
        self.input_dropout = keras.layers.Dropout(self.dropout)
        if self.time_intervals:
            self.blocks = [
                TimeIntervalSelfAttentionBlock(
                    self.hidden_dim,
                    self.num_heads,
                    self.dropout,
                    self.attention_window,
                    name=f"block_{index}",
                )
                for index in range(self.num_blocks)
            ]
        else:
            self.blocks = [
                CausalSelfAttentionBlock(
                    self.hidden_dim,
                    self.num_heads,
                    self.dropout,
                    self.attention_window,
                    self.flash_attention,
                    name=f"block_{index}",
                )
                for index in range(self.num_blocks)
            ]
        for block in self.blocks:
            block.build(shape)
        self.final_norm = keras.layers.LayerNormalization(epsilon=1e-6, name="final_norm")
        self.final_norm.build(shape)

    def _split_inputs(self, inputs):
        """`(item_ids, timestamps)`: timestamps `None` without `time_intervals`."""
        if not self.time_intervals:
            if isinstance(inputs, dict):
                raise ValueError(
                    "Expected a (B, T) item-index tensor (this model has time_intervals=False). "
                    f"Received: a dict with keys {sorted(inputs)}"
                )
            return inputs, None
        if not isinstance(inputs, dict) or set(inputs) != {"item_ids", "timestamps"}:
            received = sorted(inputs) if isinstance(inputs, dict) else type(inputs).__name__
            raise ValueError(
                "Expected the inputs {'item_ids': (B, T), 'timestamps': (B, T)} (this model has "
                f"time_intervals=True). Received: {received}"
            )
        item_ids, timestamps = inputs["item_ids"], inputs["timestamps"]
        if tuple(item_ids.shape) != tuple(timestamps.shape) and None not in (
            *item_ids.shape,
            *timestamps.shape,
        ):
            raise ValueError(
                "Expected one timestamp per history position. Received: item_ids shape="
                f"{tuple(item_ids.shape)}, timestamps shape={tuple(timestamps.shape)}"
            )
        return item_ids, ops.cast(timestamps, "int32")

    def _encode(self, item_ids, training, output):
        item_ids, timestamps = self._split_inputs(item_ids)
        item_ids = ops.cast(item_ids, "int32")
        length = ops.shape(item_ids)[1]
        padding_mask = ops.not_equal(item_ids, PADDING_INDEX)  # (B, T)
        keep = ops.cast(ops.expand_dims(padding_mask, -1), self.compute_dtype)  # (B, T, 1)
        positions = ops.arange(length, dtype="int32") + (self.max_length - length)  # (T,)
        hidden = self.item_embedding(item_ids) * ops.cast(
            math.sqrt(self.hidden_dim), self.compute_dtype
        )
        hidden = hidden + self.position_embedding(positions)[None, :, :]
        hidden = self.input_dropout(hidden, training=training) * keep  # (B, T, D)
        attention = None
        # Only the last position of the last block is read when predicting the next item; with
        # full attention the last block can compute it alone (a quarter of the forward pass).
        shortcut = output in LAST_OUTPUTS and self.attention_window is None
        times = () if timestamps is None else (timestamps,)  # the time-aware blocks' argument
        for index, block in enumerate(self.blocks):
            final = index == len(self.blocks) - 1
            only_last = shortcut and final
            if output in ATTENTION_OUTPUTS and final:
                hidden, attention = block(
                    hidden,
                    *times,
                    padding_mask,
                    return_attention_scores=True,
                    training=training,
                    last_query_only=only_last,
                )
            else:
                hidden = block(
                    hidden, *times, padding_mask, training=training, last_query_only=only_last
                )
            hidden = hidden * (keep[:, -1:, :] if only_last else keep)  # (B, T', D)
        return self.final_norm(hidden) * (keep[:, -1:, :] if shortcut else keep), attention

    def get_config(self):
        config = super().get_config()
        config.update(
            num_blocks=self.num_blocks,
            num_heads=self.num_heads,
            dropout=self.dropout,
            attention_window=self.attention_window,
            flash_attention=self.flash_attention,
            time_intervals=self.time_intervals,
        )
        return config
