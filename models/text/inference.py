"""Load a trained text model folder and predict on raw texts (the API other parts call).

`load_text_model(model_dir).predict(texts)` returns one row per text: `label`, `confidence`,
`probabilities`, `score` (sentiment: p(positive) - p(negative) in [-1, 1]; NaN for intent),
`out_of_scope` (intent: confidence below the calibrated threshold in config.json; the `label`
stays the most likely intent), `tokens` (all tokens of the shared tokeniser) and
`token_attention` (the additive-pooling weight of each token; 0 for tokens past
`sequence_length`, which the model did not see).

When the folder holds a linear ensemble member (`linear.joblib`, weight in config.json),
probabilities are `(1 - w) * attention + w * linear`; the attention weights always come from
the attention model. The TF Serving export (issue 4) wraps the Keras model alone: build its
inputs in-graph with `tokens_to_ids_tensor` (re-exported here), which reproduces the Python ids
exactly; see `models.text.vocabulary` for the id conventions.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from models.text.vocabulary import TextVocabulary, tokens_to_ids_tensor
from pipeline.text_normalization import tokenize

__all__ = ["TextModel", "load_text_model", "tokens_to_ids_tensor"]


class TextModel:
    """A trained text classifier with its vocabulary, labels and decision rules.

    Args:
        model_dir: the folder written by `models.text.training.train_text_model`.
        use_ensemble: average with the linear member when the folder has one.
    """

    def __init__(self, model_dir: str | Path, use_ensemble: bool = True):
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
        self.oos_threshold: float | None = self.config.get("oos_threshold")
        self.vocabulary = TextVocabulary.load(self.model_dir, self.config["vocabulary"])
        self.model = keras.models.load_model(self.model_dir / "model.keras")
        ensemble = self.config.get("ensemble") or {}
        self.linear_weight = float(ensemble.get("linear_weight") or 0.0) if use_ensemble else 0.0
        self.linear_temperature = float(ensemble.get("linear_temperature") or 1.0)
        self.linear = None
        if self.linear_weight > 0:
            import joblib

            self.linear = joblib.load(self.model_dir / ensemble["linear_file"])

    def predict_arrays(
        self, texts: Sequence[str]
    ) -> tuple[list[list[str]], np.ndarray, np.ndarray]:
        """Tokens, probabilities `(N, C)` and token attention `(N, T)` for raw texts."""
        texts = ["" if text is None else str(text) for text in texts]
        tokens = [tokenize(text) for text in texts]
        if not texts:
            return tokens, np.zeros((0, len(self.labels))), np.zeros((0, self.sequence_length))
        features = self.vocabulary.encode_tokens(tokens, self.sequence_length)
        outputs = self.model.predict(features, batch_size=256, verbose=0)
        probabilities = np.asarray(outputs["probabilities"], dtype="float64")
        attention = np.asarray(outputs["token_attention"], dtype="float64")
        if self.linear is not None:
            from models.text.linear import linear_probabilities

            linear = linear_probabilities(self.linear, texts, self.labels, self.linear_temperature)
            probabilities = (1 - self.linear_weight) * probabilities + self.linear_weight * linear
        return tokens, probabilities, attention

    def predict(self, texts: Sequence[str]) -> pd.DataFrame:
        """One row per text (see the module docstring for the columns)."""
        if isinstance(texts, str):
            raise ValueError(
                f"Expected a list of texts, not one string. Received: texts={texts[:40]!r}"
            )
        tokens, probabilities, attention = self.predict_arrays(list(texts))
        best = probabilities.argmax(axis=1) if len(tokens) else np.zeros(0, dtype=int)
        confidence = probabilities.max(axis=1) if len(tokens) else np.zeros(0)
        if self.task == "sentiment":
            score = (
                probabilities[:, self.labels.index("positive")]
                - probabilities[:, self.labels.index("negative")]
            )
            out_of_scope = np.zeros(len(tokens), dtype=bool)
        else:
            score = np.full(len(tokens), np.nan)
            threshold = self.oos_threshold if self.oos_threshold is not None else 0.0
            out_of_scope = confidence < threshold
        token_attention = []
        for row, row_tokens in enumerate(tokens):
            seen = min(len(row_tokens), self.sequence_length)
            weights = attention[row, :seen].tolist() + [0.0] * (len(row_tokens) - seen)
            token_attention.append(weights)
        return pd.DataFrame(
            {
                "label": [self.labels[i] for i in best],
                "confidence": confidence.astype("float64"),
                "probabilities": [row.tolist() for row in probabilities],
                "score": np.clip(score, -1.0, 1.0),
                "out_of_scope": out_of_scope,
                "tokens": tokens,
                "token_attention": token_attention,
            }
        )


def load_text_model(model_dir: str | Path, use_ensemble: bool = True) -> TextModel:
    """Load a text model folder (see `TextModel`)."""
    return TextModel(model_dir, use_ensemble=use_ensemble)
