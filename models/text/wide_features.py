"""The wide branch's sparse features: word 1-2-grams and character n-grams, per token position.

The wide branch is a linear model on sublinear TF-IDF features, as the TF-IDF baseline
(`models.text.linear`), but inside the Keras graph (`models.text.wide_layer.WideTfidfLogits`).
Like the deep branch's ids (`models.text.vocabulary`), the features are computed from the shared
tokeniser's tokens outside the Keras model (NumPy, so training runs on any Keras backend) and
in-graph with TensorFlow for serving (`encode_wide_tensor`); both give identical integers.

Feature strings (one a line in `wide_features.txt`; line `i` has id `i + 1`, 0 = padding and
unknown): `"1 <token>"` (word unigram), `"2 <token> <next token>"` (word bigram), `"c <gram>"`
(a character n-gram of the boundary-marked token `<token>`, widths `ngram_min..ngram_max`).

Per text, only the first `sequence_length` tokens are read (as the deep branch). Position `t`
holds `K = 2 + ngrams_per_token` slots: its unigram, the bigram `(t, t + 1)` (0 at the last
position), then the token's known character n-grams (by width, then position; the first
`ngrams_per_token`). `wide_counts` holds, for every slot, how often its id occurs in the text's
slots (the term frequency; 0 for padding), so the layer computes TF-IDF without counting.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from models.text.vocabulary import token_ngrams

WIDE_FEATURES_FILE = "wide_features.txt"


def _storable(token: str) -> bool:
    return bool(token) and not any(character.isspace() for character in token)


class WideVocabulary:
    """Feature strings and their inverse document frequencies.

    Args:
        features: the feature strings (id `i + 1` for `features[i]`).
        idf: `(len(features),)` smoothed IDF, `ln((1 + n) / (1 + df)) + 1` (scikit-learn's).
        ngram_min, ngram_max: character n-gram widths.
        ngrams_per_token: character n-gram slots per token.
    """

    def __init__(
        self,
        features: Sequence[str],
        idf: Sequence[float],
        ngram_min: int = 2,
        ngram_max: int = 5,
        ngrams_per_token: int = 32,
    ):
        if len(features) != len(idf):
            raise ValueError(
                "Expected one IDF per feature. "
                f"Received: len(features)={len(features)}, len(idf)={len(idf)}"
            )
        if not 1 <= ngram_min <= ngram_max:
            raise ValueError(
                f"Expected 1 <= ngram_min <= ngram_max. Received: ngram_min={ngram_min}, "
                f"ngram_max={ngram_max}"
            )
        if not isinstance(ngrams_per_token, int) or ngrams_per_token < 1:
            raise ValueError(
                f"Expected ngrams_per_token >= 1. Received: ngrams_per_token={ngrams_per_token!r}"
            )
        bad = next((feature for feature in features if "\n" in feature or not feature), None)
        if bad is not None:
            raise ValueError(f"Expected one-line features. Received: feature={bad!r}")
        self.features = list(features)
        self.idf = np.asarray(idf, dtype="float32")
        self.ngram_min, self.ngram_max = ngram_min, ngram_max
        self.ngrams_per_token = ngrams_per_token
        self.feature_to_id = {feature: index + 1 for index, feature in enumerate(self.features)}

    @property
    def size(self) -> int:
        """Feature ids including padding (0)."""
        return len(self.features) + 1

    @property
    def slots_per_token(self) -> int:
        """`K`: unigram, bigram, character n-grams."""
        return 2 + self.ngrams_per_token

    def _candidates(self, tokens: Sequence[str]) -> list[list[str]]:
        """The feature strings of each position of `tokens` (unigram, bigram, n-grams)."""
        result = []
        for position, token in enumerate(tokens):
            strings = [f"1 {token}"]
            if position + 1 < len(tokens):
                strings.append(f"2 {token} {tokens[position + 1]}")
            strings += [f"c {gram}" for gram in token_ngrams(token, self.ngram_min, self.ngram_max)]
            result.append(strings)
        return result

    @classmethod
    def fit(
        cls,
        token_lists: Sequence[Sequence[str]],
        sequence_length: int,
        max_features: int = 100_000,
        min_document_frequency: int = 2,
        ngram_min: int = 2,
        ngram_max: int = 5,
        ngrams_per_token: int = 32,
    ) -> WideVocabulary:
        """Features of the training texts (first `sequence_length` tokens of each).

        Unigrams are always kept; bigrams and character n-grams need `min_document_frequency`
        texts. The `max_features` with the highest document frequency are kept (ties
        alphabetical).
        """
        probe = cls([], [], ngram_min, ngram_max, ngrams_per_token)
        frequency: Counter[str] = Counter()
        for tokens in token_lists:
            seen = [token for token in tokens[:sequence_length]]
            present = {
                feature
                for strings in probe._candidates(seen)
                for feature in strings
                if all(_storable(part) for part in feature.split(" ")[1:])
            }
            frequency.update(present)
        kept = [
            (feature, count)
            for feature, count in frequency.items()
            if feature.startswith("1 ") or count >= min_document_frequency
        ]
        kept.sort(key=lambda item: (-item[1], item[0]))
        kept = kept[:max_features]
        documents = len(token_lists)
        idf = [float(np.log((1 + documents) / (1 + count)) + 1.0) for _, count in kept]
        return cls([f for f, _ in kept], idf, ngram_min, ngram_max, ngrams_per_token)

    def encode_tokens(self, token_lists: Sequence[Sequence[str]], sequence_length: int) -> dict:
        """`{"wide_ids": (N, T, K) int32, "wide_counts": (N, T, K) float32}` (see the module)."""
        count = len(token_lists)
        width = self.slots_per_token
        ids = np.zeros((count, sequence_length, width), dtype="int32")
        counts = np.zeros((count, sequence_length, width), dtype="float32")
        grams_of: dict[str, list[int]] = {}
        for row, tokens in enumerate(token_lists):
            seen = list(tokens[:sequence_length])
            for position, token in enumerate(seen):
                ids[row, position, 0] = self.feature_to_id.get(f"1 {token}", 0)
                if position + 1 < len(seen):
                    bigram = f"2 {token} {seen[position + 1]}"
                    ids[row, position, 1] = self.feature_to_id.get(bigram, 0)
                known = grams_of.get(token)
                if known is None:
                    grams = token_ngrams(token, self.ngram_min, self.ngram_max)
                    known = [self.feature_to_id.get(f"c {gram}", 0) for gram in grams]
                    known = [index for index in known if index][: self.ngrams_per_token]
                    grams_of[token] = known
                ids[row, position, 2 : 2 + len(known)] = known
            present = ids[row][ids[row] > 0]
            if present.size:
                frequency = Counter(present.tolist())
                counts[row] = np.vectorize(frequency.get, otypes=["float32"])(ids[row], 0)
        return {"wide_ids": ids, "wide_counts": counts}

    def save(self, folder: str | Path) -> dict:
        """Write `wide_features.txt`; return the settings for config.json (the IDF weights
        live in the Keras model, `WideTfidfLogits`)."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        (folder / WIDE_FEATURES_FILE).write_text("\n".join(self.features), encoding="utf-8")
        np.save(folder / "wide_idf.npy", self.idf)
        return {
            "features_file": WIDE_FEATURES_FILE,
            "idf_file": "wide_idf.npy",
            "first_feature_id": 1,
            "ngram_min": self.ngram_min,
            "ngram_max": self.ngram_max,
            "ngrams_per_token": self.ngrams_per_token,
        }

    @classmethod
    def load(cls, folder: str | Path, settings: dict) -> WideVocabulary:
        """Read what `save` wrote."""
        folder = Path(folder)
        text = (folder / settings["features_file"]).read_text(encoding="utf-8")
        features = text.split("\n") if text else []
        idf = np.load(folder / settings["idf_file"])
        return cls(
            features,
            idf,
            settings["ngram_min"],
            settings["ngram_max"],
            settings["ngrams_per_token"],
        )


def encode_wide_tensor(pieces: Any, lookup: Any, spec: Any) -> dict:
    """In-graph `wide_ids` / `wide_counts` (TensorFlow), identical to `encode_tokens`.

    Args:
        pieces: ragged `(B, None)` string tokens already truncated to `sequence_length`.
        lookup: feature string tensor -> id (int64, 0 for unknown).
        spec: has `sequence_length`, `wide_ngram_min`, `wide_ngram_max`, `wide_ngrams_per_token`.
    """
    import tensorflow as tf

    length, per_token = spec.sequence_length, spec.wide_ngrams_per_token
    unigrams = tf.ragged.map_flat_values(lambda t: lookup(tf.strings.join(["1 ", t])), pieces)
    left, right = pieces[:, :-1], pieces[:, 1:]
    bigram_strings = tf.strings.join(["2 ", left.flat_values, " ", right.flat_values])
    bigrams = left.with_flat_values(lookup(bigram_strings))
    characters = tf.strings.unicode_split(tf.strings.join(["<", pieces.flat_values, ">"]), "UTF-8")
    grams = tf.strings.ngrams(
        characters,
        ngram_width=tuple(range(spec.wide_ngram_min, spec.wide_ngram_max + 1)),
        separator="",
    )  # ragged (W, None)
    gram_ids = tf.ragged.map_flat_values(lambda g: lookup(tf.strings.join(["c ", g])), grams)
    gram_ids = tf.ragged.boolean_mask(gram_ids, gram_ids > 0)[:, :per_token]
    dense = gram_ids.to_tensor(default_value=0, shape=[None, per_token])  # (W, G)
    per_text = tf.RaggedTensor.from_row_splits(dense, pieces.row_splits)  # (B, None, G)
    ids = tf.concat(
        [
            unigrams.to_tensor(default_value=0, shape=[None, length])[..., None],
            bigrams.to_tensor(default_value=0, shape=[None, length])[..., None],
            per_text.to_tensor(default_value=0, shape=[None, length, per_token]),
        ],
        axis=-1,
    )  # (B, T, K) int64
    batch = tf.shape(ids, out_type=tf.int64)[0]
    rows = tf.broadcast_to(tf.range(batch)[:, None, None], tf.shape(ids, out_type=tf.int64))
    keys = tf.reshape(rows * (tf.reduce_max(ids) + 1) + ids, [-1])
    _, index, frequency = tf.unique_with_counts(keys, out_idx=tf.int64)
    counts = tf.reshape(tf.gather(frequency, index), tf.shape(ids))
    counts = tf.where(ids > 0, tf.cast(counts, tf.float32), 0.0)
    return {"wide_ids": tf.cast(ids, tf.int32), "wide_counts": counts}


def model_inputs(model: Any, features: dict) -> dict:
    """The entries of `features` that `model` takes as inputs (by input name)."""
    names = [tensor.name for tensor in model.inputs]
    missing = [name for name in names if name not in features]
    if missing:
        raise ValueError(f"Expected features for every model input {names}. Received: no {missing}")
    return {name: features[name] for name in names}


def encode_texts(
    vocabulary: Any, wide_vocabulary: WideVocabulary | None, token_lists, sequence_length: int
) -> dict:
    """Every model input for tokenised texts: the deep branch's ids
    (`TextVocabulary.encode_tokens`) and, with a wide vocabulary, the wide slots."""
    features = vocabulary.encode_tokens(token_lists, sequence_length)
    if wide_vocabulary is not None:
        features.update(wide_vocabulary.encode_tokens(token_lists, sequence_length))
    return features
