"""Sequences for the recommender: contract Parquet (or SASRec text) -> numpy -> Keras batches.

No TensorFlow here: the pipeline's Parquet is read with pyarrow into numpy arrays, and training
batches come from a `keras.utils.PyDataset`, so training runs on any Keras backend.

Index conventions (shared by the model, the trainer, inference and serving):
- `PADDING_INDEX = 0` pads histories on the *left* (the most recent item is always last);
- `OOV_INDEX = 1` stands for an item id that is not in the vocabulary;
- an item's index is its line number (0-based) in `vocab/items.txt` plus `ITEM_INDEX_OFFSET = 2`,
  so the model's vocabulary size is `len(item_ids) + 2`.
"""

from __future__ import annotations

import collections
from dataclasses import dataclass
from pathlib import Path

import numpy as np

PADDING_INDEX = 0
OOV_INDEX = 1
ITEM_INDEX_OFFSET = 2
# Seconds fit int32 relative to each row's latest event (68 years back), the model's input dtype.
MAX_RELATIVE_SECONDS = 2**31 - 1


class TimedSequence(np.ndarray):
    """A user's item indices `(n,)` int32 that carry their events' Unix seconds `(n,)` int64.

    Any 1-D slice or index of it (what the trainer and the evaluation take: histories before a
    target, training windows, `s[:-1]`) keeps the timestamps of the same events in
    `.timestamps`, so a time-aware model's inputs follow the items through code that knows
    nothing about time. `np.asarray(sequence)` gives the plain index array.

    Args:
        items: `(n,)` item indices.
        timestamps: `(n,)` seconds of the same events, in time order.
    """

    def __new__(cls, items, timestamps):
        items = np.asarray(items, dtype=np.int32)
        timestamps = np.asarray(timestamps, dtype=np.int64)
        if items.ndim != 1 or timestamps.shape != items.shape:
            raise ValueError(
                "Expected one timestamp per item, both 1-D. "
                f"Received: items shape={items.shape}, timestamps shape={timestamps.shape}"
            )
        result = items.view(cls)
        result.timestamps = timestamps
        return result

    def __array_finalize__(self, source):
        self.timestamps = getattr(source, "timestamps", None)

    def __getitem__(self, key):
        result = super().__getitem__(key)
        if isinstance(result, TimedSequence) and self.timestamps is not None:
            result.timestamps = self.timestamps[key]
        return result

    def __reduce__(self):  # pickle and copy keep the timestamps (ndarray's own would drop them)
        return TimedSequence, (np.asarray(self), self.timestamps)


def timestamps_of(history) -> np.ndarray:
    """The `(n,)` timestamps a `TimedSequence` carries; a `ValueError` for a plain array."""
    timestamps = getattr(history, "timestamps", None)
    if timestamps is None:
        raise ValueError(
            "Expected histories with timestamps (a model trained with time_intervals reads "
            "them; load the data from a pipeline run whose sequences have timestamps). "
            f"Received: a history of type {type(history).__name__} without timestamps"
        )
    return timestamps


def left_pad_timestamps(timestamps: list[np.ndarray], length: int) -> np.ndarray:
    """`(N, length)` int32: the last `length` timestamps of each row, as seconds relative to the
    row's latest event (so `<= 0`), left-padded with 0; only differences within a row matter."""
    if length < 1:
        raise ValueError(f"Expected length >= 1. Received: length={length}")
    padded = np.zeros((len(timestamps), length), dtype=np.int32)
    for row, values in enumerate(timestamps):
        tail = np.asarray(values, dtype=np.int64)[-length:]
        if len(tail):
            relative = np.clip(tail - tail.max(), -MAX_RELATIVE_SECONDS, 0)
            padded[row, length - len(tail) :] = relative
    return padded


def model_inputs(histories: list[np.ndarray], length: int, time_intervals: bool = False):
    """What a recommender reads: `(N, length)` left-padded indices, or with `time_intervals` the
    dict `{"item_ids": (N, length), "timestamps": (N, length)}` (`left_pad_timestamps`; every
    history must be a `TimedSequence`)."""
    item_ids = left_pad(histories, length)
    if not time_intervals:
        return item_ids
    timestamps = left_pad_timestamps([timestamps_of(h) for h in histories], length)
    return {"item_ids": item_ids, "timestamps": timestamps}


@dataclass
class SequenceData:
    """Users' ordered item sequences as index arrays, with leave-one-out target positions.

    Args:
        item_ids: the item vocabulary; `item_ids[i]` has index `i + ITEM_INDEX_OFFSET`.
        sequences: one `int32` index array per user, ordered by time (a `TimedSequence`,
            which carries the events' timestamps, when the data has them).
        valid_positions: `(U,)` index of the validation target in each sequence, -1 if none.
        test_positions: `(U,)` index of the test target in each sequence, -1 if none.
        user_ids: the user id strings, same order as `sequences`.
    """

    item_ids: list[str]
    sequences: list[np.ndarray]
    valid_positions: np.ndarray
    test_positions: np.ndarray
    user_ids: list[str]

    @property
    def has_timestamps(self) -> bool:
        """Whether every sequence carries its timestamps (`TimedSequence`)."""
        return all(getattr(s, "timestamps", None) is not None for s in self.sequences)

    @property
    def vocabulary_size(self) -> int:
        """Number of indices the model needs: items plus padding and OOV."""
        return len(self.item_ids) + ITEM_INDEX_OFFSET

    def training_sequences(self, validation_trained: np.ndarray | None = None) -> list[np.ndarray]:
        """Each user's training sequence: the items before the first held-out target.

        Args:
            validation_trained: optional `(U,)` booleans: users whose validation target is a
                training target too; their sequence then runs up to the test target.
        """
        trained = self._validation_trained(validation_trained)
        result = []
        for user, (sequence, valid, test) in enumerate(
            zip(self.sequences, self.valid_positions, self.test_positions, strict=True)
        ):
            held_out = (test,) if trained[user] else (valid, test)
            end = next((int(p) for p in held_out if p >= 0), len(sequence))
            result.append(sequence[:end])
        return result

    def _validation_trained(self, validation_trained: np.ndarray | None) -> np.ndarray:
        if validation_trained is None:
            return np.zeros(len(self.sequences), dtype=bool)
        trained = np.asarray(validation_trained)
        if trained.dtype != bool or trained.shape != (len(self.sequences),):
            raise ValueError(
                f"Expected validation_trained to be {len(self.sequences)} booleans, one per user. "
                f"Received: dtype={trained.dtype}, shape={trained.shape}"
            )
        return trained

    def evaluation_examples(self, split: str) -> tuple[list[np.ndarray], np.ndarray, np.ndarray]:
        """Histories, targets and user rows of the `valid` or `test` split.

        Returns:
            `(histories, targets, users)`: a list of index arrays (everything before the target),
            `(N,)` target indices and `(N,)` row numbers into `sequences`.
        """
        if split not in ("valid", "test"):
            raise ValueError(f"Expected split to be 'valid' or 'test'. Received: split={split!r}")
        positions = self.valid_positions if split == "valid" else self.test_positions
        users = np.flatnonzero(positions > 0)
        histories = [self.sequences[u][: positions[u]] for u in users]
        targets = np.array([self.sequences[u][positions[u]] for u in users], dtype=np.int32)
        return histories, targets, users.astype(np.int64)

    def item_counts(self, validation_trained: np.ndarray | None = None) -> np.ndarray:
        """`(V,)` how often each index occurs in the training sequences (0 for padding and OOV).

        Args:
            validation_trained: as in `training_sequences`.
        """
        counts = np.zeros(self.vocabulary_size, dtype=np.int64)
        for sequence in self.training_sequences(validation_trained):
            np.add.at(counts, sequence, 1)
        counts[:ITEM_INDEX_OFFSET] = 0
        return counts


def _vocabulary_from_counts(counter: collections.Counter) -> list[str]:
    return [item for item, _ in sorted(counter.items(), key=lambda pair: (-pair[1], pair[0]))]


def load_sequence_data(folder: str | Path) -> SequenceData:
    """Read an events run folder (`sequences/`, `vocab/items.txt`) written by the pipeline."""
    import pyarrow.parquet as pq

    folder = Path(folder)
    sequences_dir, vocab_file = folder / "sequences", folder / "vocab" / "items.txt"
    for path in (sequences_dir, vocab_file):
        if not path.exists():
            raise FileNotFoundError(
                f"Expected an events run folder with sequences/ and vocab/items.txt. "
                f"Missing: {path}. Received: folder={str(folder)!r}"
            )
    item_ids = vocab_file.read_text(encoding="utf-8").splitlines()
    lookup = {item: index + ITEM_INDEX_OFFSET for index, item in enumerate(item_ids)}
    names = ["user_id", "item_ids", "valid_position", "test_position"]
    timed = "timestamps" in pq.ParquetDataset(sequences_dir).schema.names
    table = pq.read_table(sequences_dir, columns=names + (["timestamps"] if timed else []))
    columns = table.to_pydict()
    sequences = [
        np.array([lookup.get(item, OOV_INDEX) for item in items], dtype=np.int32)
        for items in columns["item_ids"]
    ]
    if timed:  # the contract keeps each event's seconds: carry them with the items
        sequences = [
            TimedSequence(items, times)
            for items, times in zip(sequences, columns["timestamps"], strict=True)
        ]
    return SequenceData(
        item_ids=item_ids,
        sequences=sequences,
        valid_positions=np.asarray(columns["valid_position"], dtype=np.int64),
        test_positions=np.asarray(columns["test_position"], dtype=np.int64),
        user_ids=[str(user) for user in columns["user_id"]],
    )


def leave_one_out_positions(lengths: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The contract's leave-one-out split: test = n-1, valid = n-2 for n >= 3, else -1."""
    lengths = np.asarray(lengths, dtype=np.int64)
    has_targets = lengths >= 3
    return np.where(has_targets, lengths - 2, -1), np.where(has_targets, lengths - 1, -1)


def read_sasrec_text(path: str | Path) -> SequenceData:
    """Read SASRec's `user item` text format (each user's lines in time order) in memory.

    Produces the same structure as `load_sequence_data` on the pipeline's output of that file.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(
            f"Expected a SASRec `user item` text file. Received: path={str(path)!r}"
        )
    by_user: dict[str, list[str]] = collections.defaultdict(list)
    counter: collections.Counter = collections.Counter()
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            parts = line.split()
            if len(parts) < 2:
                continue
            by_user[parts[0]].append(parts[1])
            counter[parts[1]] += 1
    item_ids = _vocabulary_from_counts(counter)
    lookup = {item: index + ITEM_INDEX_OFFSET for index, item in enumerate(item_ids)}
    users = sorted(by_user, key=lambda user: (len(user), user))
    sequences = [
        np.array([lookup[item] for item in by_user[user]], dtype=np.int32) for user in users
    ]
    valid, test = leave_one_out_positions(np.array([len(s) for s in sequences]))
    return SequenceData(item_ids, sequences, valid, test, users)


def left_pad(sequences: list[np.ndarray], length: int) -> np.ndarray:
    """`(N, length)` int32 array: the last `length` items of each sequence, left-padded with 0."""
    if length < 1:
        raise ValueError(f"Expected length >= 1. Received: length={length}")
    padded = np.zeros((len(sequences), length), dtype=np.int32)
    for row, sequence in enumerate(sequences):
        tail = np.asarray(sequence[-length:], dtype=np.int32)
        if len(tail):
            padded[row, length - len(tail) :] = tail
    return padded


def reindex_to_vocabulary(data: SequenceData, item_ids: list[str]) -> SequenceData:
    """The same sequences with indices of another vocabulary (a model's); unknown ids -> OOV."""
    lookup = {item: index + ITEM_INDEX_OFFSET for index, item in enumerate(item_ids)}
    mapping = np.array(
        [PADDING_INDEX, OOV_INDEX, *[lookup.get(item, OOV_INDEX) for item in data.item_ids]],
        dtype=np.int32,
    )
    return SequenceData(
        item_ids=list(item_ids),
        sequences=[
            TimedSequence(mapping[sequence], sequence.timestamps)
            if getattr(sequence, "timestamps", None) is not None
            else mapping[sequence]
            for sequence in data.sequences
        ],
        valid_positions=data.valid_positions,
        test_positions=data.test_positions,
        user_ids=data.user_ids,
    )
