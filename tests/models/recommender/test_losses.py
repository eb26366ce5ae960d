"""Losses against numpy references."""

import keras
import numpy as np
import pytest

from models.recommender import losses

pytestmark = pytest.mark.keras_backend

RNG = np.random.default_rng(0)
HIDDEN = RNG.normal(size=(2, 3, 4)).astype("float32")
TABLE = RNG.normal(size=(7, 4)).astype("float32")
TARGETS = np.array([[0, 3, 4], [2, 6, 0]], dtype="int32")


def _logits():
    logits = HIDDEN @ TABLE.T  # (B, T, V)
    logits[..., :2] = -1e9
    return logits


def _log_softmax(logits):
    shifted = logits - logits.max(-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(-1, keepdims=True))


def _normaliser_row(logits, b, t, target, inputs=None):
    """Position `(b, t)`'s logits, history items (`inputs[b, :t + 1]`, not the target) at -1e9."""
    row = logits[b, t].copy()
    if inputs is not None:
        for item in set(inputs[b, : t + 1].tolist()) - {0, int(target)}:
            row[item] = -1e9
    return row


def test_full_softmax_matches_numpy_and_ignores_padding_targets():
    expected_terms = [
        -_log_softmax(_logits())[b, t, TARGETS[b, t]]
        for b in range(2)
        for t in range(3)
        if TARGETS[b, t]
    ]
    value = keras.ops.convert_to_numpy(losses.full_softmax_loss(HIDDEN, TABLE, TARGETS))
    assert value == pytest.approx(np.mean(expected_terms), rel=1e-5)


def test_history_indicator_marks_each_positions_history():
    inputs = np.array([[0, 2, 5], [3, 6, 3]], dtype="int32")
    seen = keras.ops.convert_to_numpy(losses.history_indicator(inputs, 7))  # (B*T, V)
    expected = np.zeros((6, 7), dtype=bool)
    for b in range(2):
        for t in range(3):
            expected[b * 3 + t, inputs[b, : t + 1]] = True
    expected[:, 0] = False  # padding
    np.testing.assert_array_equal(seen, expected)


def test_full_softmax_without_history_items_in_the_normaliser():
    # position (1, 2) has history [3, 6, 3] and target 0 (ignored); (1, 1) has target 6 in its
    # history [3, 6]: the target stays, item 3 leaves; (0, 2): history [0, 2, 5], target 4.
    inputs = np.array([[0, 2, 5], [3, 6, 3]], dtype="int32")
    targets = np.array([[0, 3, 4], [2, 6, 0]], dtype="int32")
    logits = _logits()
    expected_terms = []
    for b in range(2):
        for t in range(3):
            if targets[b, t]:
                row = _normaliser_row(logits, b, t, targets[b, t], inputs)
                expected_terms.append(-_log_softmax(row)[targets[b, t]])
    value = keras.ops.convert_to_numpy(
        losses.full_softmax_loss(HIDDEN, TABLE, targets, inputs=inputs)
    )
    assert value == pytest.approx(np.mean(expected_terms), rel=1e-5)
    assert value < keras.ops.convert_to_numpy(losses.full_softmax_loss(HIDDEN, TABLE, targets))


@pytest.mark.parametrize("with_history", [False, True])
def test_label_smoothing_spreads_its_share_over_the_items_in_the_normaliser(with_history):
    inputs = np.array([[0, 2, 5], [3, 6, 3]], dtype="int32")
    logits = _logits()
    expected_terms = []
    for b in range(2):
        for t in range(3):
            target = TARGETS[b, t]
            if not target:
                continue
            row = _normaliser_row(logits, b, t, target, inputs if with_history else None)
            log_probabilities = _log_softmax(row)
            candidates = row > -1e8  # not padding, OOV or (with history) a history item
            uniform = -log_probabilities[candidates].mean()
            expected_terms.append(0.8 * -log_probabilities[target] + 0.2 * uniform)
    value = losses.full_softmax_loss(
        HIDDEN, TABLE, TARGETS, inputs=inputs if with_history else None, label_smoothing=0.2
    )
    assert keras.ops.convert_to_numpy(value) == pytest.approx(np.mean(expected_terms), rel=1e-5)


def test_label_smoothing_keeps_a_never_target_item_at_its_share_instead_of_sinking_it():
    """With logits = a free per-item score, the smoothed loss is smallest where every item's
    probability is `(1 - e) * frequency + e / N`: item 6, never a target, stays at `e / N`.
    Without smoothing, sinking item 6 further always lowers the loss."""
    hidden = np.ones((2, 3, 1), "float32")  # logits = the table's one column
    targets = np.array([[0, 3, 4], [2, 3, 0]], dtype="int32")
    frequencies = np.bincount(targets[targets > 0], minlength=7)[2:] / np.count_nonzero(
        targets
    )  # items 2..6

    def loss(scores, smoothing):
        table = np.concatenate([[0.0, 0.0], scores]).astype("float32")[
            :, None
        ]  # padding, OOV, items
        return float(
            keras.ops.convert_to_numpy(
                losses.full_softmax_loss(hidden, table, targets, label_smoothing=smoothing)
            )
        )

    optimum = np.log(0.8 * frequencies + 0.2 / 5)
    for item in range(5):
        step = np.eye(5)[item] * 0.05
        assert loss(optimum, 0.2) < min(loss(optimum + step, 0.2), loss(optimum - step, 0.2))
    sunk = optimum - np.eye(5)[4]
    assert loss(sunk, 0.0) < loss(optimum, 0.0) and loss(sunk, 0.2) > loss(optimum, 0.2)


def test_sampled_softmax_with_every_item_sampled_once_equals_full_softmax():
    negatives = np.arange(
        2, 7, dtype="int32"
    )  # all items; the target's own copy is an accidental hit
    zeros_targets = np.zeros(TARGETS.shape, "float32")
    value = losses.sampled_softmax_loss(
        HIDDEN, TABLE, TARGETS, negatives, zeros_targets, np.zeros(5, "float32")
    )
    full = losses.full_softmax_loss(HIDDEN, TABLE, TARGETS)
    assert keras.ops.convert_to_numpy(value) == pytest.approx(
        keras.ops.convert_to_numpy(full), rel=1e-5
    )


def test_sampled_softmax_log_q_correction_shifts_logits():
    negatives = np.array([2, 5], dtype="int32")
    target_log_q = np.full(TARGETS.shape, 0.5, "float32")
    negative_log_q = np.array([1.0, -1.0], "float32")
    logits = HIDDEN @ TABLE.T
    terms = []
    for b in range(2):
        for t in range(3):
            target = TARGETS[b, t]
            if not target:
                continue
            row = [logits[b, t, target] - 0.5] + [
                logits[b, t, n] - q
                for n, q in zip(negatives, negative_log_q, strict=True)
                if n != target
            ]
            terms.append(-(row[0] - np.log(np.exp(row).sum())))
    value = losses.sampled_softmax_loss(
        HIDDEN, TABLE, TARGETS, negatives, target_log_q, negative_log_q
    )
    assert keras.ops.convert_to_numpy(value) == pytest.approx(np.mean(terms), rel=1e-5)


def test_binary_cross_entropy_matches_numpy():
    negatives = np.array([[5, 5, 5], [3, 2, 2]], dtype="int32")
    logits = HIDDEN @ TABLE.T
    terms = []
    for b in range(2):
        for t in range(3):
            if TARGETS[b, t]:
                positive, negative = logits[b, t, TARGETS[b, t]], logits[b, t, negatives[b, t]]
                terms.append(np.log1p(np.exp(-positive)) + np.log1p(np.exp(negative)))
    value = losses.binary_cross_entropy_loss(HIDDEN, TABLE, TARGETS, negatives)
    assert keras.ops.convert_to_numpy(value) == pytest.approx(np.mean(terms), rel=1e-5)


def test_uniform_pairwise_matches_numpy_and_skips_a_negative_equal_to_its_target():
    negatives = np.array(
        [[5, 3, 5], [2, 2, 2]], dtype="int32"
    )  # (0, 1) and (1, 0) hit their targets
    logits = HIDDEN @ TABLE.T
    terms = []
    for b in range(2):
        for t in range(3):
            if TARGETS[b, t]:
                difference = logits[b, t, negatives[b, t]] - logits[b, t, TARGETS[b, t]]
                terms.append(
                    0.0 if negatives[b, t] == TARGETS[b, t] else np.log1p(np.exp(difference))
                )
    value = losses.uniform_pairwise_loss(HIDDEN, TABLE, TARGETS, negatives)
    assert keras.ops.convert_to_numpy(value) == pytest.approx(np.mean(terms), rel=1e-5)
    assert terms.count(0.0) == 2


BIAS = RNG.normal(size=(7,)).astype("float32")
# An item bias is one more embedding dimension whose hidden value is always 1.
HIDDEN_WITH_ONE = np.concatenate([HIDDEN, np.ones((2, 3, 1), "float32")], axis=-1)
TABLE_WITH_BIAS = np.concatenate([TABLE, BIAS[:, None]], axis=-1)


@pytest.mark.parametrize("name", ["full", "full_without_history", "sampled", "bce", "pairwise"])
def test_item_bias_acts_as_an_always_one_dimension(name):
    inputs = np.array([[0, 2, 5], [3, 6, 3]], dtype="int32")
    negatives = {
        "sampled": np.array([2, 5, 6], dtype="int32"),
        "bce": np.array([[5, 5, 5], [3, 2, 2]], dtype="int32"),
    }

    def loss(hidden, table, bias=None):
        if name == "full":
            return losses.full_softmax_loss(hidden, table, TARGETS, bias=bias)
        if name == "full_without_history":
            return losses.full_softmax_loss(hidden, table, TARGETS, inputs=inputs, bias=bias)
        if name == "sampled":
            return losses.sampled_softmax_loss(
                hidden,
                table,
                TARGETS,
                negatives["sampled"],
                np.full(TARGETS.shape, 0.5, "float32"),
                np.array([1.0, -1.0, 0.2], "float32"),
                bias=bias,
            )
        if name == "pairwise":
            return losses.uniform_pairwise_loss(hidden, table, TARGETS, negatives["bce"], bias=bias)
        return losses.binary_cross_entropy_loss(hidden, table, TARGETS, negatives["bce"], bias=bias)

    with_bias = keras.ops.convert_to_numpy(loss(HIDDEN, TABLE, BIAS))
    assert with_bias == pytest.approx(
        keras.ops.convert_to_numpy(loss(HIDDEN_WITH_ONE, TABLE_WITH_BIAS)), rel=1e-5
    )
    assert with_bias != pytest.approx(keras.ops.convert_to_numpy(loss(HIDDEN, TABLE)), rel=1e-3)
