"""TimeIntervalSelfAttentionBlock: buckets, shapes, causality, padding, the bias, config."""

import keras
import numpy as np
import pytest

from models.layers.time_interval_attention import (
    TimeIntervalSelfAttentionBlock,
    time_interval_buckets,
)

HOUR, DAY = 3600, 86400


def _block(**overrides):
    arguments = dict(hidden_dim=8, num_heads=2, dropout=0.0)
    arguments.update(overrides)
    keras.utils.set_random_seed(1)
    block = TimeIntervalSelfAttentionBlock(**arguments)
    block.build((None, None, 8))
    return block


def _inputs(batch=2, length=6, seed=0):
    return np.random.default_rng(seed).normal(size=(batch, length, 8)).astype("float32")


def _timestamps(batch=2, length=6):
    return np.tile(np.arange(length, dtype=np.int64) * HOUR, (batch, 1))


def _numpy(value):
    return keras.ops.convert_to_numpy(value)


def test_buckets_follow_the_log2_rule_and_clip():
    query = np.array([[0, 1, 3, 7, HOUR, DAY, 10**10]], dtype=np.int64)
    buckets = _numpy(time_interval_buckets(query, np.zeros((1, 1), np.int64), num_buckets=20))
    assert buckets[0, :, 0].tolist() == [0, 1, 2, 3, 11, 16, 19]
    # a key after its query counts as interval 0
    later = _numpy(time_interval_buckets(np.zeros((1, 1), np.int64), query[:, 1:], 20))
    assert later.tolist() == [[[0] * 6]]


def test_shapes_with_and_without_scores_and_last_query_only():
    block = _block()
    mask = np.ones((2, 6), dtype=bool)
    hidden, scores = block(_inputs(), _timestamps(), mask, return_attention_scores=True)
    assert hidden.shape == (2, 6, 8) and scores.shape == (2, 2, 6, 6)
    np.testing.assert_allclose(_numpy(scores).sum(-1), 1.0, atol=1e-5)
    last, last_scores = block(
        _inputs(), _timestamps(), mask, return_attention_scores=True, last_query_only=True
    )
    assert last.shape == (2, 1, 8) and last_scores.shape == (2, 2, 1, 6)
    np.testing.assert_allclose(_numpy(last)[:, 0], _numpy(hidden)[:, -1], atol=1e-5)
    np.testing.assert_allclose(_numpy(last_scores)[:, :, 0], _numpy(scores)[:, :, -1], atol=1e-5)


def test_causal_and_padded_keys_ignored():
    block = _block()
    inputs, mask = _inputs(), np.array([[False, False, True, True, True, True]] * 2)
    changed = inputs.copy()
    changed[:, :2] = 100.0  # padding content must not matter
    changed[:, 5] += 5.0  # a later position must not change earlier ones
    first = _numpy(block(inputs, _timestamps(), mask))
    second = _numpy(block(changed, _timestamps(), mask))
    np.testing.assert_allclose(first[:, 2:5], second[:, 2:5], atol=1e-5)
    _, scores = block(inputs, _timestamps(), mask, return_attention_scores=True)
    scores = _numpy(scores)
    np.testing.assert_allclose(scores[:, :, 2:, :2], 0.0, atol=1e-6)
    assert np.all(np.triu(scores[0, 0], k=1)[2:] < 1e-6)  # real query rows: causal


def test_attention_window_limits_what_the_last_position_sees():
    block = _block(attention_window=2)
    _, scores = block(_inputs(), _timestamps(), np.ones((2, 6), bool), return_attention_scores=True)
    scores = _numpy(scores)
    np.testing.assert_allclose(scores[:, :, -1, :4], 0.0, atol=1e-6)


def test_the_interval_bias_moves_attention_by_time_only():
    """Same inputs, different timestamps: zero bias -> same output; a bias -> different."""
    block = _block()
    mask = np.ones((2, 6), dtype=bool)
    recent = _timestamps()
    old = recent * 48  # two days apart instead of one hour
    np.testing.assert_allclose(
        _numpy(block(_inputs(), recent, mask)), _numpy(block(_inputs(), old, mask)), atol=1e-5
    )
    bias = np.zeros((2, 32), np.float32)
    bias[:, 11] = 10.0  # about an hour ago: strongly preferred
    block.interval_bias.assign(bias)
    _, scores = block(_inputs(), recent, mask, return_attention_scores=True)
    assert np.all(_numpy(scores)[:, :, -1, -2] > 0.9)  # the key one hour before the last
    _, scores = block(_inputs(), old, mask, return_attention_scores=True)
    assert np.all(_numpy(scores)[:, :, -1, -2] < 0.9)


def test_config_round_trip_and_invalid_arguments():
    block = _block(num_buckets=12, attention_window=3, feed_forward_multiplier=2)
    clone = TimeIntervalSelfAttentionBlock.from_config(block.get_config())
    assert clone.get_config() == block.get_config()
    with pytest.raises(ValueError, match="num_buckets=1"):
        TimeIntervalSelfAttentionBlock(8, 2, num_buckets=1)
    with pytest.raises(ValueError, match="num_heads=3"):
        TimeIntervalSelfAttentionBlock(8, 3)
    with pytest.raises(ValueError, match="feed_forward_multiplier=0"):
        TimeIntervalSelfAttentionBlock(8, 2, feed_forward_multiplier=0)
