"""NextItemBatches: shifted targets, length buckets, determinism per (seed, epoch), negatives."""

import numpy as np
import pytest

from models.recommender.sequence_batches import (
    NextItemBatches,
    bucket_lengths,
    every_position_windows,
)


def _sequences():
    rng = np.random.default_rng(0)
    return [rng.integers(2, 40, size=rng.integers(2, 30)).astype("int32") for _ in range(60)]


def test_bucket_lengths():
    assert bucket_lengths(50) == [4, 6, 8, 12, 16, 24, 32, 50]
    assert bucket_lengths(200) == [4, 6, 8, 12, 16, 24, 32, 48, 64, 96, 128, 200]
    assert bucket_lengths(8) == [4, 6, 8]
    assert bucket_lengths(5) == [5]


def test_targets_are_inputs_shifted_by_one():
    batches = NextItemBatches(
        [np.array([5, 6, 7, 8], dtype="int32")], 8, 10, tokens_per_batch=4, shuffle=False
    )
    inputs, y = batches[0]
    np.testing.assert_array_equal(inputs, [[0, 5, 6, 7]])  # the length-4 bucket
    np.testing.assert_array_equal(y["targets"], [[0, 6, 7, 8]])


def _transitions(batches):
    """Sorted (previous item, target) pairs of one epoch's batches."""
    pairs = []
    for index in range(len(batches)):
        inputs, y = batches[index]
        kept = y["targets"] > 0
        pairs += list(zip(inputs[kept].tolist(), y["targets"][kept].tolist(), strict=True))
    return sorted(pairs)


def test_every_position_appears_once_per_epoch_and_first_batches_differ_in_length():
    sequences = _sequences()  # lengths 2-29, max_length 20: some are cut into windows
    batches = NextItemBatches(sequences, 20, 40, tokens_per_batch=64, seed=1)
    shapes = [batches[i][0].shape for i in range(len(batches))]
    assert shapes[0][1] != shapes[1][1]
    assert all(rows == 64 // length for rows, length in shapes)
    every_transition = sorted(
        (int(a), int(b)) for s in sequences for a, b in zip(s[:-1], s[1:], strict=True)
    )
    assert _transitions(batches) == every_transition
    assert batches.num_targets == len(every_transition)
    assert batches.num_sequences == len(sequences) + sum(len(s) > 21 for s in sequences)


def test_without_every_position_only_the_last_max_length_targets_are_trained():
    sequences = _sequences()
    batches = NextItemBatches(sequences, 20, 40, tokens_per_batch=64, seed=1, every_position=False)
    tails = [s[-21:] for s in sequences]
    last = sorted(
        (int(a), int(b)) for tail in tails for a, b in zip(tail[:-1], tail[1:], strict=True)
    )
    assert _transitions(batches) == last
    assert (
        batches.num_targets
        == sum(min(len(s) - 1, 20) for s in sequences)
        < sum(len(s) - 1 for s in sequences)
    )


def test_every_position_windows_cover_each_target_once_with_its_own_window_as_context():
    sequence = np.arange(100, 112)  # 12 items: targets at positions 1..11
    windows = every_position_windows([sequence, np.array([7]), np.arange(3)], max_length=5)
    assert [w.tolist() for w in windows] == [
        list(range(106, 112)),  # the last 5 targets (107..111) after their 5 inputs
        list(range(101, 107)),  # targets 102..106
        [100, 101],  # target 101, the first position
        [0, 1, 2],  # short sequences pass unchanged; a 1-item sequence gives no window
    ]
    with pytest.raises(ValueError, match="Received: max_length=0"):
        every_position_windows([sequence], max_length=0)


def test_batches_are_a_function_of_seed_and_epoch():
    first, second = (
        NextItemBatches(_sequences(), 20, 40, 64, seed=1),
        NextItemBatches(_sequences(), 20, 40, 64, seed=1),
    )
    second.set_epoch(1)
    second.set_epoch(0)
    np.testing.assert_array_equal(first[3][0], second[3][0])
    first.set_epoch(1)
    assert any(not np.array_equal(first[i][0], second[i][0]) for i in range(len(first)))


def test_negatives_for_bce_and_sampled_softmax():
    counts = np.arange(40, dtype=float)
    bce = NextItemBatches(_sequences(), 20, 40, 64, loss="bce")
    _, y = bce[0]
    assert y["negatives"].shape == y["targets"].shape and y["negatives"].min() >= 2
    softmax = NextItemBatches(_sequences(), 20, 40, 64)
    assert set(softmax[0][1]) == {"targets"}
    pairwise = NextItemBatches(_sequences(), 20, 40, 64, uniform_negatives=True)
    _, y = pairwise[0]
    assert (
        y["negatives"].shape == y["targets"].shape
        and y["negatives"].min() >= 2
        and y["negatives"].max() < 40
    )
    sampled = NextItemBatches(
        _sequences(), 20, 40, 64, loss="sampled_softmax", num_negatives=16, item_counts=counts
    )
    _, y = sampled[0]
    assert y["negatives"].shape == (16,) and y["negative_log_q"].shape == (16,)
    assert y["target_log_q"].shape == y["targets"].shape and y["negatives"].min() >= 2


def test_errors():
    with pytest.raises(ValueError, match="Received: loss='hinge'"):
        NextItemBatches(_sequences(), 20, 40, loss="hinge")
    with pytest.raises(ValueError, match="Received: tokens_per_batch=0"):
        NextItemBatches(_sequences(), 20, 40, tokens_per_batch=0)
    with pytest.raises(ValueError, match="Received: item_counts=None"):
        NextItemBatches(_sequences(), 20, 40, loss="sampled_softmax")
    with pytest.raises(
        ValueError,
        match="Expected uniform_negatives only with loss='softmax'. Received: loss='bce'",
    ):
        NextItemBatches(_sequences(), 20, 40, loss="bce", uniform_negatives=True)
    with pytest.raises(ValueError, match="Received: none"):
        NextItemBatches([np.array([3])], 20, 40)


@pytest.mark.parametrize("loss", ["softmax", "bce", "sampled_softmax"])
def test_tensorflow_epoch_dataset_yields_the_same_batches_in_the_same_order(loss):
    pytest.importorskip("tensorflow")
    from models.recommender.sequence_batches import tensorflow_epoch_dataset

    counts = np.arange(40, dtype="float64")
    batches = NextItemBatches(
        _sequences(), 20, 40, 64, loss=loss, seed=3, num_negatives=8, item_counts=counts
    )
    batches.set_epoch(2)
    dataset = tensorflow_epoch_dataset(batches)
    assert dataset.cardinality().numpy() == len(batches)
    assert not dataset.options().autotune.enabled  # see the function's docstring: no 41 s stall
    produced = list(dataset.as_numpy_iterator())
    assert len(produced) == len(batches)
    for index, (inputs, y) in enumerate(produced):
        expected_inputs, expected_y = batches[index]
        np.testing.assert_array_equal(inputs, expected_inputs)
        assert sorted(y) == sorted(expected_y)
        for key in expected_y:
            np.testing.assert_array_equal(y[key], expected_y[key])
