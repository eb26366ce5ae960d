"""The ranker's item table: item indices -> feature indices, cold-start items included.

The ranker reads items with the retriever's index conventions (`sequence_data`: 0 padding, 1 OOV,
`i + 2` for line `i` of the retriever's `item_vocab.txt`) and appends the items that have features
but no training interactions (cold start) after them, so index `V` (the retriever's vocabulary
size) is the first cold item. Features have their own indices: 0 padding, 1 unknown (a value the
ranker was not trained with, or the pipeline's `[seqlens:unknown_feature]`), `j + 2` for line `j`
of the ranker's `feature_vocab.txt`.

No Keras here: the table is a `(num_items, max_features)` int32 numpy array the model stores as a
non-trainable weight.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from models.recommender.sequence_data import ITEM_INDEX_OFFSET, OOV_INDEX

FEATURE_PADDING_INDEX = 0
UNKNOWN_FEATURE_INDEX = 1
FEATURE_INDEX_OFFSET = 2
# The pipeline's value for an item without features (`pipeline.item_features.UNKNOWN_FEATURE`).
UNKNOWN_FEATURE = "[seqlens:unknown_feature]"
ITEM_FEATURES_FILE = "vocab/item_features.parquet"


@dataclass
class ItemFeatureTable:
    """Item ids (retriever vocabulary, then cold items) and their feature indices.

    Args:
        item_ids: every item; `item_ids[i]` has index `i + ITEM_INDEX_OFFSET`; the first
            `trained_items - ITEM_INDEX_OFFSET` are the retriever's vocabulary.
        trained_items: the retriever's vocabulary size `V` (items + padding + OOV).
        feature_vocabulary: feature values; `feature_vocabulary[j]` has index `j + 2`.
        feature_ids: `(len(item_ids) + 2, max_features)` int32 feature indices per item index,
            0-padded on the right; rows 0 (padding) and 1 (OOV) hold `[0, ...]` and `[1, 0, ...]`.
    """

    item_ids: list[str]
    trained_items: int
    feature_vocabulary: list[str]
    feature_ids: np.ndarray

    @property
    def num_items(self) -> int:
        """Item indices the ranker knows: every item plus padding and OOV."""
        return len(self.item_ids) + ITEM_INDEX_OFFSET

    @property
    def num_features(self) -> int:
        """Feature indices: every feature value plus padding and unknown."""
        return len(self.feature_vocabulary) + FEATURE_INDEX_OFFSET

    @property
    def cold_item_ids(self) -> list[str]:
        """The items with features but no training interactions."""
        return self.item_ids[self.trained_items - ITEM_INDEX_OFFSET :]

    def item_index(self, item_ids: list[str]) -> np.ndarray:
        """Item-id strings -> indices (unknown ids -> OOV)."""
        lookup = {item: index + ITEM_INDEX_OFFSET for index, item in enumerate(self.item_ids)}
        return np.array([lookup.get(str(item), OOV_INDEX) for item in item_ids], dtype=np.int32)


def build_feature_table(
    vocabulary: list[str],
    item_features: dict[str, list[str]] | None,
    max_features: int = 8,
    feature_vocabulary: list[str] | None = None,
    strict: bool = False,
) -> ItemFeatureTable:
    """The table for a retriever `vocabulary` and `{item_id: [feature values]}`.

    Args:
        vocabulary: the retriever's item ids (`item_vocab.txt` order).
        item_features: features per item id (`None`: ids only, every item `unknown`). Items not
            in `vocabulary` become cold items (appended, sorted by id).
        max_features: features kept per item: the rarest (most specific) values first, so a
            root category shared by every item is the first one dropped.
        feature_vocabulary: the values to index (a trained ranker's); `None` builds it from
            `item_features`, most frequent first. Values outside it map to unknown.
        strict: with `feature_vocabulary`, refuse values outside it (a `ValueError` listing
            them) instead of mapping them to unknown.
    """
    if not isinstance(max_features, int) or max_features < 1:
        raise ValueError(f"Expected max_features >= 1. Received: max_features={max_features!r}")
    item_features = dict(item_features or {})
    known = set(vocabulary)
    item_ids = list(vocabulary) + sorted(item for item in item_features if item not in known)
    counts: dict[str, int] = {}
    for values in item_features.values():
        for value in values:
            if value != UNKNOWN_FEATURE:
                counts[value] = counts.get(value, 0) + 1
    if feature_vocabulary is None:
        feature_vocabulary = sorted(counts, key=lambda value: (-counts[value], value))
    elif strict:
        unknown = sorted(set(counts) - set(feature_vocabulary))
        if unknown:
            raise ValueError(
                "Expected feature values the ranker was trained with. "
                f"Received: unknown feature values={unknown[:10]} ({len(unknown)} in all)"
            )
    lookup = {value: index + FEATURE_INDEX_OFFSET for index, value in enumerate(feature_vocabulary)}
    table = np.zeros((len(item_ids) + ITEM_INDEX_OFFSET, max_features), dtype=np.int32)
    table[OOV_INDEX, 0] = UNKNOWN_FEATURE_INDEX
    for row, item in enumerate(item_ids, start=ITEM_INDEX_OFFSET):
        values = [v for v in item_features.get(item, []) if v != UNKNOWN_FEATURE]
        values.sort(key=lambda value: (counts.get(value, 0), value))
        indices = [lookup.get(value, UNKNOWN_FEATURE_INDEX) for value in values[:max_features]]
        indices = indices or [UNKNOWN_FEATURE_INDEX]
        table[row, : len(indices)] = indices
    return ItemFeatureTable(
        item_ids, len(vocabulary) + ITEM_INDEX_OFFSET, list(feature_vocabulary), table
    )


def read_item_features(run_dir: str | Path) -> dict[str, list[str]] | None:
    """`{item_id: [feature values]}` of an events run folder, `None` when it has no features."""
    path = Path(run_dir) / ITEM_FEATURES_FILE
    if not path.exists():
        return None
    import pyarrow.parquet as pq

    columns = pq.read_table(path, columns=["item_id", "features"]).to_pydict()
    return {
        str(item): [str(value) for value in (values or [])]
        for item, values in zip(columns["item_id"], columns["features"], strict=True)
    }
