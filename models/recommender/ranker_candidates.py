"""The ranker's candidates: the retriever's top N over the catalogue, and its training examples.

Candidates exclude what the `full` protocol excludes (padding, OOV, the user's history), so the
two-stage ranking stays comparable with the retriever's. For training, the true next item must be
among them (hard negatives = the retriever's own best wrong guesses): when the retriever missed
it, the example is dropped (a ranker that reads the retriever rank) or the target replaces the
last candidate, keeping its true catalogue rank (a ranker that does not).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from models.recommender.sequence_data import ITEM_INDEX_OFFSET, SequenceData


@dataclass
class RankerExamples:
    """Training (or evaluation) examples of the ranker.

    Attributes:
        histories: `N` index arrays (everything before the target).
        candidates: `(N, C)` int32 candidate item indices, by retriever rank.
        ranks: `(N, C)` float32 retriever ranks of the candidates (1 = best).
        labels: `(N,)` int64 position of the target in `candidates` (training examples always
            hold it; -1 where it is missing).
        users: `(N,)` row numbers into the data's sequences.
    """

    histories: list[np.ndarray]
    candidates: np.ndarray
    ranks: np.ndarray
    labels: np.ndarray
    users: np.ndarray

    def subset(self, rows: np.ndarray) -> RankerExamples:
        return RankerExamples(
            [self.histories[row] for row in rows],
            self.candidates[rows],
            self.ranks[rows],
            self.labels[rows],
            self.users[rows],
        )


def excluded_scores(scores: np.ndarray, histories: Sequence[np.ndarray]) -> np.ndarray:
    """A float32 copy of `scores (B, V)` with padding, OOV and each history set to `-inf`."""
    scores = np.array(scores, dtype=np.float32, copy=True)
    scores[:, :ITEM_INDEX_OFFSET] = -np.inf
    for row, history in enumerate(histories):
        scores[row, np.asarray(history, dtype=np.int64)] = -np.inf
    return scores


def top_candidates(
    scores: np.ndarray,
    histories: Sequence[np.ndarray],
    num_candidates: int,
    targets: np.ndarray | None = None,
    inject_missed: bool = True,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The retriever's top `num_candidates` per row, with ranks; optionally forcing the target in.

    Args:
        scores: `(B, V)` retriever scores over every index.
        histories: the `B` histories (excluded from the candidates).
        num_candidates: `C`, at most the number of items outside any history.
        targets: `(B,)` target indices to find (and put) among the candidates, or `None`.
        inject_missed: put a target the retriever missed in place of the last candidate (with
            its own rank); off, such a row's label is -1.

    Returns:
        `candidates (B, C)` int32 best first, `ranks (B, C)` float32 (1 = best; a forced target
        keeps its own rank) and `labels (B,)` int64: the target's position, -1 without targets
        or where the target is missing.
    """
    scores = excluded_scores(scores, histories)
    available = int(np.min(np.sum(np.isfinite(scores), axis=1))) if len(scores) else 0
    if not isinstance(num_candidates, int) or not 1 <= num_candidates <= max(available, 1):
        raise ValueError(
            f"Expected num_candidates in [1, {available}] (items outside every history). "
            f"Received: num_candidates={num_candidates!r}"
        )
    top = np.argpartition(-scores, num_candidates - 1, axis=1)[:, :num_candidates]
    order = np.argsort(-np.take_along_axis(scores, top, axis=1), axis=1, kind="stable")
    candidates = np.take_along_axis(top, order, axis=1).astype(np.int32)  # (B, C)
    ranks = np.tile(np.arange(1, num_candidates + 1, dtype=np.float32), (len(scores), 1))
    labels = np.full(len(scores), -1, dtype=np.int64)
    if targets is None:
        return candidates, ranks, labels
    targets = np.asarray(targets, dtype=np.int64)
    found = candidates == targets[:, None]
    hit = found.any(axis=1)
    labels[hit] = np.argmax(found[hit], axis=1)
    missed = np.flatnonzero(~hit & (targets >= ITEM_INDEX_OFFSET))
    if len(missed) and inject_missed:
        target_scores = scores[missed, targets[missed]]
        target_ranks = 1 + np.sum(scores[missed] > target_scores[:, None], axis=1)
        candidates[missed, -1] = targets[missed]
        ranks[missed, -1] = target_ranks
        labels[missed] = num_candidates - 1
    return candidates, ranks, labels


def ranker_training_examples(
    data: SequenceData,
    score: Callable[[list[np.ndarray]], np.ndarray],
    num_candidates: int,
    held_out_users: np.ndarray,
    extra_positions: int = 0,
    batch_size: int = 512,
    inject_missed: bool = True,
    include_held_out: bool = True,
) -> RankerExamples:
    """Examples from the validation targets the retriever did not train on (and older positions).

    Args:
        data: the sequences, indexed in the retriever's vocabulary.
        score: the retriever, `histories -> (B, V)` scores.
        num_candidates: `C`.
        held_out_users: `(U,)` booleans: users whose validation target the retriever did not
            train on; their validation target is an example.
        extra_positions: also use each user's last `extra_positions` training targets (items the
            retriever trained on: its ranks there are optimistic).
        batch_size: histories scored at once.
        inject_missed: keep the examples whose target the retriever missed, the target put in
            place of the last candidate (`top_candidates`); off, they are dropped. A ranker that
            reads the retriever rank needs them dropped: an injected target is the only
            candidate ranked beyond `num_candidates`, a shortcut that teaches "a worse rank is
            better" and that never occurs when ranking.
        include_held_out: include the held-out validation targets (off: only the training
            positions, e.g. for a model whose blend is then fitted on the held-out ones).
    """
    if not isinstance(extra_positions, int) or extra_positions < 0:
        raise ValueError(
            f"Expected extra_positions >= 0. Received: extra_positions={extra_positions!r}"
        )
    pairs: list[tuple[int, int]] = []
    for user, (sequence, valid, test) in enumerate(
        zip(data.sequences, data.valid_positions, data.test_positions, strict=True)
    ):
        if valid > 0 and held_out_users[user] and include_held_out:
            pairs.append((user, int(valid)))
        end = next((int(p) for p in (valid, test) if p >= 0), len(sequence))
        if valid > 0 and not held_out_users[user]:
            end = int(test)  # the retriever trained on this validation target
        pairs += [(user, p) for p in range(max(1, end - extra_positions), end)]
    if not pairs:
        raise ValueError(
            "Expected validation targets the retriever did not train on, or extra_positions > 0. "
            f"Received: held-out users={int(np.sum(held_out_users))}, "
            f"extra_positions={extra_positions}"
        )
    users = np.array([user for user, _ in pairs], dtype=np.int64)
    histories = [data.sequences[user][:position] for user, position in pairs]
    targets = np.array([data.sequences[user][p] for user, p in pairs], dtype=np.int64)
    parts = []
    for start in range(0, len(pairs), batch_size):
        stop = start + batch_size
        parts.append(
            top_candidates(
                score(histories[start:stop]),
                histories[start:stop],
                num_candidates,
                targets[start:stop],
                inject_missed,
            )
        )
    candidates, ranks, labels = (np.concatenate([part[i] for part in parts]) for i in range(3))
    keep = labels >= 0  # an OOV target cannot be a candidate
    examples = RankerExamples(histories, candidates, ranks, labels, users)
    return examples.subset(np.flatnonzero(keep))
