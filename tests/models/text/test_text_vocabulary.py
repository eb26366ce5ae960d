import numpy as np
import pytest

from models.text.vocabulary import OOV_ID, TextVocabulary, token_ngrams

TEXTS = [
    "$AAPL shares fell 5.3% to $120.50 after Q3 miss; CEO didn't comment https://t.co/x @bob",
    "Прибыль выросла на 10%!",
    "日本の株価が上昇。",
    "",
    "   \t ",
    "profit " * 300,
    "Profitability unprofitable profits x\x0by",
    "emoji 😀 tést — “quoted” won't",
    "profit\x00rise",  # NUL: TensorFlow's UTF-8 lower-casing used to stop at it
    "\x85shares",  # U+0085: Python's strip used to remove it, TensorFlow's did not
]


def test_fit_orders_by_count_and_reserves_padding_and_oov():
    vocabulary = TextVocabulary.fit(["b a b", "c b a"], max_ngrams=0)
    assert vocabulary.tokens == ["b", "a", "c"]
    ids = vocabulary.encode(["a b zzz", ""], sequence_length=4)["token_ids"]
    np.testing.assert_array_equal(ids, [[3, 2, OOV_ID, 0], [0, 0, 0, 0]])
    assert "ngram_ids" not in vocabulary.encode(["a"], 2)


def test_ngrams_are_ordered_by_width_then_position():
    assert token_ngrams("ab", 2, 3) == ["<a", "ab", "b>", "<ab", "ab>"]


def test_tensorflow_ids_equal_python_ids():
    pytest.importorskip("tensorflow")
    vocabulary = TextVocabulary.fit(
        TEXTS[:3] + ["profit rise fall shares"], max_ngrams=400, ngrams_per_token=6
    )
    for length in (1, 16):
        python_ids = vocabulary.encode(TEXTS, length)
        graph_ids = vocabulary.encode_tensor(TEXTS, length)
        assert set(python_ids) == set(graph_ids) == {"token_ids", "ngram_ids"}
        for name in python_ids:
            np.testing.assert_array_equal(python_ids[name], graph_ids[name].numpy())


def test_save_and_load_round_trip(tmp_path):
    vocabulary = TextVocabulary.fit(TEXTS, max_ngrams=300, ngrams_per_token=4)
    settings = vocabulary.save(tmp_path)
    assert settings["padding_id"] == 0 and settings["oov_id"] == 1
    loaded = TextVocabulary.load(tmp_path, settings)
    for name, ids in vocabulary.encode(TEXTS, 12).items():
        np.testing.assert_array_equal(ids, loaded.encode(TEXTS, 12)[name])


def test_rejects_bad_arguments():
    with pytest.raises(ValueError, match="Received: ngram_min=4, ngram_max=3"):
        TextVocabulary(["a"], ngram_min=4, ngram_max=3)
    with pytest.raises(ValueError, match="Received: ngrams_per_token=0"):
        TextVocabulary(["a"], ngrams_per_token=0)
    with pytest.raises(ValueError, match="Received: token='a b'"):
        TextVocabulary(["a b"])
    with pytest.raises(ValueError, match="Received: sequence_length=0"):
        TextVocabulary(["a"]).encode(["a"], 0)
