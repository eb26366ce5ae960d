"""Two-stage recommendation from raw item-id strings: retriever top N, then the ranker.

`load_two_stage(ranker_dir)` reads a ranker folder (`seqlens train ranker`) and the retriever
folder it names; `recommend(histories, k)` returns the top `k` of the ranked candidates with the
attention of *each recommended item* over the history, `(B, k, L)`: what each recommendation
attended to, not one explanation shared by the whole list.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from models.recommender.inference import Recommender, load_recommender
from models.recommender.ranker_candidates import top_candidates
from models.recommender.ranker_features import ItemFeatureTable
from models.recommender.sequence_data import ITEM_INDEX_OFFSET, OOV_INDEX, left_pad


@dataclass
class RankedRecommendations:
    """Top-k items per user from the ranker, each with its own attention over the history.

    Attributes:
        item_ids: `B` lists of `k` item-id strings, best first.
        scores: `(B, k)` float32 ranker scores.
        attention: `(B, k, L)` float32: each recommended item's attention over the history
            positions of `history` (left-padded to the longest, zero weight on padding); each
            row sums to 1 over the real positions.
        history: `B` lists: the (truncated) history the attention refers to.
    """

    item_ids: list[list[str]]
    scores: np.ndarray
    attention: np.ndarray
    history: list[list[str]]


class TwoStageRecommender:
    """A retriever (`Recommender`) and a `TargetAttentionRanker` over the same item indices.

    Args:
        retriever: the trained self-attention retriever.
        ranker: the trained ranker.
        table: the ranker's items and features (`ItemFeatureTable`).
        config: the ranker's `config.json`.
    """

    def __init__(self, retriever: Recommender, ranker, table: ItemFeatureTable, config: dict):
        check_retriever(retriever)
        if list(table.item_ids[: len(retriever.item_ids)]) != list(retriever.item_ids):
            raise ValueError(
                "Expected the ranker's item vocabulary to start with the retriever's. Received: "
                f"ranker items={len(table.item_ids)}, retriever items={len(retriever.item_ids)}"
            )
        self.retriever = retriever
        self.ranker = ranker
        self.table = table
        self.config = dict(config)
        self.num_candidates = int(config.get("num_candidates", 100))
        self.max_length = int(ranker.max_length)
        self._lookup = {item: i + ITEM_INDEX_OFFSET for i, item in enumerate(table.item_ids)}
        self._names = np.array(["<pad>", "<oov>", *table.item_ids], dtype=object)
        self._retriever_size = len(retriever.item_ids) + ITEM_INDEX_OFFSET

    def encode(self, history: list[str]) -> np.ndarray:
        """Item-id strings -> ranker indices (unknown ids -> OOV). The whole history: every item
        of it is excluded from the candidates; the models read its last `max_length`."""
        indices = [self._lookup.get(str(item), OOV_INDEX) for item in history]
        return np.array(indices, dtype=np.int32)

    def retriever_scores(self, histories: list[np.ndarray]) -> np.ndarray:
        """`(B, V)` retriever scores (its own indices; cold items in a history read as OOV)."""
        clipped = [np.where(h >= self._retriever_size, OOV_INDEX, h) for h in histories]
        padded = left_pad(clipped, self.retriever.max_length)
        scores, _ = self.retriever.model.score_last(padded)
        return np.asarray(scores, dtype=np.float32)

    def rank_indices(self, histories: list[np.ndarray], candidates: np.ndarray, ranks: np.ndarray):
        """Ranker scores `(B, N)` and attention `(B, N, L)` of candidate indices."""
        length = max(1, max((len(h) for h in histories), default=1))
        padded = left_pad([h[-self.max_length :] for h in histories], min(length, self.max_length))
        inputs = {"history": padded, "candidates": candidates}
        if self.ranker.use_retriever_rank:
            inputs["candidate_ranks"] = ranks.astype(np.float32)
        scores, attention = self.ranker.score_with_attention(inputs, training=False)
        return np.asarray(scores, np.float32), np.asarray(attention, np.float32)

    def score(self, histories: list[np.ndarray]) -> np.ndarray:
        """`(B, V)` two-stage scores over the retriever's catalogue: the top `num_candidates` in
        the ranker's order, above every other item, which keeps the retriever's order."""
        retriever = self.retriever_scores(histories)
        candidates, ranks, _ = top_candidates(retriever, histories, self.num_candidates)
        ranker, _ = self.rank_indices(histories, candidates, ranks)
        return combined_scores(retriever, candidates, ranker)

    def _check_histories(self, histories: list[list[str]]) -> list[np.ndarray]:
        if not histories:
            raise ValueError("Expected at least one history. Received: histories=[]")
        return [self.encode(history) for history in histories]

    def _result(self, histories, encoded, candidates, scores, attention, k):
        top = np.argsort(-scores, axis=1, kind="stable")[:, :k]  # (B, k)
        items = np.take_along_axis(candidates, top, axis=1)
        length = attention.shape[-1]
        return RankedRecommendations(
            item_ids=[self._names[row].tolist() for row in items],
            scores=np.take_along_axis(scores, top, axis=1),
            attention=np.take_along_axis(attention, top[:, :, None], axis=1),
            history=[list(map(str, h))[-self.max_length :][-length:] for h in histories],
        )

    def recommend(
        self, histories: list[list[str]], k: int = 10, num_candidates: int | None = None
    ) -> RankedRecommendations:
        """Top-`k` of the retriever's top `num_candidates` (default: the trained N), re-ranked.

        Args:
            histories: `B` lists of item-id strings in time order (unknown ids read as OOV).
            k: items returned, at most `num_candidates`.
            num_candidates: candidates the retriever proposes.
        """
        num_candidates = self.num_candidates if num_candidates is None else num_candidates
        if not isinstance(k, int) or not 1 <= k <= num_candidates:
            raise ValueError(f"Expected k in [1, {num_candidates}]. Received: k={k!r}")
        encoded = self._check_histories(histories)
        retriever = self.retriever_scores(encoded)
        candidates, ranks, _ = top_candidates(retriever, encoded, num_candidates)
        scores, attention = self.rank_indices(encoded, candidates, ranks)
        return self._result(histories, encoded, candidates, scores, attention, k)

    def rank(
        self, histories: list[list[str]], candidates: list[list[str]]
    ) -> RankedRecommendations:
        """Rank given candidate item ids (cold items included) for each history.

        Args:
            histories: `B` lists of item-id strings in time order.
            candidates: `B` lists of the same length `N` of item ids the ranker knows; their
                order is read as the retriever's rank (1 = first).
        """
        encoded = self._check_histories(histories)
        if len(candidates) != len(histories) or len({len(row) for row in candidates}) != 1:
            raise ValueError(
                "Expected one candidate list per history, all of the same length. Received: "
                f"histories={len(histories)}, candidate lengths={[len(r) for r in candidates]}"
            )
        unknown = sorted({str(i) for row in candidates for i in row if str(i) not in self._lookup})
        if unknown:
            raise ValueError(
                "Expected candidates the ranker knows (trained or cold items with features). "
                f"Received: unknown candidates={unknown[:10]}"
            )
        indices = np.array([[self._lookup[str(i)] for i in row] for row in candidates], np.int32)
        ranks = np.tile(np.arange(1, indices.shape[1] + 1, dtype=np.float32), (len(indices), 1))
        scores, attention = self.rank_indices(encoded, indices, ranks)
        return self._result(histories, encoded, indices, scores, attention, indices.shape[1])


def check_retriever(retriever: Recommender) -> None:
    """Refuse a time-aware retriever (`time_intervals`): the two-stage path feeds item ids only."""
    if getattr(retriever.model, "time_intervals", False):
        raise ValueError(
            "Expected a retriever without time_intervals (the ranker's two-stage path does not "
            "pass timestamps yet). Received: a time-aware retriever"
        )


def combined_scores(
    retriever: np.ndarray, candidates: np.ndarray, ranker: np.ndarray
) -> np.ndarray:
    """`(B, V)`: the candidates above every other item in ranker order, the rest in retriever
    order (the `full` protocol of the two-stage system)."""
    combined = np.array(retriever, dtype=np.float64, copy=True)
    finite = np.where(np.isfinite(combined), combined, -np.inf)
    ceiling = np.max(finite, axis=1, keepdims=True)  # (B, 1)
    lifted = ceiling + 1.0 + (ranker - np.min(ranker, axis=1, keepdims=True))  # (B, N)
    np.put_along_axis(combined, candidates.astype(np.int64), lifted, axis=1)
    return combined


def load_ranker_folder(ranker_dir: str | Path):
    """`(ranker model, ItemFeatureTable, config)` of a ranker folder."""
    import keras

    import models.recommender.ranker_model  # noqa: F401  (registers TargetAttentionRanker)

    folder = Path(ranker_dir)
    for name in ("model.keras", "item_vocab.txt", "feature_vocab.txt", "config.json"):
        if not (folder / name).exists():
            raise FileNotFoundError(
                f"Expected a trained ranker folder with {name}. "
                f"Received: ranker_dir={str(folder)!r}"
            )
    model = keras.saving.load_model(folder / "model.keras", compile=False)
    config = json.loads((folder / "config.json").read_text())
    item_ids = (folder / "item_vocab.txt").read_text(encoding="utf-8").splitlines()
    features = (folder / "feature_vocab.txt").read_text(encoding="utf-8").splitlines()
    table_values = keras.ops.convert_to_numpy(model.item_feature_table)
    table = ItemFeatureTable(item_ids, int(model.trained_items), features, table_values)
    return model, table, config


def load_two_stage(
    ranker_dir: str | Path, retriever_dir: str | Path | None = None
) -> TwoStageRecommender:
    """Load a ranker folder and its retriever (`retriever_dir`, default: the one it names)."""
    model, table, config = load_ranker_folder(ranker_dir)
    retriever = load_recommender(retriever_dir or config["retriever"])
    return TwoStageRecommender(retriever, model, table, config)
