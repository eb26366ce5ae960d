import numpy as np
import pytest

from models.text.wide_features import WideVocabulary, model_inputs
from pipeline.text_normalization import tokenize

TRAINING_TEXTS = [
    "Profit rose 5% at $AAPL",
    "profit fell at the bank",
    "the bank rose",
    "Прибыль выросла",
    "Прибыль упала 😀",
]
AWKWARD_TEXTS = [
    "",
    "   ",
    "profit rose " * 40,
    "Прибыль выросла на 10%! profit",
    "日本の株価が上昇。",
    "😀😀 🚀 $AAPL rose https://x.co/a @bob",
    "\x00\x0b control \u2028 separators rose",
]


def _vocabulary():
    return WideVocabulary.fit(
        [tokenize(text) for text in TRAINING_TEXTS], sequence_length=8, ngrams_per_token=6
    )


def test_fit_keeps_unigrams_frequent_bigrams_and_ngrams_with_smoothed_idf():
    vocabulary = _vocabulary()
    features = set(vocabulary.features)
    assert {"1 profit", "1 $aapl", "2 the bank", "c <pr"} <= features
    assert "2 rose <number>" not in features  # one text only (min document frequency 2)
    idf = dict(zip(vocabulary.features, vocabulary.idf, strict=True))
    assert idf["1 profit"] == pytest.approx(np.log(6 / 3) + 1)  # sklearn's smooth idf
    assert idf["1 $aapl"] > idf["1 profit"]


def test_python_and_tensorflow_features_are_identical_on_awkward_texts():
    import tensorflow as tf

    from pipeline.text_normalization import normalize_text_tensor

    vocabulary = _vocabulary()
    length = 8
    expected = vocabulary.encode_tokens([tokenize(text) for text in AWKWARD_TEXTS], length)
    table = tf.lookup.StaticHashTable(
        tf.lookup.KeyValueTensorInitializer(
            tf.constant(vocabulary.features), tf.range(1, vocabulary.size, dtype=tf.int64)
        ),
        default_value=0,
    )
    pieces = tf.strings.split(normalize_text_tensor(tf.constant(AWKWARD_TEXTS)), sep=" ")
    pieces = tf.ragged.boolean_mask(pieces, tf.strings.length(pieces) > 0)[:, :length]

    class Spec:
        sequence_length = length
        wide_ngram_min, wide_ngram_max = vocabulary.ngram_min, vocabulary.ngram_max
        wide_ngrams_per_token = vocabulary.ngrams_per_token

    from models.text.wide_features import encode_wide_tensor

    served = encode_wide_tensor(pieces, table.lookup, Spec)
    np.testing.assert_array_equal(served["wide_ids"].numpy(), expected["wide_ids"])
    np.testing.assert_array_equal(served["wide_counts"].numpy(), expected["wide_counts"])
    assert (
        expected["wide_ids"][2, :, 0].tolist()
        == [vocabulary.feature_to_id["1 profit"], vocabulary.feature_to_id["1 rose"]] * 4
    )  # truncated to sequence_length
    assert expected["wide_counts"][2, 0, 0] == 4  # "profit" four times among the 8 tokens


def test_the_layer_computes_sublinear_tfidf_as_scikit_learn_does():
    import keras

    from models.text.wide_layer import WideTfidfLogits

    vocabulary = _vocabulary()
    texts = [tokenize(text) for text in ["profit rose profit", "the bank"]]
    features = vocabulary.encode_tokens(texts, 8)
    layer = WideTfidfLogits(vocabulary.size, 2, scale=1.0)
    layer.build((None, 8, vocabulary.slots_per_token))
    layer.set_idf(vocabulary.idf)
    kernel = np.random.default_rng(0).normal(size=(vocabulary.size, 2)).astype("float32")
    layer.kernel.assign(kernel)
    logits, contributions = layer(features["wide_ids"], features["wide_counts"])
    for row in range(2):  # the vector of TfidfVectorizer(sublinear_tf=True), L2 per group
        ids = features["wide_ids"][row]
        expected = np.zeros(2)
        for group in (ids[:, :2], ids[:, 2:]):
            unique, frequency = np.unique(group[group > 0], return_counts=True)
            values = (1 + np.log(frequency)) * vocabulary.idf[unique - 1]
            expected += (values / np.linalg.norm(values)) @ kernel[unique]
        np.testing.assert_allclose(np.asarray(logits)[row], expected, rtol=1e-5)
    np.testing.assert_allclose(np.asarray(contributions).sum(axis=1), np.asarray(logits), rtol=1e-5)
    assert keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(layer))


def test_save_load_round_trip_and_bad_arguments(tmp_path):
    vocabulary = _vocabulary()
    loaded = WideVocabulary.load(tmp_path, vocabulary.save(tmp_path))
    assert loaded.features == vocabulary.features
    np.testing.assert_array_equal(loaded.idf, vocabulary.idf)
    with pytest.raises(ValueError, match="Received: len\\(features\\)=1, len\\(idf\\)=0"):
        WideVocabulary(["1 a"], [])
    with pytest.raises(ValueError, match="Received: ngrams_per_token=0"):
        WideVocabulary([], [], ngrams_per_token=0)
    with pytest.raises(ValueError, match="Received: feature='1 a\\\\nb'"):
        WideVocabulary(["1 a\nb"], [1.0])

    class Model:
        inputs = [type("Input", (), {"name": "wide_ids"})()]

    with pytest.raises(ValueError, match="Received: no \\['wide_ids'\\]"):
        model_inputs(Model, {"token_ids": 1})
