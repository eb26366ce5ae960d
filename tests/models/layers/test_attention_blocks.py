"""CausalSelfAttentionBlock: causality, padding, local window, fused vs plain path, config."""

import keras
import numpy as np
import pytest

from models.layers.attention_blocks import CausalSelfAttentionBlock

pytestmark = pytest.mark.keras_backend


def _block(**overrides):
    arguments = dict(hidden_dim=8, num_heads=2, dropout=0.0)
    arguments.update(overrides)
    keras.utils.set_random_seed(1)
    block = CausalSelfAttentionBlock(**arguments)
    block.build((None, None, 8))
    return block


def _inputs(batch=2, length=6, seed=0):
    return np.random.default_rng(seed).normal(size=(batch, length, 8)).astype("float32")


def test_future_positions_do_not_change_earlier_outputs():
    block = _block()
    inputs = _inputs()
    changed = inputs.copy()
    changed[:, 4:] += 5.0
    mask = np.ones((2, 6), dtype=bool)
    before = keras.ops.convert_to_numpy(block(inputs, mask))
    after = keras.ops.convert_to_numpy(block(changed, mask))
    np.testing.assert_allclose(before[:, :4], after[:, :4], atol=1e-5)
    assert not np.allclose(before[:, 4:], after[:, 4:])


def test_padded_keys_are_ignored():
    block = _block()
    inputs = _inputs()
    mask = np.array([[False, False, True, True, True, True]] * 2)
    changed = inputs.copy()
    changed[:, :2] = 100.0  # padding content must not matter
    first = keras.ops.convert_to_numpy(block(inputs, mask))
    second = keras.ops.convert_to_numpy(block(changed, mask))
    np.testing.assert_allclose(first[:, 2:], second[:, 2:], atol=1e-5)


def test_attention_window_limits_what_the_last_position_sees():
    block = _block(attention_window=2)
    _, scores = block(_inputs(), np.ones((2, 6), dtype=bool), return_attention_scores=True)
    scores = keras.ops.convert_to_numpy(scores)  # (B, heads, T, T)
    assert scores.shape == (2, 2, 6, 6)
    np.testing.assert_allclose(scores[:, :, -1, :4], 0.0, atol=1e-6)
    np.testing.assert_allclose(scores[:, :, -1, 4:].sum(-1), 1.0, atol=1e-5)
    assert np.all(np.triu(scores[0, 0], k=1) < 1e-6)


def test_fused_dot_product_path_equals_plain_path():
    """Without scores MHA uses keras.ops.dot_product_attention; with scores, einsum + softmax."""
    block = _block()
    inputs, mask = _inputs(), np.array([[False, True, True, True, True, True]] * 2)
    fused = keras.ops.convert_to_numpy(block(inputs, mask))
    plain, _ = block(inputs, mask, return_attention_scores=True)
    np.testing.assert_allclose(fused[:, 1:], keras.ops.convert_to_numpy(plain)[:, 1:], atol=1e-5)


def test_flash_attention_path_equals_plain_path_where_supported():
    plain_block = _block(flash_attention=False)
    flash_block = _block(flash_attention=True)
    inputs, mask = _inputs(length=8), np.ones((2, 8), dtype=bool)
    plain = keras.ops.convert_to_numpy(plain_block(inputs, mask))
    try:
        flash = keras.ops.convert_to_numpy(flash_block(inputs, mask))
    except (ValueError, NotImplementedError, RuntimeError) as error:
        pytest.skip(f"flash attention not supported by this backend/device: {error}")
    np.testing.assert_allclose(flash, plain, atol=2e-3)


def test_get_config_round_trip():
    block = _block(attention_window=3, flash_attention=None, feed_forward_multiplier=2, dropout=0.1)
    clone = CausalSelfAttentionBlock.from_config(block.get_config())
    assert clone.get_config() == block.get_config()


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (dict(hidden_dim=0, num_heads=1), "Received: hidden_dim=0"),
        (dict(hidden_dim=8, num_heads=3), "Received: num_heads=3"),
        (dict(hidden_dim=8, num_heads=2, dropout=1.0), "Received: dropout=1.0"),
        (dict(hidden_dim=8, num_heads=2, attention_window=0), "Received: attention_window=0"),
        (
            dict(hidden_dim=8, num_heads=2, feed_forward_multiplier=0),
            "Received: feed_forward_multiplier=0",
        ),
        (
            dict(hidden_dim=8, num_heads=2, feed_forward_multiplier=1.5),
            "Received: feed_forward_multiplier=1.5",
        ),
    ],
)
def test_invalid_arguments(arguments, message):
    with pytest.raises(ValueError, match=message):
        CausalSelfAttentionBlock(**arguments)


@pytest.mark.parametrize(
    ("modes", "expected"),
    [
        (dict(), (2, 6, 8)),
        (dict(last_query_only=True), (2, 1, 8)),
        (dict(return_attention_scores=True), ((2, 6, 8), (2, 2, 6, 6))),
        (dict(return_attention_scores=True, last_query_only=True), ((2, 1, 8), (2, 2, 1, 6))),
    ],
)
def test_compute_output_shape_matches_every_mode(modes, expected):
    block = _block()
    assert block.compute_output_shape((2, 6, 8), (2, 6), **modes) == expected
    outputs = block(_inputs(), np.ones((2, 6), dtype=bool), **modes)
    actual = keras.tree.map_structure(lambda tensor: tuple(tensor.shape), outputs)
    assert tuple(actual) == expected
    inputs = keras.Input((6, 8), batch_size=2)
    mask = keras.Input((6,), batch_size=2, dtype="bool")
    symbolic = keras.tree.map_structure(
        lambda tensor: tuple(tensor.shape), block(inputs, mask, **modes)
    )
    assert tuple(symbolic) == expected


def test_feed_forward_multiplier_sets_the_inner_width():
    block = _block(feed_forward_multiplier=3)
    assert tuple(block.feed_forward_inner.kernel.shape) == (8, 24)
