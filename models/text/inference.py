"""Load a trained text model folder and predict on raw texts (the API other parts call).

`load_text_model(model_dir).predict(texts)` returns one row per text: `label`, `confidence`,
`probabilities`, `score` (sentiment: p(positive) - p(negative) in [-1, 1]; NaN for intent),
`out_of_scope` (intent: the `out_of_scope_score` above the calibrated threshold in config.json;
the `label` stays the most likely intent), `out_of_scope_score` (the configured score, higher =
more likely out of scope; see `models.text.out_of_scope`), `tokens` (all tokens of the shared
tokeniser), `token_attention` (the deep branch's additive-pooling weight of each token) and
`wide_contributions` (each token's share of the wide branch's logit of the predicted class:
its unigram, character n-grams and half of each bigram it is part of). Tokens past
`sequence_length`, which the model did not see, get 0 in both.

This is the one model that is served: `seqlens score`, the alerts, the dashboard and the TF
Serving SavedModel (models/serving/text_signature.py, which rebuilds the same ids in-graph with
`tokens_to_ids_tensor` and `models.text.wide_features.encode_wide_tensor`) run the same Keras
graph.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from models.text.vocabulary import TextVocabulary, tokens_to_ids_tensor
from models.text.wide_features import WideVocabulary, encode_texts, model_inputs
from pipeline.text_normalization import tokenize

__all__ = ["TextModel", "load_text_model", "tokens_to_ids_tensor"]

# Texts encoded and predicted at a time: the wide slots take `T * K * 8` bytes a text
# (64 * 34 * 8 = 17 KiB), so a 100,000-text log is scored in bounded memory.
PREDICT_CHUNK = 4096


class TextModel:
    """A trained text classifier with its vocabularies, labels and decision rules.

    Args:
        model_dir: the folder written by `models.text.training.train_text_model`.
    """

    def __init__(self, model_dir: str | Path):
        import keras

        import models.layers.additive_attention_pooling  # noqa: F401  (registers custom layers)
        import models.layers.text_encoder  # noqa: F401
        import models.text.classifier  # noqa: F401

        self.model_dir = Path(model_dir)
        config_path = self.model_dir / "config.json"
        if not config_path.exists():
            raise FileNotFoundError(
                f"Expected a text model folder with config.json. Received: model_dir={model_dir}"
            )
        self.config = json.loads(config_path.read_text())
        self.task: str = self.config["task"]
        self.labels: list[str] = list(self.config["labels"])
        self.sequence_length: int = int(self.config["sequence_length"])
        self.oos_score: str | None = self.config.get("oos_score")
        self.oos_thresholds: dict = dict(self.config.get("oos_thresholds") or {})
        self.oos_threshold: float | None = self.config.get("oos_threshold")
        self.vocabulary = TextVocabulary.load(self.model_dir, self.config["vocabulary"])
        wide_settings = self.config.get("wide_vocabulary")
        self.wide_vocabulary = (
            WideVocabulary.load(self.model_dir, wide_settings) if wide_settings else None
        )
        self.model = keras.models.load_model(self.model_dir / "model.keras")

    def predict_outputs(self, texts: Sequence[str]) -> tuple[list[list[str]], dict]:
        """Tokens and the Keras model's output arrays (`probabilities (N, C)`, ...)."""
        texts = ["" if text is None else str(text) for text in texts]
        tokens = [tokenize(text) for text in texts]
        parts: dict[str, list[np.ndarray]] = {}
        for start in range(0, len(tokens), PREDICT_CHUNK):  # bounded memory for long logs
            features = encode_texts(
                self.vocabulary,
                self.wide_vocabulary,
                tokens[start : start + PREDICT_CHUNK],
                self.sequence_length,
            )
            outputs = self.model.predict(
                model_inputs(self.model, features), batch_size=256, verbose=0
            )
            for name, value in outputs.items():
                parts.setdefault(name, []).append(np.asarray(value))
        return tokens, {name: np.concatenate(values) for name, values in parts.items()}

    def predict(self, texts: Sequence[str]) -> pd.DataFrame:
        """One row per text (see the module docstring for the columns)."""
        if isinstance(texts, str):
            raise ValueError(
                f"Expected a list of texts, not one string. Received: texts={texts[:40]!r}"
            )
        tokens, outputs = self.predict_outputs(list(texts))
        count = len(tokens)
        if not count:
            outputs = {
                "probabilities": np.zeros((0, len(self.labels))),
                "token_attention": np.zeros((0, self.sequence_length)),
                "wide_contributions": np.zeros((0, self.sequence_length, len(self.labels))),
            }
        probabilities = outputs["probabilities"].astype("float64")
        best = probabilities.argmax(axis=1) if count else np.zeros(0, dtype=int)
        confidence = probabilities.max(axis=1) if count else np.zeros(0)
        oos_score = np.full(count, np.nan)
        if self.task == "sentiment":
            score = (
                probabilities[:, self.labels.index("positive")]
                - probabilities[:, self.labels.index("negative")]
            )
            out_of_scope = np.zeros(count, dtype=bool)
        else:
            score = np.full(count, np.nan)
            if count and self.oos_score:
                oos_score = outputs[f"oos_{self.oos_score}"].astype("float64")
            threshold = self.oos_threshold if self.oos_threshold is not None else np.inf
            out_of_scope = oos_score > threshold
        attention = outputs["token_attention"].astype("float64")
        contributions = outputs["wide_contributions"].astype("float64")  # (N, T, C)
        token_attention, wide_contributions = [], []
        for row, row_tokens in enumerate(tokens):
            seen = min(len(row_tokens), self.sequence_length)
            padding = [0.0] * (len(row_tokens) - seen)
            token_attention.append(attention[row, :seen].tolist() + padding)
            wide_contributions.append(contributions[row, :seen, best[row]].tolist() + padding)
        return pd.DataFrame(
            {
                "label": [self.labels[i] for i in best],
                "confidence": confidence.astype("float64"),
                "probabilities": [row.tolist() for row in probabilities],
                "score": np.clip(score, -1.0, 1.0),
                "out_of_scope": out_of_scope,
                "out_of_scope_score": oos_score,
                "tokens": tokens,
                "token_attention": token_attention,
                "wide_contributions": wide_contributions,
            }
        )


def load_text_model(model_dir: str | Path) -> TextModel:
    """Load a text model folder (see `TextModel`)."""
    return TextModel(model_dir)
