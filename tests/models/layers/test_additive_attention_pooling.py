import numpy as np
import pytest

keras = pytest.importorskip("keras")

from models.layers.additive_attention_pooling import AdditiveAttentionPooling  # noqa: E402

pytestmark = pytest.mark.keras_backend


def test_weights_are_a_masked_distribution_and_pool_the_inputs():
    layer = AdditiveAttentionPooling(attention_units=4)
    inputs = np.random.default_rng(0).normal(size=(2, 5, 3)).astype("float32")
    mask = np.array([[1, 1, 0, 0, 0], [0, 0, 0, 0, 0]], dtype=bool)
    pooled, weights = layer(inputs, mask)
    weights = np.asarray(weights)
    np.testing.assert_allclose(weights.sum(axis=1), 1.0, atol=1e-5)
    np.testing.assert_allclose(weights[0, 2:], 0.0, atol=1e-6)
    np.testing.assert_allclose(weights[1], 0.2, atol=1e-6)  # all padding: uniform, no NaN
    np.testing.assert_allclose(np.asarray(pooled)[0], weights[0] @ inputs[0], atol=1e-5)


def test_config_round_trip_and_serialization(tmp_path):
    layer = AdditiveAttentionPooling(attention_units=7, dropout=0.2, name="pool")
    clone = AdditiveAttentionPooling.from_config(layer.get_config())
    assert clone.get_config() == layer.get_config()
    inputs = keras.Input((4, 3))
    model = keras.Model(inputs, AdditiveAttentionPooling(3)(inputs)[1])
    model.save(tmp_path / "m.keras")
    loaded = keras.models.load_model(tmp_path / "m.keras")
    data = np.ones((1, 4, 3), dtype="float32")
    np.testing.assert_allclose(np.asarray(loaded(data)), np.asarray(model(data)), atol=1e-6)


def test_rejects_bad_arguments():
    with pytest.raises(ValueError, match="Received: attention_units=0"):
        AdditiveAttentionPooling(attention_units=0)
    with pytest.raises(ValueError, match="Received: dropout=1.0"):
        AdditiveAttentionPooling(dropout=1.0)
