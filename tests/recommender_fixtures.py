"""Small generated sequence data for the recommender tests: a planted next-item rule.

Every item has one successor (a fixed random permutation); a user's sequence starts at a random
item and follows the rule. A model that learns the rule ranks the next item first; a random or
untrained model ranks it around the middle of the catalogue.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from models.recommender.sequence_data import (
    ITEM_INDEX_OFFSET,
    SequenceData,
    leave_one_out_positions,
)


def planted_item_ids(num_items: int) -> list[str]:
    return [f"item_{i:04d}" for i in range(num_items)]


def planted_sequences(
    num_users: int = 300,
    num_items: int = 150,
    seed: int = 0,
    min_length: int = 4,
    max_length: int = 16,
) -> list[list[str]]:
    """Users' item-id sequences following `successor = permutation[item]`."""
    rng = np.random.default_rng(seed)
    successor = rng.permutation(num_items)
    names = planted_item_ids(num_items)
    sequences = []
    for _ in range(num_users):
        length = int(rng.integers(min_length, max_length + 1))
        items = [int(rng.integers(num_items))]
        for _ in range(length - 1):
            items.append(int(successor[items[-1]]))
        sequences.append([names[i] for i in items])
    return sequences


def planted_data(num_users: int = 300, num_items: int = 150, seed: int = 0) -> SequenceData:
    """The planted sequences as `SequenceData` (vocabulary = item order, leave-one-out)."""
    names = planted_item_ids(num_items)
    lookup = {name: i + ITEM_INDEX_OFFSET for i, name in enumerate(names)}
    sequences = [
        np.array([lookup[i] for i in s], dtype=np.int32)
        for s in planted_sequences(num_users, num_items, seed)
    ]
    valid, test = leave_one_out_positions(np.array([len(s) for s in sequences]))
    return SequenceData(names, sequences, valid, test, [f"user_{u:04d}" for u in range(num_users)])


def write_events_run(folder: Path, sequences: list[list[str]]) -> Path:
    """Write an events run folder per docs/CONTRACTS.md: `sequences/*.parquet` and `vocab/`."""
    (folder / "sequences").mkdir(parents=True, exist_ok=True)
    (folder / "vocab").mkdir(parents=True, exist_ok=True)
    lengths = np.array([len(s) for s in sequences])
    valid, test = leave_one_out_positions(lengths)
    table = pa.table(
        {
            "user_id": pa.array([f"user_{u:04d}" for u in range(len(sequences))], pa.string()),
            "item_ids": pa.array(sequences, pa.list_(pa.string())),
            "timestamps": pa.array(
                [list(range(1_700_000_000, 1_700_000_000 + len(s))) for s in sequences],
                pa.list_(pa.int64()),
            ),
            "event_types": pa.array([None] * len(sequences), pa.list_(pa.string())),
            "valid_position": pa.array(valid, pa.int32()),
            "test_position": pa.array(test, pa.int32()),
        }
    )
    pq.write_table(table, folder / "sequences" / "part-00000.parquet")
    counts: dict[str, int] = {}
    for sequence in sequences:
        for item in sequence:
            counts[item] = counts.get(item, 0) + 1
    ordered = sorted(counts.items(), key=lambda pair: (-pair[1], pair[0]))
    pq.write_table(
        pa.table({"item_id": [i for i, _ in ordered], "count": [c for _, c in ordered]}),
        folder / "vocab" / "items.parquet",
    )
    (folder / "vocab" / "items.txt").write_text("".join(f"{i}\n" for i, _ in ordered))
    return folder
