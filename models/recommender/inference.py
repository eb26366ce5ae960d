"""Load a trained recommender folder and recommend from raw item-id strings.

This is the API the dashboard and the serving export call (see docs/CONTRACTS.md):
`load_recommender(model_dir).recommend(histories, k)`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from models.recommender.sequence_data import (
    ITEM_INDEX_OFFSET,
    OOV_INDEX,
    TimedSequence,
    model_inputs,
)


@dataclass
class Recommendations:
    """Top-k items per user, with the attention that explains them.

    Attributes:
        item_ids: `B` lists of `k` item-id strings, best first.
        scores: `(B, k)` float32 scores of those items.
        attention: `(B, heads, T)` the last position's attention (last block) over the history
            positions in `history` (`T` = the longest truncated history in the batch; shorter
            histories are left-padded with zero weights). `(B, 0, T)` for models without attention.
        history: `B` lists: the (truncated) history each attention row refers to.
    """

    item_ids: list[list[str]]
    scores: np.ndarray
    attention: np.ndarray
    history: list[list[str]]


class Recommender:
    """A trained sequence recommender with its item vocabulary.

    Args:
        model: a `SequentialRecommender` (e.g. `SASRecModel`).
        item_ids: the vocabulary; `item_ids[i]` has index `i + 2`.
        config: the training config (`config.json`).
    """

    def __init__(self, model, item_ids: list[str], config: dict):
        self.model = model
        self.item_ids = list(item_ids)
        self.config = dict(config)
        self.max_length = int(model.max_length)
        self.time_intervals = bool(getattr(model, "time_intervals", False))
        self._lookup = {item: index + ITEM_INDEX_OFFSET for index, item in enumerate(self.item_ids)}
        self._names = np.array(["<pad>", "<oov>", *self.item_ids], dtype=object)

    def encode(self, history: list[str]) -> np.ndarray:
        """Item-id strings -> indices (unknown ids -> OOV), the last `max_length` kept."""
        return np.array(
            [self._lookup.get(str(item), OOV_INDEX) for item in history][-self.max_length :],
            dtype=np.int32,
        )

    def _timed(self, histories, timestamps, encoded):
        """The encoded histories with their timestamps (`TimedSequence`), validated."""
        if timestamps is None:
            if self.time_intervals:
                raise ValueError(
                    "Expected timestamps (one list of Unix seconds per history): this model was "
                    "trained with time_intervals. Received: timestamps=None"
                )
            return encoded
        if len(timestamps) != len(histories):
            raise ValueError(
                f"Expected one timestamp list per history ({len(histories)}). "
                f"Received: len(timestamps)={len(timestamps)}"
            )
        timed = []
        for row, (history, times) in enumerate(zip(histories, timestamps, strict=True)):
            if len(times) != len(history):
                raise ValueError(
                    f"Expected one timestamp per history item in row {row} ({len(history)} "
                    f"items). Received: {len(times)} timestamps"
                )
            try:
                seconds = np.asarray(times, dtype=np.int64)[-self.max_length :]
            except (TypeError, ValueError, OverflowError) as error:
                raise ValueError(
                    f"Expected integer Unix seconds as timestamps in row {row}. "
                    f"Received: {list(times)[:5]!r}"
                ) from error
            timed.append(TimedSequence(encoded[row], seconds))
        return timed

    def recommend(
        self,
        histories: list[list[str]],
        k: int = 10,
        exclude_history: bool = True,
        timestamps: list[list[int]] | None = None,
    ) -> Recommendations:
        """Top-`k` next items for each history (oldest item first).

        Args:
            histories: `B` lists of item-id strings in time order.
            k: how many items to return (at most the catalogue size).
            exclude_history: never recommend an item that is already in the history.
            timestamps: `B` lists of Unix seconds, one per history item; required by a model
                trained with `time_intervals`, checked and otherwise unused by other models.
        """
        if not isinstance(k, int) or not 1 <= k <= len(self.item_ids):
            raise ValueError(f"Expected k in [1, {len(self.item_ids)}]. Received: k={k!r}")
        if not histories:
            raise ValueError("Expected at least one history. Received: histories=[]")
        encoded = [self.encode(history) for history in histories]
        timed = self._timed(histories, timestamps, encoded)
        length = max(1, max(len(e) for e in encoded))
        inputs = model_inputs(timed, length, self.time_intervals)
        padded = inputs["item_ids"] if self.time_intervals else inputs  # (B, T)
        scores, attention = self.model.score_last(inputs)
        scores = np.array(scores, dtype=np.float32)  # (B, V)
        scores[:, :ITEM_INDEX_OFFSET] = -np.inf
        if exclude_history:
            for row, indices in enumerate(encoded):
                scores[row, indices] = -np.inf
        top = np.argsort(-scores, axis=1, kind="stable")[:, :k]  # (B, k)
        top_scores = np.take_along_axis(scores, top, axis=1)
        if attention is None:
            attention_array = np.zeros((len(encoded), 0, length), dtype=np.float32)
        else:
            attention_array = np.asarray(attention, dtype=np.float32) * (padded != 0)[:, None, :]
        truncated = [list(map(str, history))[-self.max_length :] for history in histories]
        return Recommendations(
            item_ids=[self._names[row].tolist() for row in top],
            scores=top_scores,
            attention=attention_array,
            history=truncated,
        )


def load_recommender(model_dir: str | Path) -> Recommender:
    """Load `model.keras`, `item_vocab.txt` and `config.json` from a trained model folder."""
    import keras

    import models.recommender.baselines  # noqa: F401  (registers GRU4RecModel)
    import models.recommender.model  # noqa: F401  (registers SASRecModel)

    folder = Path(model_dir)
    for name in ("model.keras", "item_vocab.txt", "config.json"):
        if not (folder / name).exists():
            raise FileNotFoundError(
                f"Expected a trained recommender folder with {name}. Received: "
                f"model_dir={str(folder)!r}"
            )
    model = keras.saving.load_model(folder / "model.keras", compile=False)
    item_ids = (folder / "item_vocab.txt").read_text(encoding="utf-8").splitlines()
    config = json.loads((folder / "config.json").read_text())
    return Recommender(model, item_ids, config)
