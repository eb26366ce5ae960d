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


def _wide_and_deep_config(**changes):
    values = dict(
        vocabulary_size=10,
        num_classes=3,
        sequence_length=4,
        embedding_dim=8,
        feed_forward_dim=16,
        attention_units=4,
        wide_feature_count=6,
        wide_slots_per_token=3,
    )
    return TextClassifierConfig(**{**values, **changes})


def _wide_inputs():
    ids = np.array([[[1, 2, 3], [1, 0, 4], [0, 0, 0], [0, 0, 0]]] * 2, dtype="int32")
    counts = np.where(ids > 0, np.where(ids == 1, 2.0, 1.0), 0.0).astype("float32")
    return {"token_ids": _inputs()["token_ids"], "wide_ids": ids, "wide_counts": counts}


def test_wide_and_deep_logits_are_the_sum_of_the_branches_and_round_trip(tmp_path):
    model = build_text_classifier(_wide_and_deep_config())
    model.get_layer("wide").kernel.assign(np.random.default_rng(0).normal(size=(6, 3)))
    outputs = model(_wide_inputs())
    contributions = np.asarray(outputs["wide_contributions"])
    assert contributions.shape == (2, 4, 3) and np.all(contributions[:, 2:] == 0)
    deep_logits = model.get_layer("deep_logits")
    assert deep_logits is not None
    probabilities = np.asarray(outputs["probabilities"])
    logits = np.asarray(outputs["logits"])
    np.testing.assert_allclose(
        np.exp(logits) / np.exp(logits).sum(1, keepdims=True), probabilities, rtol=1e-5
    )
    np.testing.assert_allclose(
        np.asarray(outputs["oos_energy"]), -np.log(np.exp(logits).sum(axis=1)), rtol=1e-5
    )
    np.testing.assert_allclose(np.asarray(outputs["oos_max_softmax"]), 1 - probabilities.max(1))
    assert tuple(outputs["oos_mahalanobis"].shape) == (2,)
    model.save(tmp_path / "model.keras")
    loaded = keras.models.load_model(tmp_path / "model.keras")
    np.testing.assert_allclose(
        np.asarray(loaded(_wide_inputs())["wide_contributions"]), contributions, atol=1e-6
    )
    assert TextClassifierConfig.from_dict(_wide_and_deep_config().to_dict()).wide_feature_count == 6


def test_wide_only_model_has_no_attention_and_a_model_needs_a_branch():
    model = build_text_classifier(_wide_and_deep_config(deep=False))
    outputs = model(_wide_inputs())
    assert not np.asarray(outputs["token_attention"]).any() and "oos_mahalanobis" not in outputs
    with pytest.raises(ValueError, match="Expected at least one branch"):
        _wide_and_deep_config(deep=False, wide_feature_count=0)
