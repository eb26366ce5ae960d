"""The text classifiers (sentiment, intent) as TF Serving SavedModels: raw text in, label out.

The served graph is the whole wide-and-deep Keras model (models/text/classifier.py), the one
`seqlens score`, the alerts and the dashboard use. Each answer also carries the deep branch's
attention over the text's tokens and the wide branch's per-token contributions.

Signature `serving_default` (method `tensorflow/serving/predict`):

- input `text`, `tf.string` `(B,)`: raw texts, exactly as logged. They are tokenised in-graph
  with the shared rules (`pipeline.text_normalization.normalize_text_tensor`, split on spaces)
  and mapped to ids with the model folder's `tokens.txt` / `ngrams.txt`, both SavedModel assets
  read by `tf.lookup.StaticHashTable`s (token on line `i` -> id `i + 2`, unknown -> 1; n-gram on
  line `i` -> id `i + 1`, unknown n-grams dropped), the recipe of
  `models.text.vocabulary.TextVocabulary.encode_tensor`.
- outputs: `label` `(B,)` string; `classes` `(B, C)` the label names in probability order;
  `probabilities` `(B, C)`; `confidence` `(B,)` (the largest probability); `tokens` `(B, N)`
  every token of the text, padded with `""` to the longest text of the batch; `token_attention`
  `(B, N)` aligned with `tokens` (0 past the model's `sequence_length`, which it did not read);
  `wide_contributions` `(B, N)` aligned with `tokens`: each token's share of the wide branch's
  logit of the predicted class (its unigram and character n-gram terms, half of each bigram;
  read from the asset `wide_features.txt`, line `i` -> id `i + 1`, rebuilt in-graph by
  `models.text.wide_features.encode_wide_tensor`); sentiment adds `score` `(B,)` =
  p(positive) - p(negative); intent adds `out_of_scope_score` `(B,)` (the configured score,
  higher = more likely out of scope), `out_of_scope` `(B,)` (that score above the calibrated
  threshold) and each score, `oos_max_softmax`, `oos_energy`, `oos_mahalanobis` `(B,)`
  (`models.text.out_of_scope`).

An empty text has no tokens; the model then sees only padding and answers its prior (a defined
output, no error).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from models.serving.gate import TEXT_TASKS
from models.serving.savedmodel import export_savedmodel

TOKENS_ASSET_NAME = "tokens.txt"
NGRAMS_ASSET_NAME = "ngrams.txt"
WIDE_ASSET_NAME = "wide_features.txt"


@dataclass(frozen=True)
class TextServingSpec:
    """Labels, vocabularies and decision rules of a text model.

    Args:
        task: `sentiment` or `intent`.
        labels: label names in probability order.
        sequence_length: tokens the model reads, `T`.
        tokens: the token vocabulary (id `i + 2`).
        ngrams: the character n-gram vocabulary (id `i + 1`), or `None`.
        ngram_min, ngram_max, ngrams_per_token: the n-gram settings.
        oos_threshold: intent only: `out_of_scope_score` above it is out of scope.
        oos_score: intent only: which score decides (`max_softmax`, `energy`, `mahalanobis`).
        wide_features: the wide branch's feature strings (id `i + 1`), or `None` (no wide branch).
        wide_ngram_min, wide_ngram_max, wide_ngrams_per_token: the wide n-gram settings.
    """

    task: str
    labels: tuple[str, ...]
    sequence_length: int
    tokens: tuple[str, ...]
    ngrams: tuple[str, ...] | None = None
    ngram_min: int = 3
    ngram_max: int = 5
    ngrams_per_token: int = 16
    oos_threshold: float | None = None
    oos_score: str | None = None
    wide_features: tuple[str, ...] | None = None
    wide_ngram_min: int = 2
    wide_ngram_max: int = 5
    wide_ngrams_per_token: int = 32

    def __post_init__(self) -> None:
        if self.task not in TEXT_TASKS:
            raise ValueError(f"Expected task in {TEXT_TASKS}. Received: task={self.task!r}")
        if len(self.labels) < 2:
            raise ValueError(f"Expected at least two labels. Received: labels={self.labels!r}")
        if self.task == "sentiment" and not {"positive", "negative"} <= set(self.labels):
            raise ValueError(
                "Expected sentiment labels to include 'positive' and 'negative'. "
                f"Received: labels={self.labels!r}"
            )
        if self.sequence_length < 1:
            raise ValueError(
                f"Expected sequence_length >= 1. Received: sequence_length={self.sequence_length}"
            )
        if not self.tokens:
            raise ValueError("Expected a non-empty token vocabulary. Received: tokens=()")
        if self.wide_features is not None and not self.wide_features:
            raise ValueError(
                "Expected a non-empty wide feature list or None. Received: wide_features=()"
            )


def text_spec_from_model(text_model: Any) -> TextServingSpec:
    """The spec of a `models.text.inference.TextModel`."""
    vocabulary, wide = text_model.vocabulary, text_model.wide_vocabulary
    wide_settings = {}
    if wide is not None:
        wide_settings = {
            "wide_features": tuple(wide.features),
            "wide_ngram_min": wide.ngram_min,
            "wide_ngram_max": wide.ngram_max,
            "wide_ngrams_per_token": wide.ngrams_per_token,
        }
    return TextServingSpec(
        task=text_model.task,
        labels=tuple(text_model.labels),
        sequence_length=text_model.sequence_length,
        tokens=tuple(vocabulary.tokens),
        ngrams=tuple(vocabulary.ngrams) if vocabulary.ngrams else None,
        ngram_min=vocabulary.ngram_min,
        ngram_max=vocabulary.ngram_max,
        ngrams_per_token=vocabulary.ngrams_per_token,
        oos_threshold=text_model.oos_threshold,
        oos_score=text_model.oos_score,
        **wide_settings,
    )


def build_text_serving_module(
    model: Any,
    spec: TextServingSpec,
    tokens_path: str,
    ngrams_path: str | None,
    wide_path: str | None = None,
) -> Any:
    """A `tf.Module` tracking the Keras model, the vocabulary tables and `serving_default`
    (`export_savedmodel` tracks the variables it reads)."""
    import tensorflow as tf

    from models.text.wide_features import encode_wide_tensor, model_inputs
    from pipeline.text_normalization import normalize_text_tensor

    module = tf.Module()
    line = tf.lookup.TextFileIndex
    module.tokens = tf.saved_model.Asset(tokens_path)
    module.token_table = tf.lookup.StaticHashTable(
        tf.lookup.TextFileInitializer(
            module.tokens, tf.string, line.WHOLE_LINE, tf.int64, line.LINE_NUMBER
        ),
        default_value=-1,
    )
    if ngrams_path is not None:
        module.ngrams = tf.saved_model.Asset(ngrams_path)
        module.ngram_table = tf.lookup.StaticHashTable(
            tf.lookup.TextFileInitializer(
                module.ngrams, tf.string, line.WHOLE_LINE, tf.int64, line.LINE_NUMBER
            ),
            default_value=-1,
        )
    if wide_path is not None:
        module.wide_features = tf.saved_model.Asset(wide_path)
        module.wide_table = tf.lookup.StaticHashTable(
            tf.lookup.TextFileInitializer(
                module.wide_features, tf.string, line.WHOLE_LINE, tf.int64, line.LINE_NUMBER
            ),
            default_value=-1,
        )
    labels = tf.constant(list(spec.labels))
    length, per_token = spec.sequence_length, spec.ngrams_per_token

    def features_of(pieces):
        seen = pieces[:, :length]  # ragged (B, <=T)
        found = tf.ragged.map_flat_values(module.token_table.lookup, seen)
        token_ids = tf.ragged.map_flat_values(lambda ids: tf.where(ids >= 0, ids + 2, 1), found)
        features = {
            "token_ids": tf.cast(
                token_ids.to_tensor(default_value=0, shape=[None, length]), tf.int32
            )
        }
        if ngrams_path is not None:
            characters = tf.strings.unicode_split(
                tf.strings.join(["<", seen.flat_values, ">"]), "UTF-8"
            )
            grams = tf.strings.ngrams(
                characters,
                ngram_width=tuple(range(spec.ngram_min, spec.ngram_max + 1)),
                separator="",
            )  # ragged (W, None)
            gram_ids = tf.ragged.map_flat_values(module.ngram_table.lookup, grams) + 1
            gram_ids = tf.ragged.boolean_mask(gram_ids, gram_ids > 0)[:, :per_token]
            dense = gram_ids.to_tensor(default_value=0, shape=[None, per_token])  # (W, G)
            per_text = tf.RaggedTensor.from_row_splits(dense, seen.row_splits)
            features["ngram_ids"] = tf.cast(
                per_text.to_tensor(default_value=0, shape=[None, length, per_token]), tf.int32
            )
        if wide_path is not None:
            features.update(
                encode_wide_tensor(seen, lambda keys: module.wide_table.lookup(keys) + 1, spec)
            )
        return model_inputs(model, features)

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="text")])
    def serving_default(text):
        # Checked at run time (TF Serving does not check shapes): names the input on a mismatch.
        text = tf.ensure_shape(text, [None], name="text_must_be_1D_batch_of_strings")
        pieces = tf.strings.split(normalize_text_tensor(text), sep=" ")
        pieces = tf.ragged.boolean_mask(pieces, tf.strings.length(pieces) > 0)  # (B, None)
        outputs = model(features_of(pieces), training=False)
        probabilities = tf.cast(outputs["probabilities"], tf.float32)  # (B, C)
        best = tf.argmax(probabilities, axis=1, output_type=tf.int32)
        tokens = pieces.to_tensor(default_value="")  # (B, N)
        width = tf.shape(tokens)[1]

        def per_token(values):  # (B, T) -> (B, N), 0 on padding and past T
            values = tf.pad(values, [[0, 0], [0, tf.maximum(width - length, 0)]])[:, :width]
            return tf.where(tf.not_equal(tokens, ""), values, 0.0)

        attention = per_token(tf.cast(outputs["token_attention"], tf.float32))
        contributions = tf.cast(outputs["wide_contributions"], tf.float32)  # (B, T, C)
        contributions = tf.gather(contributions, best, axis=2, batch_dims=1)  # (B, T)
        confidence = tf.reduce_max(probabilities, axis=1)
        result = {
            "label": tf.gather(labels, best),
            "classes": tf.tile(labels[None, :], [tf.shape(text)[0], 1]),
            "probabilities": probabilities,
            "confidence": confidence,
            "tokens": tokens,
            "token_attention": attention,
            "wide_contributions": per_token(contributions),
        }
        if spec.task == "sentiment":
            positive, negative = spec.labels.index("positive"), spec.labels.index("negative")
            result["score"] = tf.clip_by_value(
                probabilities[:, positive] - probabilities[:, negative], -1.0, 1.0
            )
        else:
            for name in ("max_softmax", "energy", "mahalanobis"):
                if f"oos_{name}" in outputs:
                    result[f"oos_{name}"] = tf.cast(outputs[f"oos_{name}"], tf.float32)
            score = result[f"oos_{spec.oos_score or 'max_softmax'}"]
            threshold = spec.oos_threshold if spec.oos_threshold is not None else float("inf")
            result["out_of_scope_score"] = score
            result["out_of_scope"] = score > threshold
        return result

    module.serving_default = serving_default
    return module


WARMUP_TEXTS = (
    "Shares of $AAPL rose 3.5% after strong earnings",
    "",
    "I can't log in to my account!",
)


def export_text_savedmodel(
    model: Any,
    spec: TextServingSpec,
    export_dir: str | Path,
    model_name: str,
    metadata: dict[str, Any] | None = None,
) -> Path:
    """Write the SavedModel (signature, vocabulary assets, warm-up requests, metadata) to
    `export_dir` through the shared skeleton `models.serving.savedmodel.export_savedmodel`.

    Args:
        model: the Keras wide-and-deep text model, TensorFlow backend.
        spec: labels, vocabularies and decision rules (`text_spec_from_model`).
        export_dir: the folder to create (must not exist; normally a temporary publish folder).
        model_name: the servable name written into the warm-up requests.
        metadata: extra JSON written to `assets.extra/seqlens_export.json` (e.g. metrics).

    Returns:
        `export_dir` as a `Path`.
    """
    assets = {TOKENS_ASSET_NAME: spec.tokens}
    if spec.ngrams:
        assets[NGRAMS_ASSET_NAME] = spec.ngrams
    if spec.wide_features:
        assets[WIDE_ASSET_NAME] = spec.wide_features
    return export_savedmodel(
        export_dir,
        model_name,
        kind=spec.task,
        build_module=lambda asset_paths: build_text_serving_module(
            model,
            spec,
            asset_paths[TOKENS_ASSET_NAME],
            asset_paths.get(NGRAMS_ASSET_NAME),
            asset_paths.get(WIDE_ASSET_NAME),
        ),
        signature_names=["serving_default"],
        assets=assets,
        warmup_inputs=[{"text": np.array(WARMUP_TEXTS[:1])}, {"text": np.array(WARMUP_TEXTS)}],
        metadata={
            "labels": list(spec.labels),
            "sequence_length": spec.sequence_length,
            "oos_threshold": spec.oos_threshold,
            "oos_score": spec.oos_score,
            **(metadata or {}),
        },
    )
