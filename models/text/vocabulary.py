"""Token vocabulary and character n-gram (sub-word) features for the text models.

Texts are tokenised with the one shared tokeniser (`pipeline.text_normalization.tokenize`),
then mapped to integer ids. Two id spaces, both written as plain files in the model folder so a
TensorFlow serving signature can rebuild them with `tf.lookup.StaticHashTable`:

- `tokens.txt`: one token a line; the token on line `i` (0-based) has id `i + 2`.
  Id `0` is padding, id `1` is out-of-vocabulary (OOV).
- `ngrams.txt` (optional): character n-grams of the boundary-marked token `<token>`; the n-gram
  on line `i` has id `i + 1`; id `0` is padding *and* unknown n-gram (unknown n-grams are dropped).

Python ids (`TextVocabulary.encode`) and TensorFlow ids (`encode_tensor`) are identical for the
same texts; `tests/models/text/test_text_vocabulary.py` checks it on empty, very long and non-Latin
texts.

Id conventions, per text: tokens after the first `sequence_length` are dropped; the token ids
are right-padded with 0. Per token, the n-gram ids are the known n-grams in the order "all
`ngram_min`-grams left to right, then all `ngram_min + 1`-grams, ...", the first
`ngrams_per_token` of them kept, right-padded with 0.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from pipeline.text_normalization import tokenize

PADDING_ID = 0
OOV_ID = 1
TOKENS_FILE = "tokens.txt"
NGRAMS_FILE = "ngrams.txt"


def token_ngrams(token: str, ngram_min: int, ngram_max: int) -> list[str]:
    """Character n-grams of `<token>` in the documented order (by width, then position)."""
    marked = f"<{token}>"
    return [
        marked[start : start + width]
        for width in range(ngram_min, ngram_max + 1)
        for start in range(len(marked) - width + 1)
    ]


def _storable(token: str) -> bool:
    """Tokens that survive a one-a-line text file and `str.split("\\n")`."""
    return bool(token) and not any(character.isspace() for character in token)


class TextVocabulary:
    """Maps raw texts to token ids `(N, T)` and per-token n-gram ids `(N, T, G)`.

    Args:
        tokens: the vocabulary tokens, most frequent first (ids from 2).
        ngrams: the character n-gram vocabulary (ids from 1), or `None` for no sub-word features.
        ngram_min: smallest n-gram width.
        ngram_max: largest n-gram width.
        ngrams_per_token: n-gram ids kept per token, `G`.
    """

    def __init__(
        self,
        tokens: Sequence[str],
        ngrams: Sequence[str] | None = None,
        ngram_min: int = 3,
        ngram_max: int = 5,
        ngrams_per_token: int = 16,
    ):
        if not 1 <= ngram_min <= ngram_max:
            raise ValueError(
                f"Expected 1 <= ngram_min <= ngram_max. Received: ngram_min={ngram_min}, "
                f"ngram_max={ngram_max}"
            )
        if ngrams_per_token < 1:
            raise ValueError(
                f"Expected ngrams_per_token >= 1. Received: ngrams_per_token={ngrams_per_token}"
            )
        bad = next((token for token in tokens if not _storable(token)), None)
        if bad is not None:
            raise ValueError(f"Expected tokens without whitespace. Received: token={bad!r}")
        self.tokens = list(tokens)
        self.ngrams = list(ngrams) if ngrams is not None else None
        self.ngram_min = ngram_min
        self.ngram_max = ngram_max
        self.ngrams_per_token = ngrams_per_token
        self.token_to_id = {token: index + 2 for index, token in enumerate(self.tokens)}
        self.ngram_to_id = (
            {ngram: index + 1 for index, ngram in enumerate(self.ngrams)} if self.ngrams else {}
        )

    @property
    def size(self) -> int:
        """Number of token ids including padding and OOV."""
        return len(self.tokens) + 2

    @property
    def ngram_size(self) -> int:
        """Number of n-gram ids including padding (0 when there are no n-gram features)."""
        return len(self.ngrams) + 1 if self.ngrams else 0

    @classmethod
    def fit(
        cls,
        texts: Iterable[str],
        max_tokens: int = 20_000,
        min_count: int = 1,
        max_ngrams: int = 20_000,
        ngram_min: int = 3,
        ngram_max: int = 5,
        ngrams_per_token: int = 16,
    ) -> TextVocabulary:
        """Build the vocabularies from training texts (ties broken alphabetically).

        `max_ngrams=0` disables the n-gram features.
        """
        token_counts: Counter[str] = Counter()
        for text in texts:
            token_counts.update(token for token in tokenize(text) if _storable(token))
        ranked = sorted(token_counts.items(), key=lambda item: (-item[1], item[0]))
        tokens = [token for token, count in ranked if count >= min_count][:max_tokens]
        ngrams = None
        if max_ngrams > 0:
            ngram_counts: Counter[str] = Counter()
            for token, count in token_counts.items():
                for ngram in set(token_ngrams(token, ngram_min, ngram_max)):
                    ngram_counts[ngram] += count
            ranked_ngrams = sorted(ngram_counts.items(), key=lambda item: (-item[1], item[0]))
            ngrams = [ngram for ngram, count in ranked_ngrams if count >= 2][:max_ngrams]
        return cls(tokens, ngrams, ngram_min, ngram_max, ngrams_per_token)

    def encode_tokens(self, token_lists: Sequence[Sequence[str]], sequence_length: int) -> dict:
        """Ids for already tokenised texts: `{"token_ids": (N, T)[, "ngram_ids": (N, T, G)]}`."""
        if sequence_length < 1:
            raise ValueError(
                f"Expected sequence_length >= 1. Received: sequence_length={sequence_length}"
            )
        count = len(token_lists)
        token_ids = np.zeros((count, sequence_length), dtype="int32")
        ngram_ids = (
            np.zeros((count, sequence_length, self.ngrams_per_token), dtype="int32")
            if self.ngrams
            else None
        )
        cache: dict[str, list[int]] = {}
        for row, tokens in enumerate(token_lists):
            for position, token in enumerate(tokens[:sequence_length]):
                token_ids[row, position] = self.token_to_id.get(token, OOV_ID)
                if ngram_ids is None:
                    continue
                known = cache.get(token)
                if known is None:
                    known = [
                        self.ngram_to_id[ngram]
                        for ngram in token_ngrams(token, self.ngram_min, self.ngram_max)
                        if ngram in self.ngram_to_id
                    ][: self.ngrams_per_token]
                    cache[token] = known
                ngram_ids[row, position, : len(known)] = known
        features = {"token_ids": token_ids}
        if ngram_ids is not None:
            features["ngram_ids"] = ngram_ids
        return features

    def encode(self, texts: Sequence[str], sequence_length: int) -> dict:
        """Tokenise raw texts and map them to ids (see `encode_tokens`)."""
        return self.encode_tokens([tokenize(text) for text in texts], sequence_length)

    def save(self, folder: str | Path) -> dict:
        """Write `tokens.txt` (and `ngrams.txt`); return the settings for config.json."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        (folder / TOKENS_FILE).write_text("\n".join(self.tokens), encoding="utf-8")
        if self.ngrams:
            (folder / NGRAMS_FILE).write_text("\n".join(self.ngrams), encoding="utf-8")
        return {
            "tokens_file": TOKENS_FILE,
            "ngrams_file": NGRAMS_FILE if self.ngrams else None,
            "padding_id": PADDING_ID,
            "oov_id": OOV_ID,
            "first_token_id": 2,
            "first_ngram_id": 1,
            "ngram_min": self.ngram_min,
            "ngram_max": self.ngram_max,
            "ngrams_per_token": self.ngrams_per_token,
        }

    @classmethod
    def load(cls, folder: str | Path, settings: dict) -> TextVocabulary:
        """Read the vocabulary written by `save` with the settings it returned."""
        folder = Path(folder)
        text = (folder / settings["tokens_file"]).read_text(encoding="utf-8")
        tokens = text.split("\n") if text else []
        ngrams = None
        if settings.get("ngrams_file"):
            ngrams = (folder / settings["ngrams_file"]).read_text(encoding="utf-8").split("\n")
        return cls(
            tokens,
            ngrams,
            settings["ngram_min"],
            settings["ngram_max"],
            settings["ngrams_per_token"],
        )

    def encode_tensor(self, texts: Any, sequence_length: int) -> dict:
        """The same ids as `encode`, in-graph with TensorFlow, for a `(N,)` string tensor.

        The recipe for a serving signature: `normalize_text_tensor` -> `tf.strings.split` on " "
        (empty pieces dropped) -> truncate to `sequence_length` -> `StaticHashTable` lookup
        (default OOV) -> pad with 0; n-grams: `<` + token + `>` -> `tf.strings.unicode_split` ->
        `tf.strings.ngrams(widths)` -> lookup (unknown 0) -> drop 0 -> first `G` -> pad.
        """
        import tensorflow as tf

        from pipeline.text_normalization import normalize_text_tensor

        normalized = normalize_text_tensor(tf.convert_to_tensor(texts, dtype=tf.string))
        pieces = tf.strings.split(normalized, sep=" ")  # ragged (N, None)
        pieces = tf.ragged.boolean_mask(pieces, tf.strings.length(pieces) > 0)
        pieces = pieces[:, :sequence_length]
        token_table = tf.lookup.StaticHashTable(
            tf.lookup.KeyValueTensorInitializer(
                tf.constant(self.tokens or [""], dtype=tf.string),
                tf.constant(list(range(2, len(self.tokens) + 2)) or [OOV_ID], dtype=tf.int64),
            ),
            default_value=OOV_ID,
        )
        token_ids = tf.ragged.map_flat_values(token_table.lookup, pieces)
        features = {
            "token_ids": tf.cast(
                token_ids.to_tensor(default_value=PADDING_ID, shape=[None, sequence_length]),
                tf.int32,
            )
        }
        if self.ngrams:
            ngram_table = tf.lookup.StaticHashTable(
                tf.lookup.KeyValueTensorInitializer(
                    tf.constant(self.ngrams, dtype=tf.string),
                    tf.constant(list(range(1, len(self.ngrams) + 1)), dtype=tf.int64),
                ),
                default_value=PADDING_ID,
            )
            marked = tf.strings.join(["<", pieces.flat_values, ">"])  # (W,)
            characters = tf.strings.unicode_split(marked, "UTF-8")  # ragged (W, None)
            grams = tf.strings.ngrams(
                characters,
                ngram_width=tuple(range(self.ngram_min, self.ngram_max + 1)),
                separator="",
            )  # ragged (W, None)
            gram_ids = tf.ragged.map_flat_values(ngram_table.lookup, grams)
            gram_ids = tf.ragged.boolean_mask(gram_ids, gram_ids > 0)[:, : self.ngrams_per_token]
            dense = gram_ids.to_tensor(
                default_value=PADDING_ID, shape=[None, self.ngrams_per_token]
            )
            per_text = tf.RaggedTensor.from_row_splits(dense, pieces.row_splits)  # (N, None, G)
            features["ngram_ids"] = tf.cast(
                per_text.to_tensor(
                    default_value=PADDING_ID,
                    shape=[None, sequence_length, self.ngrams_per_token],
                ),
                tf.int32,
            )
        return features


def tokens_to_ids_tensor(model_dir: str | Path, texts: Any) -> dict:
    """In-graph ids for raw `texts` using the vocabulary and `sequence_length` of a model folder.

    The function the export/serving side calls; identical to the Python ids used in training.
    """
    import json

    config = json.loads((Path(model_dir) / "config.json").read_text())
    vocabulary = TextVocabulary.load(model_dir, config["vocabulary"])
    return vocabulary.encode_tensor(texts, config["sequence_length"])
