"""Vectorised per-bucket event processing: shard, deduplicate, filter, build sequences.

These are plain functions over Arrow tables of `event_validation.EVENT_SCHEMA`; the Beam DoFns
in `pipeline.event_transforms` call them once per chunk or per user bucket, so the work per
event is done by Arrow/numpy kernels, never by a Python loop.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from pipeline import dead_letter

SEQUENCE_SCHEMA = pa.schema(
    [
        ("user_id", pa.string()),
        ("item_ids", pa.list_(pa.string())),
        ("timestamps", pa.list_(pa.int64())),
        ("event_types", pa.list_(pa.string())),
        ("valid_position", pa.int32()),
        ("test_position", pa.int32()),
    ]
)
ITEM_COUNT_SCHEMA = pa.schema([("item_id", pa.string()), ("count", pa.int64())])

SORT_KEYS = [
    (name, "ascending", "at_start")
    for name in (
        "user_id",
        "timestamp",
        "item_id",
        "event_type",
        "value",
        "file_index",
        "line_number",
    )
]
_HASH_MULTIPLIER = np.uint64(1_099_511_628_211)
_NULL_SENTINEL = "\x00"


@dataclass(frozen=True)
class SplitConfig:
    """How each sequence is split into train / validation / test targets.

    Args:
        method: `leave-one-out` (last item test, second to last validation, users with >= 3
            items) or `time` (the first event at or after each cut-off is the target).
        valid_cutoff / test_cutoff: Unix seconds, required for `time`.
    """

    method: str = "leave-one-out"
    valid_cutoff: int | None = None
    test_cutoff: int | None = None

    def __post_init__(self) -> None:
        if self.method not in ("leave-one-out", "time"):
            raise ValueError(
                f"Expected split to be 'leave-one-out' or 'time'. Received: split={self.method!r}"
            )
        if self.method == "time":
            if self.valid_cutoff is None or self.test_cutoff is None:
                raise ValueError(
                    "Expected --valid-cutoff and --test-cutoff with --split time. "
                    f"Received: valid_cutoff={self.valid_cutoff}, test_cutoff={self.test_cutoff}"
                )
            if self.valid_cutoff > self.test_cutoff:
                raise ValueError(
                    "Expected valid_cutoff <= test_cutoff. "
                    f"Received: valid_cutoff={self.valid_cutoff}, test_cutoff={self.test_cutoff}"
                )


def string_hash(values: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """A stable 64-bit hash of each string (same value in every process and run), `(N,)` uint64."""
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    values = values.cast(pa.large_string()) if pa.types.is_string(values.type) else values
    count = len(values)
    if count == 0 or values.buffers()[2] is None:
        return np.zeros(count, dtype=np.uint64)
    offsets = np.frombuffer(values.buffers()[1], dtype=np.int64)[
        values.offset : values.offset + count + 1
    ]
    data = np.frombuffer(values.buffers()[2], dtype=np.uint8)
    lengths = np.diff(offsets)
    starts = offsets[:-1]
    position_in_string = np.arange(offsets[-1] - offsets[0], dtype=np.int64) - np.repeat(
        starts - offsets[0], lengths
    )
    powers = np.ones(int(lengths.max(initial=0)) + 1, dtype=np.uint64)
    with np.errstate(over="ignore"):
        for index in range(1, len(powers)):
            powers[index] = powers[index - 1] * _HASH_MULTIPLIER
        weighted = data[offsets[0] : offsets[-1]].astype(np.uint64) * powers[position_in_string]
        nonempty = lengths > 0
        hashes = np.zeros(count, dtype=np.uint64)
        if nonempty.any():
            hashes[nonempty] = np.add.reduceat(weighted, (starts - offsets[0])[nonempty])
        hashes ^= lengths.astype(np.uint64)
        hashes ^= hashes >> np.uint64(33)
        hashes *= np.uint64(0xFF51AFD7ED558CCD)
        hashes ^= hashes >> np.uint64(33)
    return hashes


def bucket_of(values: pa.Array | pa.ChunkedArray, num_buckets: int) -> np.ndarray:
    """`(N,)` int64 bucket of each string in `[0, num_buckets)`."""
    return (string_hash(values) % np.uint64(num_buckets)).astype(np.int64)


def sort_events(events: pa.Table) -> pa.Table:
    """Events sorted by user, time, item, then the remaining fields (deterministic ties)."""
    if events.num_rows == 0:
        return events
    return events.take(pc.sort_indices(events, sort_keys=SORT_KEYS))


def _same_as_previous(column: pa.ChunkedArray | pa.Array) -> np.ndarray:
    """`(N,)` bool: row i equals row i-1 (nulls equal nulls); row 0 is False."""
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks()
    if pa.types.is_string(column.type):
        column = pc.fill_null(column, _NULL_SENTINEL)
    same = pc.equal(column.slice(1), column.slice(0, len(column) - 1))
    return np.concatenate([[False], pc.fill_null(same, False).to_numpy(zero_copy_only=False)])


def deduplicate(events: pa.Table, sources: list[str]) -> tuple[pa.Table, pa.Table]:
    """Sort events and drop exact duplicates (same user, item, timestamp, event type and value).

    Returns:
        `(events, dead_letters)`: the sorted first occurrences, and the duplicates.
    """
    events = sort_events(events)
    if events.num_rows < 2:
        return events, dead_letter.empty_dead_letters()
    duplicate = np.ones(events.num_rows, dtype=bool)
    for name in ("user_id", "timestamp", "item_id", "event_type", "value"):
        duplicate &= _same_as_previous(events.column(name))
    if not duplicate.any():
        return events, dead_letter.empty_dead_letters()
    return events.filter(pa.array(~duplicate)), event_dead_letters(
        events.filter(pa.array(duplicate)), dead_letter.DUPLICATE, sources
    )


def event_dead_letters(events: pa.Table, reason: str, sources: list[str]) -> pa.Table:
    """Dead letters for parsed events: `raw` is the fields joined by commas."""
    timestamps = events.column("timestamp").cast(pa.string())
    raw = pc.binary_join_element_wise(
        events.column("user_id"),
        events.column("item_id"),
        timestamps,
        pc.fill_null(events.column("event_type"), ""),
        pc.fill_null(events.column("value"), ""),
        ",",
    )
    source = pa.array(sources, pa.string()).take(events.column("file_index").cast(pa.int64()))
    return dead_letter.dead_letters_from_arrays(reason, source, events.column("line_number"), raw)


def item_counts(events: pa.Table) -> pa.Table:
    """`(item_id, count)` of the events' items."""
    if events.num_rows == 0:
        return ITEM_COUNT_SCHEMA.empty_table()
    counts = events.column("item_id").combine_chunks().value_counts()
    return pa.table(
        {"item_id": counts.field("values"), "count": counts.field("counts").cast(pa.int64())},
        schema=ITEM_COUNT_SCHEMA,
    )


def merge_counts(tables: list[pa.Table], key: str = "item_id") -> pa.Table:
    """Sum count tables by `key`."""
    tables = [table for table in tables if table.num_rows]
    if not tables:
        return pa.schema([(key, pa.string()), ("count", pa.int64())]).empty_table()
    merged = pa.concat_tables(tables).group_by(key).aggregate([("count", "sum")])
    return pa.table({key: merged.column(key), "count": merged.column("count_sum")})


def filter_min_counts(
    events: pa.Table,
    global_item_counts: pa.Table,
    min_user_count: int,
    min_item_count: int,
    sources: list[str],
) -> tuple[pa.Table, pa.Table]:
    """One round of iterative filtering on a user bucket (events sorted by user).

    Drops events whose item has fewer than `min_item_count` events overall (`global_item_counts`),
    then users left with fewer than `min_user_count` events.
    """
    dead = []
    if min_item_count > 0 and events.num_rows:
        frequent = pc.filter(
            global_item_counts.column("item_id"),
            pc.greater_equal(global_item_counts.column("count"), min_item_count),
        )
        keep = pc.is_in(
            events.column("item_id"),
            value_set=frequent.combine_chunks()
            if isinstance(frequent, pa.ChunkedArray)
            else frequent,
        )
        if not pc.all(keep).as_py():
            dead.append(
                event_dead_letters(
                    events.filter(pc.invert(keep)), dead_letter.FILTERED_MIN_ITEM_COUNT, sources
                )
            )
            events = events.filter(keep)
    if min_user_count > 0 and events.num_rows:
        starts, lengths = user_groups(events)
        keep = np.repeat(lengths >= min_user_count, lengths)
        if not keep.all():
            dead.append(
                event_dead_letters(
                    events.filter(pa.array(~keep)), dead_letter.FILTERED_MIN_USER_COUNT, sources
                )
            )
            events = events.filter(pa.array(keep))
    return events, pa.concat_tables(dead) if dead else dead_letter.empty_dead_letters()


def user_groups(events: pa.Table) -> tuple[np.ndarray, np.ndarray]:
    """`(starts, lengths)` of each user's run of rows in events sorted by user."""
    count = events.num_rows
    if count == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    new_user = ~_same_as_previous(events.column("user_id"))
    starts = np.flatnonzero(new_user)
    lengths = np.diff(np.concatenate([starts, [count]]))
    return starts, lengths


def build_sequences(
    events: pa.Table, max_length: int, split: SplitConfig, has_event_types: bool, sources: list[str]
) -> tuple[pa.Table, pa.Table, np.ndarray]:
    """One row per user from deduplicated, filtered events sorted by user and time.

    Returns:
        `(sequences, dead_letters, lengths)`: sequences with `SEQUENCE_SCHEMA`; events beyond the
        most recent `max_length` of a user as `truncated_max_length` dead letters; `(U,)` lengths.
    """
    if events.num_rows == 0:
        return (
            SEQUENCE_SCHEMA.empty_table(),
            dead_letter.empty_dead_letters(),
            np.zeros(0, np.int64),
        )
    starts, lengths = user_groups(events)
    dead = dead_letter.empty_dead_letters()
    if max_length > 0 and (lengths > max_length).any():
        group_end = np.repeat(starts + lengths, lengths)
        keep = (group_end - np.arange(events.num_rows)) <= max_length
        dead = event_dead_letters(
            events.filter(pa.array(~keep)), dead_letter.TRUNCATED_MAX_LENGTH, sources
        )
        events = events.filter(pa.array(keep))
        lengths = np.minimum(lengths, max_length)
        starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    offsets = pa.array(np.concatenate([[0], np.cumsum(lengths)]).astype(np.int32))
    timestamps = events.column("timestamp").combine_chunks()
    if has_event_types:
        event_types = pa.ListArray.from_arrays(
            offsets, events.column("event_type").combine_chunks()
        )
    else:
        event_types = pa.nulls(len(lengths), pa.list_(pa.string()))
    valid_position, test_position = split_positions(timestamps.to_numpy(), starts, lengths, split)
    sequences = pa.table(
        {
            "user_id": events.column("user_id").take(pa.array(starts)),
            "item_ids": pa.ListArray.from_arrays(
                offsets, events.column("item_id").combine_chunks()
            ),
            "timestamps": pa.ListArray.from_arrays(offsets, timestamps),
            "event_types": event_types,
            "valid_position": pa.array(valid_position, pa.int32()),
            "test_position": pa.array(test_position, pa.int32()),
        },
        schema=SEQUENCE_SCHEMA,
    )
    return sequences, dead, lengths


def split_positions(
    timestamps: np.ndarray, starts: np.ndarray, lengths: np.ndarray, split: SplitConfig
) -> tuple[np.ndarray, np.ndarray]:
    """`(U,)` validation and test target positions (index into each sequence, -1 for none)."""
    if split.method == "leave-one-out":
        has_targets = lengths >= 3
        return np.where(has_targets, lengths - 2, -1), np.where(has_targets, lengths - 1, -1)
    local = np.arange(len(timestamps)) - np.repeat(starts, lengths)
    sentinel = np.iinfo(np.int64).max

    def first_at_or_after(cutoff: int) -> np.ndarray:
        candidate = np.where(timestamps >= cutoff, local, sentinel)
        return np.minimum.reduceat(candidate, starts)

    valid = first_at_or_after(split.valid_cutoff)
    test = first_at_or_after(split.test_cutoff)
    valid_ok = (valid < lengths) & (valid != test) & (valid > 0)
    valid_ok &= (
        timestamps[np.minimum(starts + np.minimum(valid, lengths - 1), len(timestamps) - 1)]
        < split.test_cutoff
    )
    test_ok = (test < lengths) & (test > 0)
    return np.where(valid_ok, valid, -1), np.where(test_ok, test, -1)
