"""Masked-token pretraining: the masks, learning a planted co-occurrence, and the training path."""

import json

import numpy as np
import pytest

from models.text.classifier import TextClassifierConfig, build_text_classifier
from models.text.pretraining import FIRST_KNOWN_ID, mask_tokens, pretrain_masked_tokens
from models.text.training import STACKED_MONITOR
from models.text.vocabulary import OOV_ID, TextVocabulary
from tests.text_model_fixtures import FILLER, planted_texts, training_config

pytestmark = pytest.mark.keras_backend

PAIRS = {f"cue{chr(97 + index)}": f"answer{chr(97 + index)}" for index in range(12)}


def paired_texts(count: int, seed: int) -> list[str]:
    """4-7 filler words, then a cue word and, later, its one fixed answer word."""
    rng = np.random.default_rng(seed)
    cues = sorted(PAIRS)
    texts = []
    for _ in range(count):
        words = [str(word) for word in rng.choice(FILLER, size=int(rng.integers(4, 8)))]
        cue = cues[int(rng.integers(0, len(cues)))]
        words.insert(int(rng.integers(0, 3)), cue)
        words.insert(int(rng.integers(words.index(cue) + 1, len(words) + 1)), PAIRS[cue])
        texts.append(" ".join(words))
    return texts


def _features(count=200, seed=0, sequence_length=12):
    texts = paired_texts(count, seed)
    vocabulary = TextVocabulary.fit(texts, max_ngrams=500, ngrams_per_token=6)
    return vocabulary, vocabulary.encode(texts, sequence_length)


def test_masks_choose_known_tokens_and_clear_their_ngrams():
    vocabulary, features = _features()
    features["token_ids"][0, :] = 0  # an empty text
    features["token_ids"][1, 3] = OOV_ID  # an unknown word is never a target
    inputs, labels, weights = mask_tokens(
        features, vocabulary.size, np.random.default_rng(3), mask_rate=0.15, max_predictions=4
    )
    token_ids = features["token_ids"]
    assert inputs["positions"].shape == labels.shape == weights.shape == (200, 4)
    assert weights[0].sum() == 0  # nothing to predict in an empty text
    known = (token_ids >= FIRST_KNOWN_ID).sum(axis=1)
    expected = np.where(known > 0, np.clip(np.rint(known * 0.15), 1, 4), 0)
    np.testing.assert_array_equal(weights.sum(axis=1), expected)
    rows, slots = np.nonzero(weights)
    positions = inputs["positions"][rows, slots]
    np.testing.assert_array_equal(labels[rows, slots], token_ids[rows, positions])
    assert (labels[rows, slots] >= FIRST_KNOWN_ID).all()
    assert not inputs["ngram_ids"][rows, positions].any()  # spelling hidden
    changed = inputs["token_ids"] != token_ids
    assert set(zip(*np.nonzero(changed), strict=True)) <= set(zip(rows, positions, strict=True))
    assert features["token_ids"][5].tolist() == token_ids[5].tolist()  # input not modified


def test_mask_proportions_and_reproducibility():
    vocabulary, features = _features(count=3000, seed=1)
    first = mask_tokens(features, vocabulary.size, np.random.default_rng(5))
    again = mask_tokens(features, vocabulary.size, np.random.default_rng(5))
    np.testing.assert_array_equal(first[0]["token_ids"], again[0]["token_ids"])
    inputs, labels, weights = first
    rows, slots = np.nonzero(weights)
    replaced = inputs["token_ids"][rows, inputs["positions"][rows, slots]]
    share_masked = float(np.mean(replaced == OOV_ID))
    share_kept = float(np.mean(replaced == labels[rows, slots]))
    assert 0.75 < share_masked < 0.85
    assert 0.06 < share_kept < 0.16  # 10% kept, plus random replacements that hit the same id


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (dict(mask_rate=0.0), "mask_rate"),
        (dict(max_predictions=0), "max_predictions"),
        (dict(vocabulary_size=2), "vocabulary_size"),
    ],
)
def test_mask_arguments_are_validated(overrides, message):
    _, features = _features(count=4)
    arguments = dict(vocabulary_size=50, rng=np.random.default_rng(0))
    arguments.update(overrides)
    with pytest.raises(ValueError, match=message):
        mask_tokens(features, **arguments)


def _answer_accuracy(model, vocabulary, texts, sequence_length):
    """Mask each text's answer word; the share of texts whose answer is predicted."""
    features = vocabulary.encode(texts, sequence_length)
    answer_ids = {vocabulary.token_to_id[word] for word in PAIRS.values()}
    positions = np.array(
        [
            [next(i for i, t in enumerate(row) if t in answer_ids)] * 2
            for row in features["token_ids"]
        ],
        dtype="int32",
    )
    rows = np.arange(len(texts))
    truth = features["token_ids"][rows, positions[:, 0]].copy()
    features["token_ids"][rows, positions[:, 0]] = OOV_ID
    features["ngram_ids"][rows, positions[:, 0]] = 0
    logits = np.asarray(model.predict({**features, "positions": positions}, verbose=0))  # (N, 2, V)
    return float(np.mean(logits[:, 0].argmax(axis=-1) == truth))


def test_pretraining_learns_a_planted_co_occurrence_and_shares_the_encoder():
    sequence_length = 12
    vocabulary, features = _features(count=1500, seed=2, sequence_length=sequence_length)
    config = TextClassifierConfig(
        vocabulary_size=vocabulary.size,
        num_classes=3,
        sequence_length=sequence_length,
        ngram_vocabulary_size=vocabulary.ngram_size,
        ngrams_per_token=6,
        embedding_dim=32,
        feed_forward_dim=64,
        attention_units=16,
        dropout=0.0,
    )
    classifier = build_text_classifier(config)
    before = np.array(classifier.get_layer("embedding").token_embedding.embeddings)
    model, history = pretrain_masked_tokens(
        classifier,
        features,
        epochs=12,
        batch_size=32,
        learning_rate=3e-3,
        max_predictions=2,
        seed=0,
    )
    held_out = paired_texts(300, seed=9)
    # The answer follows from the cue alone (1 of 12 answers among ~75 words); a model that did
    # not learn to read the cue through attention cannot beat guessing among the answers.
    assert _answer_accuracy(model, vocabulary, held_out, sequence_length) > 0.8
    assert history["masked_token_loss"][-1] < history["masked_token_loss"][0]
    after = np.array(classifier.get_layer("embedding").token_embedding.embeddings)
    assert not np.allclose(before, after)  # the classifier's own layers were trained
    untrained, _ = pretrain_masked_tokens(
        build_text_classifier(config), features, epochs=1, learning_rate=0.0, max_predictions=2
    )
    assert _answer_accuracy(untrained, vocabulary, held_out, sequence_length) < 0.2


def test_train_text_model_pretrains_on_unlabelled_texts_then_learns_the_labels(tmp_path):
    texts, labels, _ = planted_texts(400, seed=11)
    unlabelled = paired_texts(300, seed=12)
    metrics = train_text_model_with(texts, labels, tmp_path / "model", unlabelled)
    assert (
        metrics["pretraining_text_count"] == metrics["train_count"] + 300
    )  # labelled part + unlabelled
    assert metrics["served_model"]["accuracy"] >= 0.9
    history = json.loads((tmp_path / "model" / "history.json").read_text())
    # the default (stacked) fit trains the deep branch alone: its validation accuracy per epoch
    assert len(history["masked_token_loss"]) == 2 and STACKED_MONITOR in history
    saved = json.loads((tmp_path / "model" / "config.json").read_text())
    assert saved["training"]["pretraining_epochs"] == 2


def train_text_model_with(texts, labels, folder, unlabelled):
    from models.text.training import train_text_model

    return train_text_model(
        texts, labels, training_config(pretraining_epochs=2), folder, unlabelled=unlabelled
    )


def test_unlabelled_texts_without_pretraining_epochs_are_refused(tmp_path):
    from models.text.training import train_text_model

    texts, labels, _ = planted_texts(40, seed=13)
    with pytest.raises(ValueError, match="pretraining_epochs > 0 when unlabelled texts are given"):
        train_text_model(
            texts, labels, training_config(epochs=1), tmp_path / "model", unlabelled=["a b c"]
        )
    with pytest.raises(ValueError, match="pretraining_mask_rate"):
        training_config(pretraining_mask_rate=1.0)
    with pytest.raises(ValueError, match="pretraining_epochs"):
        training_config(pretraining_epochs=-1)
