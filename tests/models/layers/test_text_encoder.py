import numpy as np
import pytest

keras = pytest.importorskip("keras")

from models.layers.text_encoder import TextEmbedding, TransformerBlock  # noqa: E402

pytestmark = pytest.mark.keras_backend


def test_embedding_shapes_and_config_round_trip():
    layer = TextEmbedding(20, 6, 8, ngram_vocabulary_size=10, dropout=0.0)
    tokens = np.array([[2, 3, 0, 0, 0, 0]], dtype="int32")
    grams = np.zeros((1, 6, 3), dtype="int32")
    grams[0, 0] = [1, 2, 0]
    output = np.asarray(layer(tokens, grams))
    assert output.shape == (1, 6, 8)
    clone = TextEmbedding.from_config(layer.get_config())
    assert clone.get_config() == layer.get_config()


def test_transformer_block_ignores_padding_keys():
    keras.utils.set_random_seed(0)
    block = TransformerBlock(num_heads=2, key_dim=4, feed_forward_dim=8, dropout=0.0)
    inputs = np.random.default_rng(0).normal(size=(1, 5, 8)).astype("float32")
    mask = np.array([[1, 1, 1, 0, 0]], dtype=bool)
    outputs, scores = block(inputs, mask)
    scores = np.asarray(scores)
    assert scores.shape == (1, 2, 5, 5)
    np.testing.assert_allclose(scores[0, :, :3, 3:], 0.0, atol=1e-6)
    changed = inputs.copy()
    changed[0, 3:] = 9.0  # padding content must not change real positions
    np.testing.assert_allclose(
        np.asarray(block(changed, mask)[0])[0, :3], np.asarray(outputs)[0, :3], atol=1e-5
    )
    assert TransformerBlock.from_config(block.get_config()).get_config() == block.get_config()


def test_rejects_bad_arguments():
    with pytest.raises(ValueError, match="Received: vocabulary_size=0"):
        TextEmbedding(0, 4, 4)
    with pytest.raises(ValueError, match="Received: ngram_vocabulary_size=-1"):
        TextEmbedding(4, 4, 4, ngram_vocabulary_size=-1)
    with pytest.raises(ValueError, match="Received: num_heads=0"):
        TransformerBlock(num_heads=0)
    with pytest.raises(ValueError, match="Received: dropout=1.5"):
        TransformerBlock(dropout=1.5)
