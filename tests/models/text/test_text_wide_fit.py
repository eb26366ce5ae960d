"""The wide branch fitted first: the sparse TF-IDF matrix equals the layer's features, the SVM
solves LinearSVC's objective, and the fitted weights serve through the layer frozen."""

import numpy as np
import pytest

from models.text.wide_features import WideVocabulary
from models.text.wide_fit import fit_linear_svm, tfidf_matrix
from pipeline.text_normalization import tokenize

TEXTS = [
    "profit rose at the bank",
    "profit fell at the bank",
    "shares rose after the report",
    "shares fell after the report",
    "the bank rose sharply",
    "the bank fell sharply",
    "Прибыль выросла 😀",
    "",
]


def _features(sequence_length: int = 8):
    tokens = [tokenize(text) for text in TEXTS]
    vocabulary = WideVocabulary.fit(tokens, sequence_length=sequence_length, ngrams_per_token=6)
    return vocabulary, vocabulary.encode_tokens(tokens, sequence_length)


def test_the_matrix_times_weights_equals_the_layer_logits():
    from models.text.wide_layer import WideTfidfLogits

    vocabulary, features = _features()
    matrix = tfidf_matrix(
        features["wide_ids"], features["wide_counts"], vocabulary.idf, vocabulary.size
    )
    assert matrix.shape == (len(TEXTS), vocabulary.size)
    assert matrix[:, 0].nnz == 0  # padding carries nothing
    kernel = np.random.default_rng(0).normal(size=(vocabulary.size, 3)).astype("float32")
    bias = np.array([0.5, -1.0, 2.0], dtype="float32")
    layer = WideTfidfLogits(vocabulary.size, 3, scale=10.0, learned_scale=True)
    layer.build((None, 8, vocabulary.slots_per_token))
    layer.set_idf(vocabulary.idf)
    layer.set_fitted(kernel, bias)
    assert not layer.kernel.trainable and not layer.bias.trainable
    assert [weight.name for weight in layer.trainable_weights] == ["logit_scale"]
    logits, _ = layer(features["wide_ids"], features["wide_counts"])
    np.testing.assert_allclose(np.asarray(logits), matrix @ kernel + bias, rtol=1e-4, atol=1e-5)


def test_the_svm_solves_linear_svc_objective():
    from sklearn.svm import LinearSVC

    rng = np.random.default_rng(1)
    features = rng.normal(size=(120, 6))
    labels = (features[:, :3] + 0.3 * rng.normal(size=(120, 3))).argmax(axis=1)
    kernel, bias = fit_linear_svm(features, labels, 3, regularization=0.5)
    reference = LinearSVC(C=0.5, intercept_scaling=1000.0, tol=1e-8, max_iter=100_000)
    reference.fit(features, labels)  # a large intercept scaling: a bias nearly unpenalised
    np.testing.assert_allclose(kernel, reference.coef_.T, atol=2e-3)
    np.testing.assert_allclose(bias, reference.intercept_, atol=2e-3)
    ours = (features @ kernel + bias).argmax(axis=1)
    assert (ours == reference.predict(features)).mean() == 1.0


def test_sample_weights_count_like_repeated_texts():
    rng = np.random.default_rng(2)
    features = rng.normal(size=(40, 4))
    labels = rng.integers(0, 2, size=40)
    weights = rng.integers(1, 3, size=40).astype(float)
    weighted = fit_linear_svm(features, labels, 2, sample_weight=weights)
    repeated = fit_linear_svm(
        np.repeat(features, weights.astype(int), axis=0),
        np.repeat(labels, weights.astype(int)),
        2,
        regularization=0.5 * 40 / weights.sum(),  # the weights are normalised to mean 1
    )
    for ours, theirs in zip(weighted, repeated, strict=True):
        np.testing.assert_allclose(ours, theirs, atol=1e-3)


def test_bad_arguments_name_what_was_received():
    vocabulary, features = _features()
    with pytest.raises(ValueError, match="Received: \\(8, 8, 8\\) and"):
        tfidf_matrix(features["wide_ids"], features["wide_counts"][:, :4], vocabulary.idf, 9)
    with pytest.raises(ValueError, match="Expected idf of shape"):
        tfidf_matrix(features["wide_ids"], features["wide_counts"], vocabulary.idf, 3)
    features_matrix = np.ones((3, 2))
    with pytest.raises(ValueError, match="Received: label_ids shape=\\(2,\\)"):
        fit_linear_svm(features_matrix, np.array([0, 1]), 2)
    with pytest.raises(ValueError, match="Received: 3 rows, labels \\[0, 5\\]"):
        fit_linear_svm(features_matrix, np.array([0, 5, 0]), 2)
    with pytest.raises(ValueError, match="Received: regularization=0"):
        fit_linear_svm(features_matrix, np.array([0, 1, 0]), 2, regularization=0)
    with pytest.raises(ValueError, match="non-negative sample weights"):
        fit_linear_svm(features_matrix, np.array([0, 1, 0]), 2, sample_weight=np.array([1, -1, 1]))


def test_out_of_fold_margins_come_from_fits_without_the_row():
    from models.text.wide_fit import out_of_fold_margins

    features = np.eye(30)  # every row its own feature: memorised in sample, unknown out of it
    labels = np.arange(30) % 3
    kernel, bias = fit_linear_svm(features, labels, 3, regularization=10.0)
    assert ((features @ kernel + bias).argmax(axis=1) == labels).all()
    held_out = out_of_fold_margins(features, labels, 3, folds=5, regularization=10.0)
    for row in range(30):  # its own feature's weight is 0 in the fit without it: bias only
        assert np.ptp(held_out[row]) < np.ptp((features @ kernel + bias)[row]) / 5
    with pytest.raises(ValueError, match="Received: folds=1"):
        out_of_fold_margins(features, labels, 3, folds=1)


def test_the_training_view_with_zero_offsets_is_the_served_model():
    from models.text.classifier import (
        MARGIN_OFFSET_INPUT,
        TextClassifierConfig,
        branch_training_model,
        build_text_classifier,
        probabilities_model,
    )

    vocabulary, features = _features()
    config = TextClassifierConfig(
        vocabulary_size=20,
        num_classes=3,
        sequence_length=8,
        embedding_dim=16,
        feed_forward_dim=16,
        attention_units=8,
        wide_feature_count=vocabulary.size,
        wide_slots_per_token=vocabulary.slots_per_token,
        wide_learned_scale=True,
    )
    model = build_text_classifier(config)
    model.get_layer("wide").set_idf(vocabulary.idf)
    rng = np.random.default_rng(3)
    model.get_layer("wide").set_fitted(
        rng.normal(size=(vocabulary.size, 3)), rng.normal(size=3).astype("float32")
    )
    inputs = {
        "token_ids": rng.integers(0, 20, size=(len(TEXTS), 8)).astype("int32"),
        "wide_ids": features["wide_ids"],
        "wide_counts": features["wide_counts"],
    }
    served = np.asarray(model.predict(inputs, verbose=0)["probabilities"])
    zeros = {**inputs, MARGIN_OFFSET_INPUT: np.zeros((len(TEXTS), 3), "float32")}
    for view in (
        probabilities_model(model, margin_offset=True),
        branch_training_model(model, margin_offset=True),
    ):
        output = view.predict({t.name: zeros[t.name] for t in view.inputs}, verbose=0)
        output = output["probabilities"] if isinstance(output, dict) else output
        np.testing.assert_allclose(np.asarray(output), served, rtol=1e-5, atol=1e-6)
    shifted = {**zeros, MARGIN_OFFSET_INPUT: np.tile([[5.0, 0.0, 0.0]], (len(TEXTS), 1))}
    view = probabilities_model(model, margin_offset=True)
    moved = np.asarray(view.predict({t.name: shifted[t.name] for t in view.inputs}, verbose=0))
    assert (moved[:, 0] > served[:, 0]).all()  # the offset moves the wide margins


def test_svm_first_training_serves_the_svm_and_the_cli_offers_it(tmp_path):
    from models.text.inference import load_text_model
    from models.text.training import train_text_model
    from seqlens.cli import build_parser
    from tests.text_model_fixtures import planted_texts, training_config

    texts, labels, _ = planted_texts(160, seed=7)
    config = training_config(epochs=2, branches="wide", wide_fit="svm_first")
    metrics = train_text_model(texts, labels, config, tmp_path / "model")
    assert metrics["wide_fit"] == "svm_first" and metrics["served_model"]["accuracy"] >= 0.9
    model = load_text_model(tmp_path / "model")
    test_texts, test_labels, _ = planted_texts(60, seed=8)
    predicted = model.predict(test_texts)["label"].tolist()
    assert np.mean(np.array(predicted) == np.array(test_labels)) >= 0.9
    arguments = ["train", "intent", "--input", "x.csv", "--wide-fit", "svm_first"]
    assert build_parser().parse_args(arguments).wide_fit == "svm_first"


def test_the_branch_blend_recovers_the_weights_that_drew_the_labels():
    from models.text.wide_fit import fit_branch_blend

    rng = np.random.default_rng(0)
    wide, deep = rng.normal(size=(4000, 3)), rng.normal(size=(4000, 3))
    scores = 2.0 * wide + 0.5 * deep
    probabilities = np.exp(scores) / np.exp(scores).sum(axis=1, keepdims=True)
    labels = np.array([rng.choice(3, p=row) for row in probabilities])
    blend = fit_branch_blend(wide, deep, labels)
    assert blend["wide_weight"] == pytest.approx(2.0, abs=0.15)
    assert blend["deep_weight"] == pytest.approx(0.5, abs=0.15)
    assert blend["examples"] == 4000
    # the blend's likelihood is never below either branch's alone
    assert blend["blend"]["loss"] <= blend["wide_alone"]["loss"] + 1e-9
    assert blend["blend"]["loss"] <= blend["deep_alone"]["loss"] + 1e-9


def test_the_branch_blend_never_weighs_a_branch_negatively():
    from models.text.wide_fit import fit_branch_blend

    rng = np.random.default_rng(1)
    wide = rng.normal(size=(500, 2))
    labels = wide.argmax(axis=1)
    blend = fit_branch_blend(wide, -wide, labels)  # the deep logits point the wrong way
    assert blend["deep_weight"] == 0.0 and blend["wide_weight"] > 0


def test_the_branch_blend_refuses_mismatched_inputs():
    from models.text.wide_fit import fit_branch_blend

    with pytest.raises(ValueError, match=r"Received: \(4, 3\), \(4, 2\), \(4,\)"):
        fit_branch_blend(np.zeros((4, 3)), np.zeros((4, 2)), np.zeros(4, int))
    with pytest.raises(ValueError, match="at least one held-out text"):
        fit_branch_blend(np.zeros((0, 3)), np.zeros((0, 3)), np.zeros(0, int))


def test_stacked_training_serves_the_blend_and_the_svm_refitted_on_every_text(tmp_path):
    import keras

    from models.text.inference import load_text_model
    from models.text.training import train_text_model
    from models.text.wide_fit import fit_linear_svm, tfidf_matrix
    from tests.text_model_fixtures import planted_texts, training_config

    texts, labels, _ = planted_texts(200, seed=7)
    config = training_config(epochs=3, wide_fit="stacked")
    metrics = train_text_model(texts, labels, config, tmp_path / "model")
    blend = metrics["stacked_blend"]
    assert metrics["wide_fit"] == "stacked"
    assert blend["svm_refitted_on"] == len(texts) == metrics["train_count"] + blend["examples"]
    assert blend["blend"]["loss"] <= min(blend["wide_alone"]["loss"], blend["deep_alone"]["loss"])
    model = load_text_model(tmp_path / "model")
    wide_layer = model.model.get_layer("wide")
    assert float(keras.ops.convert_to_numpy(wide_layer.logit_scale)) == pytest.approx(
        blend["wide_weight"], rel=1e-6
    )
    # the served wide weights are an SVM fitted on all 200 texts (training + validation)
    vocabulary = model.wide_vocabulary
    features = vocabulary.encode_tokens([tokenize(text) for text in texts], model.sequence_length)
    matrix = tfidf_matrix(
        features["wide_ids"], features["wide_counts"], vocabulary.idf, vocabulary.size
    )
    index_of = {label: index for index, label in enumerate(model.labels)}
    label_ids = np.array([index_of[label] for label in labels])
    kernel, _ = fit_linear_svm(matrix, label_ids, len(model.labels))
    served = np.asarray(keras.ops.convert_to_numpy(wide_layer.kernel)) * wide_layer.scale
    np.testing.assert_allclose(served, kernel, atol=1e-3)  # one optimum, L-BFGS tolerance
    test_texts, test_labels, _ = planted_texts(60, seed=8)
    predicted = model.predict(test_texts)["label"].tolist()
    assert np.mean(np.array(predicted) == np.array(test_labels)) >= 0.9


def test_a_warm_start_of_the_wrong_shape_is_refused():
    vocabulary, features = _features()
    matrix = tfidf_matrix(
        features["wide_ids"], features["wide_counts"], vocabulary.idf, vocabulary.size
    )
    labels = np.arange(len(TEXTS)) % 3
    with pytest.raises(ValueError, match=r"Expected an initial kernel .* Received: \(2, 3\)"):
        fit_linear_svm(matrix, labels, 3, initial=(np.zeros((2, 3)), np.zeros(3)))
