"""Shared planted-signal data and one cached trained text model for the text-model tests.

Texts are random filler words plus one keyword that decides the label, at a random position;
a model that learned the task gets it right and attends to the keyword. The model is trained
once per test process (cached) so several test modules reuse it.
"""

from __future__ import annotations

import functools
import tempfile
from pathlib import Path

import numpy as np

FILLER = tuple(f"filler{chr(97 + index // 26)}{chr(97 + index % 26)}" for index in range(60))
KEYWORDS = {
    "billing": ("invoice", "charged", "refund"),
    "access": ("password", "login", "locked"),
    "cards": ("card", "pin", "atm"),
    "travel": ("abroad", "flight", "currency"),
}
UNSEEN_KEYWORDS = ("mortgage", "pension", "insurance")


def planted_texts(
    count: int, seed: int, keywords: dict = KEYWORDS
) -> tuple[list[str], list[str], list[str]]:
    """`(texts, labels, planted_keyword)`: 5-10 filler words and one label keyword each."""
    rng = np.random.default_rng(seed)
    names = sorted(keywords)
    texts, labels, planted = [], [], []
    for _ in range(count):
        label = names[int(rng.integers(0, len(names)))]
        keyword = str(rng.choice(keywords[label]))
        words = [str(word) for word in rng.choice(FILLER, size=int(rng.integers(5, 11)))]
        words.insert(int(rng.integers(0, len(words) + 1)), keyword)
        texts.append(" ".join(words))
        labels.append(label)
        planted.append(keyword)
    return texts, labels, planted


def out_of_scope_texts(count: int, seed: int) -> list[str]:
    """Texts with no known keyword: filler words around a keyword of no trained intent."""
    texts, _, _ = planted_texts(count, seed, {"unseen": UNSEEN_KEYWORDS})
    return texts


def training_config(**overrides):
    from models.text.training_config import TextTrainingConfig

    values = dict(
        task="intent",
        sequence_length=16,
        embedding_dim=32,
        feed_forward_dim=64,
        attention_units=32,
        epochs=8,
        batch_size=32,
        learning_rate=3e-3,
        max_ngrams=2_000,
        ngrams_per_token=8,
        wide_ngrams_per_token=8,
        seed=7,
    )
    values.update(overrides)
    return TextTrainingConfig(**values)


@functools.cache
def trained_planted_model() -> Path:
    """Train the planted-signal intent model once; return its folder."""
    from models.text.training import train_text_model

    folder = Path(tempfile.mkdtemp(prefix="seqlens-text-model-")) / "intent"
    texts, labels, _ = planted_texts(480, seed=1)
    train_text_model(texts, labels, training_config(), folder)
    return folder


def order_texts(count: int, seed: int) -> tuple[list[str], list[str]]:
    """`(texts, labels)` whose label is the *order* of two marker words.

    Every text is `start A stop <3-6 fillers> start B stop` with `{A, B} = {alpha, omega}`: both
    orders have the same bag of unigrams, bigrams and character n-grams, so the wide branch
    cannot tell them apart; only a model that reads positions (the deep branch) can.
    """
    rng = np.random.default_rng(seed)
    texts, labels = [], []
    for _ in range(count):
        first_alpha = bool(rng.integers(0, 2))
        words = [str(word) for word in rng.choice(FILLER, size=int(rng.integers(3, 7)))]
        markers = ("alpha", "omega") if first_alpha else ("omega", "alpha")
        texts.append(" ".join(["start", markers[0], "stop", *words, "start", markers[1], "stop"]))
        labels.append("alpha_first" if first_alpha else "omega_first")
    return texts, labels


@functools.cache
def untrained_copy_of_planted_model() -> Path:
    """The planted model's folder with freshly initialised (untrained) Keras weights."""
    import json
    import shutil

    from models.text.classifier import TextClassifierConfig, build_text_classifier

    source = trained_planted_model()
    folder = source.parent / "broken"
    shutil.copytree(source, folder)
    config = json.loads((folder / "config.json").read_text())
    untrained = build_text_classifier(TextClassifierConfig.from_dict(config["classifier"]))
    untrained.get_layer("wide").set_idf(np.load(folder / "wide_idf.npy"))
    untrained.save(folder / "model.keras")
    return folder
