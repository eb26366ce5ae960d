"""Next-item training batches from numpy sequences: a `keras.utils.PyDataset`, no TensorFlow.

Each training sequence `s` gives inputs `s[:-1]` and targets `s[1:]`, left-padded with
`PADDING_INDEX`; a target of 0 means "no loss here". A sequence with more than `max_length`
targets is cut into consecutive windows of `max_length` targets (`every_position_windows`), so
every position is trained on; or, with `every_position=False`, only its last `max_length`
positions are (SASRec's original). Sequences are
grouped in length buckets (4, 6, 8, 12, 16, ... up to `max_length`) and each batch holds about
`tokens_per_batch` positions, so short histories do not pay for a full `max_length` of padding
in the full-softmax loss, the dominant cost. Batch order, shuffling and sampled negatives are a
pure function of `(seed, epoch, batch index)`: a resumed run sees exactly the batches an
uninterrupted run would have seen.
"""

from __future__ import annotations

import keras
import numpy as np

from models.recommender.config import LOSSES
from models.recommender.sequence_data import (
    ITEM_INDEX_OFFSET,
    left_pad,
    left_pad_timestamps,
    timestamps_of,
)

# The log-Q of a padding slot among the in-batch negatives: its logit falls to about -1e9, as
# `losses.NEGATIVE_INFINITY` does, and leaves the normaliser.
MASKED_LOG_Q = 1e9


def bucket_lengths(max_length: int) -> list[int]:
    """Bucket lengths 4, 6, 8, 12, 16, 24, 32, 48, ... below `0.8 * max_length`, then `max_length`.

    Steps of about 1.4x keep the padding small (on Amazon Games, whose training histories are 7
    items long on average, 80% of the computed positions are real ones, against 55% with
    powers of two) while the number of distinct batch shapes, each one compiled once under
    XLA, stays logarithmic in `max_length`.
    """
    lengths, length = [], 4
    while length < 0.8 * max_length:
        lengths.append(length)
        length = length * 3 // 2 if (length & (length - 1)) == 0 else length * 4 // 3
    return lengths + [max_length]


def every_position_windows(sequences: list[np.ndarray], max_length: int) -> list[np.ndarray]:
    """Cut sequences with more than `max_length` targets into windows that cover each target once.

    A sequence of `n` items has targets at positions `1 .. n-1`. Windows end at `n, n - max_length,
    n - 2 * max_length, ...` and each holds the `max_length + 1` items before its end (fewer for
    the earliest), i.e. `max_length` inputs and the targets shifted by one. The latest window is
    the one the last-positions mode trains on; earlier windows add the older targets, with the
    context of their own window. Shorter sequences are returned unchanged.

    Args:
        sequences: index arrays `(n,)`.
        max_length: targets per window.

    Returns:
        Windows, latest first within each sequence; a sequence of fewer than 2 items (no
        target) gives none.
    """
    if not isinstance(max_length, int) or max_length < 1:
        raise ValueError(
            f"Expected max_length to be a positive integer. Received: max_length={max_length!r}"
        )
    return [
        sequence[max(0, end - max_length - 1) : end]
        for sequence in sequences
        for end in range(len(sequence), 1, -max_length)
    ]


class NextItemBatches(keras.utils.PyDataset):
    """Batches `(item_ids (B, L), y)` for next-item training, `L` one of `bucket_lengths`.

    With `timestamps=True` the inputs are the dict `{"item_ids": (B, L), "timestamps": (B, L)}`
    (int32 seconds relative to each row's latest input event, `left_pad_timestamps`), for a
    model trained with `time_intervals`; every sequence must then be a `TimedSequence`.

    `y` is a dict: `targets (B, L)` always; for `loss="bce"` or with `uniform_negatives` also
    `negatives (B, L)` (one uniformly sampled item per position); for `loss="sampled_softmax"`
    also `negatives (K,)` shared by the batch, drawn from `item_counts ** 0.75`, with
    `negative_log_q (K,)` and `target_log_q (B, L)` = log of the expected number of draws of each
    item (log-Q correction). With `in_batch_negatives` (mixed negative sampling, Yang et al.
    2020) the batch's own targets follow the `K` drawn ones: `negatives (K + B * L,)`, each item's
    log-Q then the log of its expected count in the mixed sample, `K * q(i) + N * p(i)` (`N`
    the batch's targets, `p` the target frequencies); a padding slot's log-Q is
    `MASKED_LOG_Q`, which takes it out of the normaliser. `num_sequences` / `num_targets`: the
    rows (windows) and the training targets one epoch holds.

    Args:
        sequences: training sequences (index arrays); those shorter than 2 are skipped.
        max_length: the model's maximum history length.
        vocabulary_size: number of indices (items + padding + OOV).
        tokens_per_batch: about how many positions one batch holds.
        loss: one of `LOSSES`.
        seed: seed of shuffling and negative sampling.
        num_negatives: `K`, shared negatives per batch for `sampled_softmax`.
        item_counts: `(V,)` item frequencies for the sampling distribution (`sampled_softmax`).
        shuffle: shuffle rows and batch order each epoch.
        uniform_negatives: also draw the per-position uniform `negatives` with the full softmax
            (for its `pairwise_weight` term).
        every_position: train on every target of a sequence longer than `max_length` (cut into
            `every_position_windows`); `False` = only its last `max_length` targets.
        timestamps: also give the inputs' timestamps (see above).
        in_batch_negatives: `sampled_softmax` only: the batch's targets are negatives too.
    """

    def __init__(
        self,
        sequences: list[np.ndarray],
        max_length: int,
        vocabulary_size: int,
        tokens_per_batch: int = 6400,
        loss: str = "softmax",
        seed: int = 0,
        num_negatives: int = 1024,
        item_counts: np.ndarray | None = None,
        shuffle: bool = True,
        uniform_negatives: bool = False,
        every_position: bool = True,
        timestamps: bool = False,
        in_batch_negatives: bool = False,
    ):
        super().__init__(workers=1, use_multiprocessing=False)
        if loss not in LOSSES:
            raise ValueError(f"Expected loss to be one of {LOSSES}. Received: loss={loss!r}")
        if tokens_per_batch < 1:
            raise ValueError(
                f"Expected tokens_per_batch >= 1. Received: tokens_per_batch={tokens_per_batch}"
            )
        if uniform_negatives and loss != "softmax":
            raise ValueError(
                f"Expected uniform_negatives only with loss='softmax'. Received: loss={loss!r}"
            )
        if in_batch_negatives and loss != "sampled_softmax":
            raise ValueError(
                "Expected in_batch_negatives only with loss='sampled_softmax'. "
                f"Received: loss={loss!r}"
            )
        if loss == "sampled_softmax" and item_counts is None:
            raise ValueError(
                "Expected item_counts for loss='sampled_softmax'. Received: item_counts=None"
            )
        self.max_length = max_length
        self.vocabulary_size = vocabulary_size
        self.tokens_per_batch = tokens_per_batch
        self.loss = loss
        self.seed = seed
        self.num_negatives = num_negatives
        self.shuffle = shuffle
        self.uniform_negatives = loss == "bce" or uniform_negatives
        self.in_batch_negatives = bool(in_batch_negatives)
        if every_position:
            sequences = every_position_windows(sequences, max_length)
        usable = [s for s in sequences if len(s) >= 2]
        if not usable:
            raise ValueError(
                "Expected at least one training sequence with 2 or more items. Received: none"
            )
        lengths = np.array([min(len(s) - 1, max_length) for s in usable])
        self.num_sequences = len(usable)
        self.num_targets = int(lengths.sum())
        self.timestamps = bool(timestamps)
        self.buckets: list[tuple[np.ndarray, np.ndarray]] = []
        self.bucket_timestamps: list[np.ndarray] = []
        lower = 0
        for length in bucket_lengths(max_length):
            members = [usable[i] for i in np.flatnonzero((lengths > lower) & (lengths <= length))]
            lower = length
            if members:
                inputs = left_pad([s[:-1] for s in members], length)
                targets = left_pad([s[1:] for s in members], length)
                self.buckets.append((inputs, targets))
                if self.timestamps:
                    times = [timestamps_of(s)[:-1] for s in members]
                    self.bucket_timestamps.append(left_pad_timestamps(times, length))
        if item_counts is not None:
            weights = np.asarray(item_counts, dtype=np.float64) ** 0.75
            weights[:ITEM_INDEX_OFFSET] = 0.0
            self.sampling_probabilities = weights / weights.sum()
            counts = np.asarray(item_counts, dtype=np.float64).copy()
            counts[:ITEM_INDEX_OFFSET] = 0.0
            self.target_probabilities = counts / max(counts.sum(), 1.0)
        self.set_epoch(0)

    def set_epoch(self, epoch: int) -> None:
        """Fix the batch plan (row order, batch order) of `epoch`."""
        self.epoch = epoch
        rng = np.random.default_rng([self.seed, epoch, 0])
        plan = []
        for bucket, (inputs, _) in enumerate(self.buckets):
            rows = len(inputs)
            order = rng.permutation(rows) if self.shuffle else np.arange(rows)
            per_batch = max(1, self.tokens_per_batch // inputs.shape[1])
            plan += [
                (bucket, order[start : start + per_batch]) for start in range(0, rows, per_batch)
            ]
        if self.shuffle:
            plan = [plan[i] for i in rng.permutation(len(plan))]
        # Keras' TensorFlow adapter infers the batch signature from the first two batches: make
        # them differ in length so the signature has a free time axis.
        for i in range(1, len(plan)):
            if plan[i][0] != plan[0][0]:
                plan[1], plan[i] = plan[i], plan[1]
                break
        self.plan = plan

    def __len__(self) -> int:
        return len(self.plan)

    def __getitem__(self, index: int):
        bucket, rows = self.plan[index]
        inputs, targets = self.buckets[bucket]
        length = inputs.shape[1]
        per_batch = max(1, self.tokens_per_batch // length)
        batch_inputs = np.zeros((per_batch, length), dtype=np.int32)
        batch_targets = np.zeros((per_batch, length), dtype=np.int32)
        batch_inputs[: len(rows)] = inputs[rows]
        batch_targets[: len(rows)] = targets[rows]
        y = {"targets": batch_targets}
        if self.timestamps:
            batch_timestamps = np.zeros((per_batch, length), dtype=np.int32)
            batch_timestamps[: len(rows)] = self.bucket_timestamps[bucket][rows]
            batch_inputs = {"item_ids": batch_inputs, "timestamps": batch_timestamps}
        rng = np.random.default_rng([self.seed, self.epoch, index + 1])
        if self.uniform_negatives:
            y["negatives"] = rng.integers(
                ITEM_INDEX_OFFSET, self.vocabulary_size, size=batch_targets.shape, dtype=np.int32
            )
        elif self.loss == "sampled_softmax":
            probabilities = self.sampling_probabilities
            negatives = rng.choice(len(probabilities), size=self.num_negatives, p=probabilities)
            counts = self.num_negatives * probabilities  # (V,) expected draws of each item
            in_batch = batch_targets.reshape(-1)  # (B*L,)
            if self.in_batch_negatives:  # plus its expected count among the batch's targets
                counts = counts + np.count_nonzero(in_batch) * self.target_probabilities
            expected = np.log(np.maximum(counts, 1e-12)).astype("float32")
            negative_log_q = expected[negatives]
            if self.in_batch_negatives:
                in_batch_log_q = np.where(in_batch > 0, expected[in_batch], MASKED_LOG_Q)
                negatives = np.concatenate([negatives, in_batch])
                negative_log_q = np.concatenate([negative_log_q, in_batch_log_q])
            y["negatives"] = negatives.astype(np.int32)
            y["negative_log_q"] = negative_log_q.astype("float32")
            y["target_log_q"] = expected[batch_targets]
        return batch_inputs, y


def tensorflow_epoch_dataset(batches: NextItemBatches):
    """The current epoch of `batches` as a `tf.data.Dataset` (TensorFlow backend only).

    Same batches, same order as iterating `batches`. Keras would wrap a `PyDataset` in
    `tf.data.Dataset.from_generator(...).prefetch(AUTOTUNE)`; destroying that iterator at the end
    of each `fit` call waits for tf.data's autotuning thread to wake up, and its sleep doubles up
    to 40.96 s: measured on Amazon Games, half the epochs took 82 s instead of 41 s. Here the
    epoch's batches are stacked per length bucket (one `(n, B, L)` array each, no padding across
    buckets), interleaved by `choose_from_datasets` in the plan's order, with autotuning off and
    a fixed prefetch of 2 batches. Holds the epoch's int32 arrays in memory: 4 bytes per padded
    position per array (inputs, targets, and BCE's negatives), ~3 MB on Amazon Games.
    """
    import tensorflow as tf

    indices_of_bucket: dict[int, list[int]] = {}
    for index, (bucket, _) in enumerate(batches.plan):
        indices_of_bucket.setdefault(bucket, []).append(index)
    datasets, choice_of_bucket = [], {}
    for choice, (bucket, indices) in enumerate(indices_of_bucket.items()):
        items = [batches[index] for index in indices]
        inputs = keras.tree.map_structure(
            lambda *arrays: np.stack(arrays), *[item_inputs for item_inputs, _ in items]
        )  # (n, B, L), or a dict of them with timestamps
        labels = {
            key: np.stack([y[key] for _, y in items]) for key in items[0][1]
        }  # targets, negatives, ...
        datasets.append(tf.data.Dataset.from_tensor_slices((inputs, labels)))
        choice_of_bucket[bucket] = choice
    order = np.array([choice_of_bucket[bucket] for bucket, _ in batches.plan], dtype=np.int64)
    dataset = tf.data.Dataset.choose_from_datasets(
        datasets, tf.data.Dataset.from_tensor_slices(order)
    )
    dataset = dataset.apply(tf.data.experimental.assert_cardinality(len(order))).prefetch(2)
    options = tf.data.Options()
    options.autotune.enabled = False
    return dataset.with_options(options)
