"""The Recommendations page's logic: find users, build history timelines, parse ad-hoc input."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

import pandas as pd

# Which part of a user's sequence is shown as the history the model sees.
HISTORY_CHOICES: dict[str, str] = {
    "full": "full history (what the model would see today)",
    "test": "test history (everything before the held-out last item)",
}
_SEPARATORS = re.compile(r"[\s,;]+")
REASON_COLUMN = "because you interacted with"


def search_users(user_ids: Sequence[str], query: str, limit: int = 200) -> list[str]:
    """User ids containing `query` (case-insensitive), exact matches first, at most `limit`.

    An empty query returns the first `limit` ids in their given order.
    """
    if limit < 1:
        raise ValueError(f"Expected limit >= 1. Received: limit={limit}")
    query = query.strip().lower()
    if not query:
        return list(user_ids[:limit])
    exact = [user for user in user_ids if user.lower() == query]
    partial = [user for user in user_ids if query in user.lower() and user.lower() != query]
    return (exact + partial)[:limit]


def user_history(row: Mapping, which: str = "full") -> list[str]:
    """The history of one `sequences` row: the whole sequence, or everything before the test target.

    Args:
        row: one row of the sequences Parquet (`item_ids`, `test_position`).
        which: `"full"` or `"test"` (see `HISTORY_CHOICES`).
    """
    if which not in HISTORY_CHOICES:
        raise ValueError(
            f"Expected which to be one of {sorted(HISTORY_CHOICES)}. Received: which={which!r}"
        )
    items = [str(item) for item in row["item_ids"]]
    if which == "test":
        test_position = int(row.get("test_position", -1))
        if test_position >= 0:
            return items[:test_position]
    return items


def history_timeline(
    row: Mapping,
    titles: Mapping[str, str] | None = None,
    categories: Mapping[str, str] | None = None,
) -> pd.DataFrame:
    """One row per interaction: `position, time, item_id, title, [category,] event_type, split`.

    `split` marks the validation and test targets, so the user sees what was held out; the
    `category` column is there when `categories` (item id -> category) is given.
    """
    titles = titles or {}
    items = [str(item) for item in row["item_ids"]]
    count = len(items)
    timestamps = _as_list(row.get("timestamps"), count)
    event_types = _as_list(row.get("event_types"), count)
    valid_position = int(row.get("valid_position", -1))
    test_position = int(row.get("test_position", -1))
    splits = ["train"] * count
    if 0 <= valid_position < count:
        splits[valid_position] = "validation target"
    if 0 <= test_position < count:
        splits[test_position] = "test target"
    times = pd.to_datetime(pd.Series(timestamps, dtype="float64"), unit="s", utc=True)
    columns = {
        "position": range(1, count + 1),
        "time": times,
        "item_id": items,
        "title": [titles.get(item, "") for item in items],
    }
    if categories:
        columns["category"] = [categories.get(item, "") for item in items]
    columns["event_type"] = [str(value) if value is not None else "" for value in event_types]
    columns["split"] = splits
    return pd.DataFrame(columns)


def parse_history_text(
    text: str, known_items: set[str] | None = None
) -> tuple[list[str], list[str]]:
    """Split an ad-hoc history ("12, 7 99") into item ids, oldest first.

    Args:
        text: item ids separated by commas, semicolons or whitespace.
        known_items: the model's vocabulary; when given, unknown ids are returned separately.

    Returns:
        `(items, unknown)`: the ids the model knows (in order) and the ones it does not.
    """
    tokens = [token for token in _SEPARATORS.split(text.strip()) if token]
    if known_items is None:
        return tokens, []
    known = [token for token in tokens if token in known_items]
    unknown = [token for token in tokens if token not in known_items]
    return known, unknown


def recommendations_frame(
    item_ids: Sequence[str],
    scores: Sequence[float],
    titles: Mapping[str, str] | None = None,
    categories: Mapping[str, str] | None = None,
    reasons: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Top-k table: `rank, item_id, title, [category,] score[, because you interacted with]`
    (`category` when `categories` is given; the last column when `reasons` is, one per item)."""
    if reasons is not None and len(reasons) != len(item_ids):
        raise ValueError(
            "Expected one reason per recommended item. "
            f"Received: {len(reasons)} reasons for {len(item_ids)} items"
        )
    titles = titles or {}
    columns = {
        "rank": range(1, len(item_ids) + 1),
        "item_id": [str(item) for item in item_ids],
        "title": [titles.get(str(item), "") for item in item_ids],
    }
    if categories:
        columns["category"] = [categories.get(str(item), "") for item in item_ids]
    columns["score"] = [float(score) for score in scores]
    if reasons is not None:
        columns[REASON_COLUMN] = list(reasons)
    return pd.DataFrame(columns)


def _as_list(values, count: int) -> list:
    if values is None:
        return [None] * count
    values = list(values)
    return values if len(values) == count else [None] * count
