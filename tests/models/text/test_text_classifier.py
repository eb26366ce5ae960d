import numpy as np
import pytest

keras = pytest.importorskip("keras")

from models.text.classifier import (  # noqa: E402
    TextClassifierConfig,
    build_text_classifier,
    probabilities_model,
)

pytestmark = pytest.mark.keras_backend


def _inputs():
    tokens = np.array([[2, 3, 4, 0], [0, 0, 0, 0]], dtype="int32")
    return {
        "token_ids": tokens,
        "ngram_ids": np.ones((2, 4, 3), dtype="int32") * (tokens > 0)[..., None],
    }


def test_outputs_and_save_round_trip(tmp_path):
    config = TextClassifierConfig(
        vocabulary_size=10,
        num_classes=3,
        sequence_length=4,
        ngram_vocabulary_size=5,
        ngrams_per_token=3,
        embedding_dim=8,
        num_blocks=2,
        feed_forward_dim=16,
        attention_units=4,
    )
    model = build_text_classifier(config, return_self_attention=True)
    outputs = model(_inputs())
    assert tuple(outputs["probabilities"].shape) == (2, 3)
    assert tuple(outputs["token_attention"].shape) == (2, 4)
    assert tuple(outputs["self_attention"].shape) == (2, 2, 2, 4, 4)
    attention = np.asarray(outputs["token_attention"])
    np.testing.assert_allclose(attention[0, 3], 0.0, atol=1e-6)
    assert np.isfinite(np.asarray(outputs["probabilities"])).all()
    model.save(tmp_path / "model.keras")
    loaded = keras.models.load_model(tmp_path / "model.keras")
    np.testing.assert_allclose(
        np.asarray(loaded(_inputs())["probabilities"]),
        np.asarray(outputs["probabilities"]),
        atol=1e-5,
    )
    trainer = probabilities_model(model)
    assert tuple(trainer(_inputs()).shape) == (2, 3)
    assert TextClassifierConfig.from_dict(config.to_dict()) == config


def test_rejects_bad_configuration():
    with pytest.raises(ValueError, match="Received: num_classes=1"):
        TextClassifierConfig(vocabulary_size=10, num_classes=1)
    with pytest.raises(ValueError, match="Received: embedding_dim=0"):
        TextClassifierConfig(vocabulary_size=10, num_classes=2, embedding_dim=0)
