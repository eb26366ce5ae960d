"""The attention text classifier: embeddings -> Transformer blocks -> additive pooling -> softmax.

One family for both text tasks (finance sentiment, customer-service intent). The model takes
integer ids (see `models.text.vocabulary`): `token_ids (B, T)` and, with sub-word features,
`ngram_ids (B, T, G)`. It returns a dict:

- `probabilities` `(B, C)`: class probabilities;
- `token_attention` `(B, T)`: the additive-pooling weight of each token (0 on padding);
- `self_attention` `(B, blocks, heads, T, T)` when `return_self_attention=True`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields

import keras
from keras import ops

from models.layers.additive_attention_pooling import AdditiveAttentionPooling
from models.layers.text_encoder import TextEmbedding, TransformerBlock


@dataclass(frozen=True)
class TextClassifierConfig:
    """Architecture of the text classifier.

    Args:
        vocabulary_size: token ids including padding (0) and OOV (1).
        num_classes: output classes `C`.
        sequence_length: tokens per text `T`.
        ngram_vocabulary_size: n-gram ids including padding; 0 disables sub-word features.
        ngrams_per_token: n-gram ids per token `G`.
        embedding_dim: model width `D`.
        num_blocks: Transformer blocks.
        num_heads: attention heads per block.
        feed_forward_dim: feed-forward hidden width.
        attention_units: width of the additive-attention scoring layer.
        dropout: dropout rate everywhere.
    """

    vocabulary_size: int
    num_classes: int
    sequence_length: int = 64
    ngram_vocabulary_size: int = 0
    ngrams_per_token: int = 16
    embedding_dim: int = 96
    num_blocks: int = 1
    num_heads: int = 2
    feed_forward_dim: int = 192
    attention_units: int = 64
    dropout: float = 0.1

    def __post_init__(self) -> None:
        for name in (
            "vocabulary_size",
            "sequence_length",
            "embedding_dim",
            "num_blocks",
            "num_heads",
            "feed_forward_dim",
            "attention_units",
            "ngrams_per_token",
        ):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ValueError(
                    f"Expected {name} to be a positive int. Received: {name}={value!r}"
                )
        if not isinstance(self.num_classes, int) or self.num_classes < 2:
            raise ValueError(
                f"Expected num_classes >= 2. Received: num_classes={self.num_classes!r}"
            )

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> TextClassifierConfig:
        names = {field.name for field in fields(cls)}
        return cls(**{key: value for key, value in values.items() if key in names})


@keras.saving.register_keras_serializable(package="seqlens")
class PaddingMask(keras.layers.Layer):
    """`token_ids (B, T)` -> boolean `(B, T)`, True for real tokens (id != 0)."""

    def call(self, token_ids):
        return ops.not_equal(token_ids, 0)

    def compute_output_shape(self, input_shape):
        return input_shape


@keras.saving.register_keras_serializable(package="seqlens")
class StackScores(keras.layers.Layer):
    """Stack per-block attention scores `[(B, H, T, T)] * L` -> `(B, L, H, T, T)`."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True

    def compute_mask(self, inputs, mask=None):
        return None

    def call(self, scores):
        return ops.stack(scores, axis=1)

    def compute_output_shape(self, input_shape):
        first = input_shape[0]
        return (first[0], len(input_shape), *first[1:])


def build_text_classifier(
    config: TextClassifierConfig, return_self_attention: bool = False
) -> keras.Model:
    """Build the functional model (inputs: a dict of id tensors; outputs: the dict above)."""
    token_ids = keras.Input(shape=(config.sequence_length,), dtype="int32", name="token_ids")
    inputs = {"token_ids": token_ids}
    ngram_ids = None
    if config.ngram_vocabulary_size:
        ngram_ids = keras.Input(
            shape=(config.sequence_length, config.ngrams_per_token), dtype="int32", name="ngram_ids"
        )
        inputs["ngram_ids"] = ngram_ids
    padding_mask = PaddingMask(name="padding_mask")(token_ids)  # (B, T)
    hidden = TextEmbedding(
        config.vocabulary_size,
        config.sequence_length,
        config.embedding_dim,
        ngram_vocabulary_size=config.ngram_vocabulary_size,
        dropout=config.dropout,
        name="embedding",
    )(token_ids, ngram_ids)  # (B, T, D)
    block_scores = []
    for index in range(config.num_blocks):
        hidden, scores = TransformerBlock(
            num_heads=config.num_heads,
            key_dim=max(8, config.embedding_dim // config.num_heads),
            feed_forward_dim=config.feed_forward_dim,
            dropout=config.dropout,
            name=f"transformer_block_{index}",
        )(hidden, padding_mask)
        block_scores.append(scores)  # (B, heads, T, T)
    pooled, token_attention = AdditiveAttentionPooling(
        config.attention_units, name="attention_pooling"
    )(hidden, padding_mask)
    pooled = keras.layers.Dropout(config.dropout, name="pooled_dropout")(pooled)
    probabilities = keras.layers.Dense(
        config.num_classes, activation="softmax", name="probabilities"
    )(pooled)
    token_attention = keras.layers.Identity(name="token_attention")(token_attention)
    outputs = {"probabilities": probabilities, "token_attention": token_attention}
    if return_self_attention:
        outputs["self_attention"] = StackScores(name="self_attention")(block_scores)
    return keras.Model(inputs, outputs, name="text_classifier")


def probabilities_model(model: keras.Model) -> keras.Model:
    """The training view of `model`: same inputs and weights, only `probabilities` out."""
    return keras.Model(
        model.inputs, model.get_layer("probabilities").output, name="text_classifier_train"
    )
