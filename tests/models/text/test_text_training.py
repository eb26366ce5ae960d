import json

import numpy as np
import pytest

from models.text.inference import load_text_model
from models.text.training import train_text_model
from models.text.training_config import TextTrainingConfig
from tests.text_model_fixtures import (
    KEYWORDS,
    out_of_scope_texts,
    planted_texts,
    trained_planted_model,
    training_config,
    untrained_copy_of_planted_model,
)

pytestmark = pytest.mark.keras_backend


def _accuracy(model_dir, texts, labels):
    predictions = load_text_model(model_dir).predict(texts)
    return float(np.mean(predictions["label"].to_numpy() == np.array(labels)))


def test_learns_planted_keywords_and_a_broken_model_does_not():
    texts, labels, _ = planted_texts(200, seed=99)
    assert _accuracy(trained_planted_model(), texts, labels) >= 0.9  # chance is 0.25
    assert _accuracy(untrained_copy_of_planted_model(), texts, labels) <= 0.5


def test_pooled_attention_concentrates_on_planted_tokens():
    texts, _, planted = planted_texts(100, seed=98)

    def keyword_weight(model_dir):
        frame = load_text_model(model_dir).predict(texts)
        return float(
            np.mean(
                [
                    weights[tokens.index(keyword)]
                    for tokens, weights, keyword in zip(
                        frame["tokens"], frame["token_attention"], planted, strict=False
                    )
                ]
            )
        )

    trained = keyword_weight(trained_planted_model())
    uniform = float(np.mean([1.0 / len(text.split()) for text in texts]))
    assert trained > 3 * uniform  # one keyword among 6-11 tokens carries the weight
    assert keyword_weight(untrained_copy_of_planted_model()) < 2 * uniform


def test_model_folder_files_and_calibrated_oos_threshold():
    folder = trained_planted_model()
    for name in (
        "model.keras",
        "config.json",
        "labels.json",
        "tokens.txt",
        "ngrams.txt",
        "history.json",
        "metrics.json",
        "data_run.json",
    ):
        assert (folder / name).exists(), name
    config = json.loads((folder / "config.json").read_text())
    assert config["labels"] == sorted(KEYWORDS)
    assert config["vocabulary"]["padding_id"] == 0 and config["vocabulary"]["oov_id"] == 1
    threshold = config["oos_threshold"]
    assert 0.25 < threshold < 1.0
    model = load_text_model(folder)
    in_scope = model.predict(planted_texts(200, seed=97)[0])
    unseen = model.predict(out_of_scope_texts(200, seed=96))
    in_scope_flagged = in_scope["out_of_scope"].mean()
    assert in_scope_flagged <= 0.15  # calibrated to keep 95% of validation
    assert unseen["out_of_scope"].mean() > max(0.3, 3 * in_scope_flagged)
    assert unseen["confidence"].mean() < in_scope["confidence"].mean()


def test_rejects_bad_configuration_and_inputs(tmp_path):
    with pytest.raises(ValueError, match="Received: task='topic'"):
        TextTrainingConfig(task="topic")
    with pytest.raises(ValueError, match="Received: validation_fraction=0.7"):
        TextTrainingConfig(validation_fraction=0.7)
    with pytest.raises(ValueError, match="Received: distillation_weight=2"):
        TextTrainingConfig(distillation_weight=2)
    with pytest.raises(ValueError, match="Received: len\\(texts\\)=2, len\\(labels\\)=1"):
        train_text_model(["a", "b"], ["x"], training_config(), tmp_path)
    with pytest.raises(ValueError, match="Expected sentiment labels"):
        train_text_model(
            ["a", "b", "c", "d"],
            ["good", "bad", "good", "bad"],
            training_config(task="sentiment"),
            tmp_path,
        )


@pytest.mark.parametrize("refit_linear", [True, False])
def test_the_linear_member_is_refitted_on_validation_texts_once_the_ensemble_is_chosen(
    tmp_path, refit_linear
):
    import joblib

    from models.text.linear import build_linear_text_classifier
    from models.text.training import _label_set, _stratified_split

    texts, labels, _ = planted_texts(120, seed=5)
    config = training_config(epochs=1, linear_ensemble=True, refit_linear=refit_linear)
    metrics = train_text_model(texts, labels, config, tmp_path / "model")
    names = _label_set(config.task, labels)
    held_out = _stratified_split(
        np.array([names.index(label) for label in labels]), config.validation_fraction, config.seed
    )
    train = [index for index in range(len(texts)) if not held_out[index]]
    validation = [index for index in range(len(texts)) if held_out[index]]
    used = train + validation if refit_linear else train
    expected = build_linear_text_classifier(seed=config.seed).fit(
        [texts[index] for index in used], [labels[index] for index in used]
    )
    saved = joblib.load(tmp_path / "model" / "linear.joblib")
    probes = planted_texts(20, seed=6)[0]
    np.testing.assert_allclose(saved.decision_function(probes), expected.decision_function(probes))
    assert metrics.get("linear_refit_count") == (len(texts) if refit_linear else None)
    assert metrics["train_count"] == len(train)  # the attention model's own data is unchanged
