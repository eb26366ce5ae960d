"""Plain-language reasons for a recommendation, read off the attention over the history.

The recommender's last position attends over the user's history with several heads
(`attention: (heads, T)`). Averaging the heads gives one weight per history position; the
positions with the largest weights are the interactions the prediction leaned on most, which
is what "because you interacted with ..." reports. (Attention is an indication of what the model
looked at, not a causal proof; the dashboard says "mostly looked at".) With a two-stage ranker each
recommended item has its own attention row over the history (target attention, `(k, T)`), so each
gets its own reason (`reasons_per_item`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class AttendedItem:
    """One history position with its head-averaged attention weight."""

    position: int
    item_id: str
    weight: float
    title: str | None = None

    @property
    def label(self) -> str:
        return f"{self.title} ({self.item_id})" if self.title else self.item_id


def head_average(attention: np.ndarray) -> np.ndarray:
    """Average attention over heads: `(heads, T)` -> `(T,)`; a `(T,)` input is returned as is."""
    weights = np.asarray(attention, dtype=float)
    if weights.ndim == 1:
        return weights
    if weights.ndim != 2:
        raise ValueError(
            "Expected attention of shape (heads, T) or (T,). Received: "
            f"attention.shape={weights.shape}"
        )
    return weights.mean(axis=0)


def strongest_items(
    attention: np.ndarray,
    history: Sequence[str],
    top_n: int = 3,
    titles: Mapping[str, str] | None = None,
) -> list[AttendedItem]:
    """The `top_n` history positions with the largest head-averaged attention, strongest first.

    Args:
        attention: `(heads, T)` or `(T,)` attention of the last position over the history.
        history: the `T` item ids the attention refers to (padding already removed).
        top_n: how many positions to return (fewer when the history is shorter).
        titles: optional item id -> title mapping.

    Returns:
        `AttendedItem`s; ties go to the more recent position. Positions whose item repeats an
        already listed item are skipped, so each item is named once.
    """
    if top_n < 1:
        raise ValueError(f"Expected top_n >= 1. Received: top_n={top_n}")
    weights = head_average(attention)
    if weights.shape[0] != len(history):
        raise ValueError(
            "Expected one attention weight per history position. "
            f"Received: attention length={weights.shape[0]}, history length={len(history)}"
        )
    titles = titles or {}
    # Sort by weight descending, then by position descending (more recent wins a tie).
    order = sorted(range(len(history)), key=lambda index: (-weights[index], -index))
    chosen: list[AttendedItem] = []
    seen: set[str] = set()
    for index in order:
        item_id = str(history[index])
        if item_id in seen:
            continue
        seen.add(item_id)
        chosen.append(AttendedItem(index, item_id, float(weights[index]), titles.get(item_id)))
        if len(chosen) == top_n:
            break
    return chosen


def explain(
    attention: np.ndarray,
    history: Sequence[str],
    top_n: int = 3,
    titles: Mapping[str, str] | None = None,
) -> str:
    """One sentence: "Because you interacted with A, B and C (the model mostly looked at these)."

    The attention share of each named item is given in percent of the total attention.
    Returns a sentence saying there is no history to explain when `history` is empty.
    """
    if len(history) == 0:
        return "No history to explain: these are the model's picks for an empty history."
    items = strongest_items(attention, history, top_n=top_n, titles=titles)
    total = float(head_average(attention).sum()) or 1.0
    named = [f"{item.label} ({item.weight / total:.0%} of the attention)" for item in items]
    if len(named) == 1:
        listing = named[0]
    else:
        listing = ", ".join(named[:-1]) + " and " + named[-1]
    return f"Because you interacted with {listing}: the model mostly looked at these."


def reasons_per_item(
    attention: np.ndarray, history: Sequence[str], titles: Mapping[str, str] | None = None
) -> list[str]:
    """One reason per recommended item, read off its own attention row: the history item it
    attended to most and that row's share, e.g. `"Tent, 2 person (t1) (64%)"`.

    Args:
        attention: `(k, T)`: row `i` is recommended item `i`'s attention over the history.
        history: the `T` item ids the attention refers to (padding already removed).
        titles: optional item id -> title mapping.
    """
    weights = np.asarray(attention, dtype=float)
    if weights.ndim != 2 or weights.shape[1] != len(history):
        raise ValueError(
            "Expected attention of shape (k, len(history)). "
            f"Received: attention.shape={weights.shape}, len(history)={len(history)}"
        )
    if len(history) == 0:
        return ["" for _ in range(weights.shape[0])]
    reasons = []
    for row in weights:
        strongest = strongest_items(row, history, top_n=1, titles=titles)[0]
        total = float(row.sum()) or 1.0
        reasons.append(f"{strongest.label} ({strongest.weight / total:.0%})")
    return reasons
