import numpy as np
import pyarrow as pa
import pytest

from pipeline import dead_letter
from pipeline.event_validation import EVENT_SCHEMA
from pipeline.sequences import (
    SplitConfig,
    bucket_of,
    build_sequences,
    deduplicate,
    filter_min_counts,
    item_counts,
    merge_counts,
    split_positions,
    string_hash,
)


def _events(rows):
    return pa.Table.from_pylist(
        [dict(zip(EVENT_SCHEMA.names, row, strict=True)) for row in rows], schema=EVENT_SCHEMA
    )


def test_hash_is_stable_and_spreads():
    values = pa.array([f"user{index}" for index in range(10_000)])
    first, again = string_hash(values), string_hash(values.slice(0))
    assert np.array_equal(first, again)
    assert string_hash(pa.array(["abc"]))[0] == string_hash(pa.array(["x", "abc"]))[1]
    counts = np.bincount(bucket_of(values, 8), minlength=8)
    assert counts.min() > 1_000


def test_deduplicate_keeps_first_occurrence_and_orders_ties_by_item():
    events = _events(
        [
            ("u", "b", 1, None, None, 0, 1),
            ("u", "a", 1, None, None, 0, 2),
            ("u", "b", 1, None, None, 0, 3),
            ("u", "b", 1, "view", None, 0, 4),
        ]
    )
    kept, dead = deduplicate(events, ["log"])
    assert kept.column("item_id").to_pylist() == ["a", "b", "b"]
    assert kept.column("line_number").to_pylist() == [2, 1, 4]
    assert dead.column("line_number").to_pylist() == [3]
    assert dead.column("reason").to_pylist() == [dead_letter.DUPLICATE]


def test_filter_round_uses_global_item_counts():
    events = _events(
        [
            ("u1", "a", 1, None, None, 0, 1),
            ("u1", "b", 2, None, None, 0, 2),
            ("u2", "a", 1, None, None, 0, 3),
        ]
    )
    counts = merge_counts([item_counts(events), pa.table({"item_id": ["b"], "count": [5]})])
    kept, dead = filter_min_counts(
        events, counts, min_user_count=2, min_item_count=2, sources=["log"]
    )
    assert kept.column("user_id").to_pylist() == ["u1", "u1"]
    assert dead.column("reason").to_pylist() == [dead_letter.FILTERED_MIN_USER_COUNT]


def test_time_split_positions():
    timestamps = np.array([1, 5, 9, 2, 3, 10])
    starts, lengths = np.array([0, 3]), np.array([3, 3])
    valid, test = split_positions(timestamps, starts, lengths, SplitConfig("time", 5, 9))
    assert valid.tolist() == [1, -1] and test.tolist() == [2, 2]


def test_build_sequences_without_event_types():
    events = _events(
        [
            ("u", "a", 1, None, None, 0, 1),
            ("u", "b", 2, None, None, 0, 2),
            ("u", "c", 3, None, None, 0, 3),
        ]
    )
    sequences, dead, lengths = build_sequences(events, 0, SplitConfig(), False, ["log"])
    row = sequences.to_pylist()[0]
    assert row["event_types"] is None and row["item_ids"] == ["a", "b", "c"]
    assert (row["valid_position"], row["test_position"]) == (1, 2)
    assert dead.num_rows == 0 and lengths.tolist() == [3]


def test_split_config_validation():
    with pytest.raises(ValueError, match="Received: split='random'"):
        SplitConfig("random")
    with pytest.raises(ValueError, match="Received: valid_cutoff=None"):
        SplitConfig("time")
    with pytest.raises(ValueError, match="Received: valid_cutoff=9, test_cutoff=5"):
        SplitConfig("time", 9, 5)
