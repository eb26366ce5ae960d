"""The wide-and-deep text classifier: one Keras graph, two branches, logits added.

One family for both text tasks (finance sentiment, customer-service intent), the Wide & Deep
pattern (Cheng et al. 2016), trained jointly end to end:

- **deep**: embeddings -> Transformer blocks -> additive attention pooling -> linear logits;
  inputs `token_ids (B, T)` and, with sub-word features, `ngram_ids (B, T, G)`
  (`models.text.vocabulary`);
- **wide**: sublinear TF-IDF of word 1-2-grams and character n-grams -> linear logits
  (`models.text.wide_layer`); inputs `wide_ids`, `wide_counts` `(B, T, K)`
  (`models.text.wide_features`).

`probabilities = softmax(deep_logits + wide_logits)`. Either branch can be left out (the
ablation): `wide_feature_count=0` (deep only) or `deep=False` (wide only). Outputs (a dict):

- `probabilities`, `logits` `(B, C)`;
- `token_attention` `(B, T)`: the additive-pooling weight of each token (0 on padding; all 0
  without the deep branch);
- `wide_contributions` `(B, T, C)`: each token's share of the wide logits (0 without the wide
  branch);
- `oos_max_softmax`, `oos_energy` `(B,)` and, with the deep branch, `oos_mahalanobis` `(B,)`
  and `pooled` `(B, D)` (`models.text.out_of_scope`);
- `self_attention` `(B, blocks, heads, T, T)` when `return_self_attention=True`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields

import keras
from keras import ops

from models.layers.additive_attention_pooling import AdditiveAttentionPooling
from models.layers.text_encoder import TextEmbedding, TransformerBlock
from models.text.out_of_scope import MahalanobisDistance, SoftmaxScores
from models.text.wide_layer import WideTfidfLogits


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
        wide_feature_count: wide feature ids including padding; 0 leaves the wide branch out.
        wide_slots_per_token: wide slots per token position `K`.
        wide_scale: the wide weights' scale (`WideTfidfLogits.scale`).
        wide_learned_scale: a trainable scalar on the wide logits (`WideTfidfLogits`), for
            wide weights fitted first.
        deep: whether the model has the deep (attention) branch.
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
    wide_feature_count: int = 0
    wide_slots_per_token: int = 34
    wide_scale: float = 10.0
    wide_learned_scale: bool = False
    deep: bool = True

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
        if not isinstance(self.wide_feature_count, int) or self.wide_feature_count < 0:
            raise ValueError(
                "Expected wide_feature_count to be an int >= 0. "
                f"Received: wide_feature_count={self.wide_feature_count!r}"
            )
        if not self.deep and not self.wide_feature_count:
            raise ValueError(
                "Expected at least one branch (deep=True or wide_feature_count > 0). "
                f"Received: deep={self.deep}, wide_feature_count={self.wide_feature_count}"
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


@keras.saving.register_keras_serializable(package="seqlens")
class ZerosPerToken(keras.layers.Layer):
    """`token_ids (B, T)` -> zeros `(B, T)` or `(B, T, width)`: the output of a missing branch."""

    def __init__(self, width: int = 0, **kwargs):
        super().__init__(**kwargs)
        self.width = width

    def call(self, token_ids):
        zeros = ops.zeros_like(ops.cast(token_ids, "float32"))
        if self.width:
            return ops.repeat(zeros[..., None], self.width, axis=-1)
        return zeros

    def compute_output_shape(self, input_shape):
        return (*input_shape, self.width) if self.width else input_shape

    def get_config(self):
        return {**super().get_config(), "width": self.width}


def build_text_classifier(
    config: TextClassifierConfig, return_self_attention: bool = False
) -> keras.Model:
    """Build the functional model (inputs: a dict of id tensors; outputs: the dict above)."""
    token_ids = keras.Input(shape=(config.sequence_length,), dtype="int32", name="token_ids")
    inputs = {"token_ids": token_ids}
    outputs = {}
    logits = []
    if config.deep:
        deep_logits, pooled, token_attention, block_scores = _deep_branch(config, inputs)
        logits.append(deep_logits)
        outputs["pooled"] = keras.layers.Identity(name="pooled")(pooled)
        outputs["oos_mahalanobis"] = MahalanobisDistance(
            config.num_classes, config.embedding_dim, name="mahalanobis"
        )(pooled)
        if return_self_attention:
            outputs["self_attention"] = StackScores(name="self_attention")(block_scores)
    else:
        token_attention = ZerosPerToken(name="no_attention")(token_ids)
    if config.wide_feature_count:
        shape = (config.sequence_length, config.wide_slots_per_token)
        inputs["wide_ids"] = keras.Input(shape=shape, dtype="int32", name="wide_ids")
        inputs["wide_counts"] = keras.Input(shape=shape, dtype="float32", name="wide_counts")
        wide_logits, contributions = WideTfidfLogits(
            config.wide_feature_count,
            config.num_classes,
            scale=config.wide_scale,
            learned_scale=config.wide_learned_scale,
            name="wide",
        )(inputs["wide_ids"], inputs["wide_counts"])
        logits.append(wide_logits)
    else:
        contributions = ZerosPerToken(config.num_classes, name="no_wide")(token_ids)
    total = logits[0] if len(logits) == 1 else keras.layers.Add(name="add_logits")(logits)
    total = keras.layers.Identity(name="logits")(total)
    probabilities = keras.layers.Softmax(name="probabilities")(total)
    max_softmax, energy = SoftmaxScores(name="softmax_scores")(total)
    outputs.update(
        {
            "probabilities": probabilities,
            "logits": total,
            "token_attention": keras.layers.Identity(name="token_attention")(token_attention),
            "wide_contributions": keras.layers.Identity(name="wide_contributions")(contributions),
            "oos_max_softmax": keras.layers.Identity(name="oos_max_softmax")(max_softmax),
            "oos_energy": keras.layers.Identity(name="oos_energy")(energy),
        }
    )
    return keras.Model(inputs, outputs, name="text_classifier")


def _deep_branch(config: TextClassifierConfig, inputs: dict):
    """Embeddings -> Transformer blocks -> additive pooling -> logits; adds `ngram_ids`."""
    token_ids = inputs["token_ids"]
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
    )(hidden, padding_mask)  # (B, D), (B, T)
    dropped = keras.layers.Dropout(config.dropout, name="pooled_dropout")(pooled)
    deep_logits = keras.layers.Dense(config.num_classes, name="deep_logits")(dropped)
    return deep_logits, pooled, token_attention, block_scores


MARGIN_OFFSET_INPUT = "wide_margin_offset"


def _offset_wide_logits(model: keras.Model):
    """The wide layer called once more with a `(B, C)` margin-offset input (shared weights);
    `(inputs, wide_logits)` of that call."""
    offset = keras.Input(
        shape=(model.get_layer("wide").num_classes,), dtype="float32", name=MARGIN_OFFSET_INPUT
    )
    named = {tensor.name: tensor for tensor in model.inputs}
    wide_logits, _ = model.get_layer("wide")(named["wide_ids"], named["wide_counts"], offset)
    return [*model.inputs, offset], wide_logits


def probabilities_model(model: keras.Model, margin_offset: bool = False) -> keras.Model:
    """The training view of `model`: same inputs and weights, only `probabilities` out.

    With `margin_offset` (wide weights fitted first), one more input, `wide_margin_offset`
    `(B, C)`, is added to the wide margins (`WideTfidfLogits`), so the training texts' wide
    logits are their out-of-fold ones; zeros give the served model exactly.
    """
    if not margin_offset:
        return keras.Model(
            model.inputs, model.get_layer("probabilities").output, name="text_classifier_train"
        )
    inputs, wide_logits = _offset_wide_logits(model)
    logits = [wide_logits]
    if "deep_logits" in [layer.name for layer in model.layers]:
        logits.append(model.get_layer("deep_logits").output)
    total = logits[0] if len(logits) == 1 else keras.layers.Add()(logits)
    return keras.Model(
        inputs, keras.layers.Softmax(name="probabilities")(total), name="text_classifier_train"
    )


def branch_training_model(model: keras.Model, margin_offset: bool = False) -> keras.Model:
    """The joint training view of a wide-and-deep `model`: `probabilities` and each branch's
    own softmax (`deep_probabilities`, `wide_probabilities`), so a small loss on each keeps both
    branches predictive on their own (the deep branch's attention keeps explaining the label
    even where the wide branch alone would fit the data). Same inputs and weights; with
    `margin_offset`, the offset input of `probabilities_model`."""
    inputs = model.inputs
    wide_logits = model.get_layer("wide").output[0]
    deep_logits = model.get_layer("deep_logits").output
    probabilities = model.get_layer("probabilities").output
    if margin_offset:
        inputs, wide_logits = _offset_wide_logits(model)
        probabilities = keras.layers.Softmax(name="probabilities")(
            keras.layers.Add()([wide_logits, deep_logits])
        )
    return keras.Model(
        inputs,
        {
            "probabilities": probabilities,
            "deep_probabilities": keras.layers.Softmax(name="deep_probabilities")(deep_logits),
            "wide_probabilities": keras.layers.Softmax(name="wide_probabilities")(wide_logits),
        },
        name="text_classifier_branch_train",
    )


WIDE_INPUTS = ("wide_ids", "wide_counts")


def deep_training_model(model: keras.Model) -> keras.Model:
    """The stacked fit's training view of a wide-and-deep `model`: the deep branch alone, one
    output `deep_probabilities` `(B, C)`, from the deep inputs only (the frozen wide layer is
    not computed: with many classes it costs more per step than the deep branch). Same
    weights."""
    inputs = [tensor for tensor in model.inputs if tensor.name not in WIDE_INPUTS]
    deep_logits = model.get_layer("deep_logits").output
    return keras.Model(
        inputs,
        {"deep_probabilities": keras.layers.Softmax(name="deep_probabilities")(deep_logits)},
        name="text_classifier_deep_train",
    )
