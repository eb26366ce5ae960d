"""Ranking metrics for next-item recommendation under two named protocols (numpy only).

- `full`: the target is ranked against every item in the catalogue; the items already in the
  user's history (other than the target itself) are excluded, and so are padding and OOV.
- `sampled100`: the target is ranked against 100 items drawn uniformly from the items the user
  never interacted with (the SASRec paper's protocol); the draw is seeded.

A target's rank is `1 + (# candidates scored higher) + (# other candidates with an equal score) //
2` (ties split evenly, so a constant scorer is not rewarded). For one relevant item,
`HR@k = [rank <= k]`, `NDCG@k = [rank <= k] / log2(rank + 1)`, `MRR = 1 / rank`; each is averaged
over users.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from models.recommender.sequence_data import ITEM_INDEX_OFFSET

PROTOCOLS = ("full", "sampled100")
HIT_CUTOFFS = (1, 5, 10, 20)
NDCG_CUTOFFS = (5, 10, 20)
SAMPLED_NEGATIVES = 100


def rank_of_target(scores: np.ndarray, target_scores: np.ndarray) -> np.ndarray:
    """`(N,)` ranks from candidate `scores (N, C)` holding the target once, `target_scores (N,)`."""
    target_scores = np.asarray(target_scores)[:, None]
    greater = np.sum(scores > target_scores, axis=1)
    ties = np.sum(scores == target_scores, axis=1) - 1
    return 1 + greater + np.maximum(ties, 0) // 2


def metrics_from_ranks(ranks: np.ndarray) -> dict[str, float]:
    """HR@{1,5,10,20}, NDCG@{5,10,20} and MRR averaged over `ranks (N,)` (1 = best)."""
    ranks = np.asarray(ranks, dtype=np.float64)
    if ranks.size == 0:
        raise ValueError("Expected at least one rank. Received: ranks=[]")
    if np.any(ranks < 1):
        raise ValueError(f"Expected ranks >= 1. Received: ranks={ranks[ranks < 1][:5].tolist()}")
    metrics = {f"HR@{k}": float(np.mean(ranks <= k)) for k in HIT_CUTOFFS}
    for k in NDCG_CUTOFFS:
        metrics[f"NDCG@{k}"] = float(np.mean(np.where(ranks <= k, 1.0 / np.log2(ranks + 1.0), 0.0)))
    metrics["MRR"] = float(np.mean(1.0 / ranks))
    return metrics


def full_ranks(
    scores: np.ndarray, histories: Sequence[np.ndarray], targets: np.ndarray
) -> np.ndarray:
    """Ranks under `full`: `scores (N, V)` over all indices; history, padding and OOV excluded.

    Counted without copying `scores` (at a million items a copy of a batch is gigabytes): the
    items above and level with the target over the whole row, less those among the excluded
    indices (padding, OOV, the history; the target itself stays, even when it is in the history).
    """
    scores = np.asarray(scores)
    targets = np.asarray(targets)
    rows = np.arange(len(targets))
    target_scores = scores[rows, targets]
    level = target_scores[:, None]
    greater = np.count_nonzero(scores > level, axis=1)
    ties = np.count_nonzero(scores == level, axis=1) - 1  # the target itself
    always_excluded = np.arange(ITEM_INDEX_OFFSET)
    for row, history in enumerate(histories):
        excluded = np.union1d(always_excluded, history)
        excluded = excluded[excluded != targets[row]]
        excluded_scores = scores[row, excluded]
        greater[row] -= np.count_nonzero(excluded_scores > target_scores[row])
        ties[row] -= np.count_nonzero(excluded_scores == target_scores[row])
    return 1 + greater + np.maximum(ties, 0) // 2


def sample_negatives(
    interacted: Sequence[np.ndarray],
    vocabulary_size: int,
    seed: int,
    count: int = SAMPLED_NEGATIVES,
) -> np.ndarray:
    """`(N, count)` item indices drawn uniformly (with replacement, as in SASRec) from the items
    each user never interacted with."""
    rng = np.random.default_rng(seed)
    negatives = np.empty((len(interacted), count), dtype=np.int64)
    for row, items in enumerate(interacted):
        seen = set(np.asarray(items).tolist())
        if vocabulary_size - ITEM_INDEX_OFFSET - len(seen) < 1:
            raise ValueError(f"Expected an item the user has not seen. Received: user row={row}")
        drawn: list[int] = []
        while len(drawn) < count:
            candidates = rng.integers(ITEM_INDEX_OFFSET, vocabulary_size, size=2 * count)
            drawn += [int(c) for c in candidates if int(c) not in seen]
        negatives[row] = drawn[:count]
    return negatives


def sampled_ranks(scores: np.ndarray, targets: np.ndarray, negatives: np.ndarray) -> np.ndarray:
    """Ranks under `sampled100`: the target against its row of `negatives (N, 100)`."""
    rows = np.arange(len(targets))
    candidates = np.concatenate([targets[:, None], negatives], axis=1)
    candidate_scores = np.asarray(scores, dtype=np.float64)[rows[:, None], candidates]
    return rank_of_target(candidate_scores, candidate_scores[:, 0])


def evaluate_scorer(
    score: Callable[[list[np.ndarray]], np.ndarray],
    histories: Sequence[np.ndarray],
    targets: np.ndarray,
    interacted: Sequence[np.ndarray],
    vocabulary_size: int,
    protocols: Sequence[str] = PROTOCOLS,
    batch_size: int = 512,
    seed: int = 0,
) -> dict[str, dict[str, float]]:
    """Metrics of a scorer under each protocol: `{"full": {...}, "sampled100": {...}}`.

    Args:
        score: maps a list of histories to `(B, V)` scores over all indices.
        histories: the history before each target.
        targets: `(N,)` target indices.
        interacted: every item of each user (used to draw `sampled100` negatives).
        vocabulary_size: `V`.
        protocols: a subset of `PROTOCOLS`.
        batch_size: users scored at once.
        seed: seed of the `sampled100` negatives (same seed, same negatives for every model).

    A target below `ITEM_INDEX_OFFSET` (an item outside the model's vocabulary, mapped to OOV) is
    a miss under every protocol: its rank is infinite (HR, NDCG and MRR contribute 0), so every
    user counts and a model is never rewarded for a catalogue that lacks the target.
    """
    unknown = [p for p in protocols if p not in PROTOCOLS]
    if unknown:
        raise ValueError(
            f"Expected protocols from {PROTOCOLS}. Received: protocols={list(protocols)}"
        )
    targets = np.asarray(targets, dtype=np.int64)
    negatives = (
        sample_negatives(interacted, vocabulary_size, seed) if "sampled100" in protocols else None
    )
    ranks: dict[str, list[np.ndarray]] = {p: [] for p in protocols}
    for start in range(0, len(targets), batch_size):
        stop = start + batch_size
        batch_scores = np.asarray(score(list(histories[start:stop])))
        if "full" in protocols:
            ranks["full"].append(
                full_ranks(batch_scores, histories[start:stop], targets[start:stop])
            )
        if negatives is not None:
            ranks["sampled100"].append(
                sampled_ranks(batch_scores, targets[start:stop], negatives[start:stop])
            )
    unknown_targets = targets < ITEM_INDEX_OFFSET
    results = {}
    for protocol in protocols:
        protocol_ranks = np.concatenate(ranks[protocol]).astype(np.float64)
        protocol_ranks[unknown_targets] = np.inf
        results[protocol] = metrics_from_ranks(protocol_ranks)
    return results


def flatten_metrics(metrics: dict[str, dict[str, float]]) -> dict[str, float]:
    """`{"full": {"NDCG@10": x}}` -> `{"full/NDCG@10": x}`: each name carries its protocol."""
    return {
        f"{protocol}/{name}": value
        for protocol, values in metrics.items()
        for name, value in values.items()
    }
