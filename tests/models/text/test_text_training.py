import json

import numpy as np
import pytest

from models.text.inference import load_text_model
from models.text.training import train_text_model
from models.text.training_config import TextTrainingConfig
from tests.text_model_fixtures import (
    KEYWORDS,
    order_texts,
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


def test_attention_and_wide_contributions_both_point_to_the_planted_keyword():
    texts, _, planted = planted_texts(100, seed=98)

    def at_keyword(model_dir, column):
        frame = load_text_model(model_dir).predict(texts)
        rows = zip(frame["tokens"], frame[column], planted, strict=True)
        weights = [values[tokens.index(keyword)] for tokens, values, keyword in rows]
        top = [
            int(np.argmax(values)) == tokens.index(keyword)
            for tokens, values, keyword in zip(frame["tokens"], frame[column], planted, strict=True)
        ]
        return float(np.mean(weights)), float(np.mean(top))

    uniform = float(np.mean([1.0 / len(text.split()) for text in texts]))
    attention, attention_top = at_keyword(trained_planted_model(), "token_attention")
    assert attention > 3 * uniform  # one keyword among 6-11 tokens carries the weight
    assert attention_top >= 0.8  # ... the most weight, in most texts
    contribution, contribution_top = at_keyword(trained_planted_model(), "wide_contributions")
    assert contribution > 0.5 and contribution_top >= 0.95  # fillers contribute ~0
    untrained, _ = at_keyword(untrained_copy_of_planted_model(), "token_attention")
    assert untrained < 2 * uniform


def test_each_branch_learns_a_planted_rule(tmp_path):
    # the wide branch alone classifies the keyword rule (its own logits, in the joint model)
    metrics = json.loads((trained_planted_model() / "metrics.json").read_text())
    assert metrics["wide_branch"]["accuracy"] >= 0.9 and metrics["served_model"]["accuracy"] >= 0.9
    # a rule only positions reveal (word order, same n-gram bag): the deep branch must learn it
    texts, labels = order_texts(320, seed=21)
    config = training_config(task="intent", epochs=10, max_ngrams=0, dropout=0.0)
    learned = train_text_model(texts, labels, config, tmp_path / "order")
    assert learned["served_model"]["accuracy"] >= 0.9
    assert learned["deep_branch"]["accuracy"] >= 0.9
    assert learned["wide_branch"]["accuracy"] <= 0.7  # the n-gram bag is the same for both
    held_out, held_out_labels = order_texts(100, seed=22)
    predicted = load_text_model(tmp_path / "order").predict(held_out)["label"]
    assert np.mean(predicted.to_numpy() == np.array(held_out_labels)) >= 0.9


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
    thresholds = config["oos_thresholds"]
    assert set(thresholds) == {"max_softmax", "energy", "mahalanobis"}
    assert config["oos_threshold"] == thresholds[config["oos_score"]]
    assert 0.0 < thresholds["max_softmax"] < 0.75  # 1 - max probability; chance is 0.75
    model = load_text_model(folder)
    in_scope = model.predict(planted_texts(200, seed=97)[0])
    unseen = model.predict(out_of_scope_texts(200, seed=96))
    in_scope_flagged = in_scope["out_of_scope"].mean()
    assert in_scope_flagged <= 0.15  # calibrated to keep 95% of validation
    assert unseen["out_of_scope"].mean() > max(0.3, 3 * in_scope_flagged)
    assert unseen["confidence"].mean() < in_scope["confidence"].mean()
    for name in thresholds:  # every score ranks unseen texts as more out of scope
        model.oos_score = name
        assert (
            model.predict(out_of_scope_texts(50, seed=95))["out_of_scope_score"].mean()
            > model.predict(planted_texts(50, seed=94)[0])["out_of_scope_score"].mean()
        )


def test_rejects_bad_configuration_and_inputs(tmp_path):
    with pytest.raises(ValueError, match="Received: task='topic'"):
        TextTrainingConfig(task="topic")
    with pytest.raises(ValueError, match="Received: validation_fraction=0.7"):
        TextTrainingConfig(validation_fraction=0.7)
    with pytest.raises(ValueError, match="Received: branches='linear'"):
        TextTrainingConfig(branches="linear")
    with pytest.raises(ValueError, match="Received: wide_fit='sgd'"):
        TextTrainingConfig(wide_fit="sgd")
    with pytest.raises(ValueError, match="Received: wide_regularization=0"):
        TextTrainingConfig(wide_regularization=0)
    with pytest.raises(ValueError, match="Received: oos_score='entropy'"):
        TextTrainingConfig(oos_score="entropy")
    with pytest.raises(ValueError, match="Received: branches='wide'"):
        TextTrainingConfig(branches="wide", oos_score="mahalanobis")
    with pytest.raises(ValueError, match="Received: len\\(texts\\)=2, len\\(labels\\)=1"):
        train_text_model(["a", "b"], ["x"], training_config(), tmp_path)
    with pytest.raises(ValueError, match="Expected sentiment labels"):
        train_text_model(
            ["a", "b", "c", "d"],
            ["good", "bad", "good", "bad"],
            training_config(task="sentiment"),
            tmp_path,
        )


@pytest.mark.parametrize("branches", ["wide", "deep"])
def test_one_branch_alone_for_the_ablation(tmp_path, branches):
    texts, labels, _ = planted_texts(120, seed=5)
    config = training_config(epochs=2, branches=branches, oos_score="max_softmax")
    metrics = train_text_model(texts, labels, config, tmp_path / "model")
    assert metrics["branches"] == branches and "wide_branch" not in metrics
    assert (tmp_path / "model" / "wide_features.txt").exists() == (branches == "wide")
    frame = load_text_model(tmp_path / "model").predict(planted_texts(20, seed=6)[0])
    missing = "token_attention" if branches == "wide" else "wide_contributions"
    assert all(not any(values) for values in frame[missing])  # the absent branch gives 0


def test_evaluation_counts_unknown_labels_as_out_of_scope_with_the_configured_score():
    from models.text.evaluation import evaluate_text_model

    texts, labels, _ = planted_texts(60, seed=93)
    unseen = out_of_scope_texts(40, seed=92)
    result = evaluate_text_model(trained_planted_model(), texts + unseen, labels + ["x"] * 40)
    figures = result["out_of_scope"]
    config = json.loads((trained_planted_model() / "config.json").read_text())
    assert figures["oos_score"] == config["oos_score"] and figures["oos_count"] == 40
    assert figures["threshold"] == config["oos_threshold"]
    assert figures["auroc"] > 0.9 and figures["oos_recall"] > 0.5
    assert result["in_scope"]["accuracy"] >= 0.9
