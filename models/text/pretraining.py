"""Masked-token pretraining of the text encoder on unlabelled text (e.g. StockNet tweets).

No pretrained weights can be downloaded here, so the encoder can learn from the unlabelled
finance text that is available before it learns the labels. BERT-style: in each text,
`mask_rate` of the *known* tokens (at least one, at most `max_predictions`) are chosen; 80% of
them are replaced by the OOV id (the model's mask: it already means "no word here"), 10% by a
random known token, 10% kept. Their character n-gram ids are cleared, so the word cannot be
read back from its spelling. The classifier's own `embedding` and `transformer_block_*` layers
(shared by reference, so the classifier starts from what they learn) read the masked text, and
a small head predicts the original ids at the chosen positions only: `(B, M, D) @ (D, V)`,
not `(B, T, D) @ (D, V)`, which keeps a 20,000-word softmax affordable on a CPU.
"""

from __future__ import annotations

import keras
import numpy as np
from keras import ops

from models.text.classifier import PaddingMask
from models.text.vocabulary import OOV_ID

FIRST_KNOWN_ID = OOV_ID + 1  # 0 = padding, 1 = OOV, then the vocabulary's tokens


def mask_tokens(
    features: dict,
    vocabulary_size: int,
    rng: np.random.Generator,
    mask_rate: float = 0.15,
    max_predictions: int = 8,
) -> tuple[dict, np.ndarray, np.ndarray]:
    """Choose and corrupt the tokens to predict.

    Args:
        features: `{"token_ids": (N, T)[, "ngram_ids": (N, T, G)]}` as `TextVocabulary.encode`
            writes them (not modified).
        vocabulary_size: token ids including padding and OOV; random replacements are drawn from
            the known ids `[2, vocabulary_size)`.
        rng: the random generator (one mask per call: call again for a fresh one each epoch).
        mask_rate: share of each text's known tokens to predict (at least one).
        max_predictions: at most this many per text `M`.

    Returns:
        `(inputs, labels, weights)`: `inputs` = the corrupted features plus `"positions"`
        `(N, M)` int32 (the chosen positions, 0 where unused); `labels` `(N, M)` int32, the
        original ids; `weights` `(N, M)` float32, 1 for a real prediction, 0 for an unused slot
        (a text without known tokens has none).
    """
    if not 0.0 < mask_rate < 1.0:
        raise ValueError(f"Expected mask_rate in (0, 1). Received: mask_rate={mask_rate!r}")
    if not isinstance(max_predictions, int) or max_predictions < 1:
        raise ValueError(
            "Expected max_predictions to be a positive int. Received: "
            f"max_predictions={max_predictions!r}"
        )
    if vocabulary_size <= FIRST_KNOWN_ID:
        raise ValueError(
            f"Expected vocabulary_size > {FIRST_KNOWN_ID} (some known tokens). "
            f"Received: vocabulary_size={vocabulary_size}"
        )
    token_ids = np.array(features["token_ids"], dtype="int32", copy=True)  # (N, T)
    ngram_ids = features.get("ngram_ids")
    ngram_ids = None if ngram_ids is None else np.array(ngram_ids, dtype="int32", copy=True)
    count = token_ids.shape[0]
    positions = np.zeros((count, max_predictions), dtype="int32")
    labels = np.zeros((count, max_predictions), dtype="int32")
    weights = np.zeros((count, max_predictions), dtype="float32")
    known = token_ids >= FIRST_KNOWN_ID  # (N, T)
    # A random key per token; the `take` smallest keys among a text's known tokens are chosen.
    keys = np.where(known, rng.random(token_ids.shape), np.inf)
    order = np.argsort(keys, axis=1)[:, :max_predictions]  # (N, M)
    known_counts = known.sum(axis=1)
    take = np.minimum(np.maximum(np.rint(known_counts * mask_rate), 1), max_predictions)
    take = np.where(known_counts > 0, take, 0).astype("int64")  # (N,)
    used = np.arange(max_predictions)[None, :] < take[:, None]  # (N, M)
    rows = np.repeat(np.arange(count), max_predictions).reshape(count, max_predictions)
    chosen_rows, chosen_positions = rows[used], order[used]
    positions[used] = chosen_positions
    labels[used] = token_ids[chosen_rows, chosen_positions]
    weights[used] = 1.0
    action = rng.random(len(chosen_rows))  # < 0.8 mask, < 0.9 random token, else keep
    masked = action < 0.8
    token_ids[chosen_rows[masked], chosen_positions[masked]] = OOV_ID
    randomised = (action >= 0.8) & (action < 0.9)
    token_ids[chosen_rows[randomised], chosen_positions[randomised]] = rng.integers(
        FIRST_KNOWN_ID, vocabulary_size, size=int(randomised.sum())
    )
    inputs = {"token_ids": token_ids, "positions": positions}
    if ngram_ids is not None:
        ngram_ids[chosen_rows, chosen_positions, :] = 0
        inputs["ngram_ids"] = ngram_ids
    return inputs, labels, weights


class GatherPositions(keras.layers.Layer):
    """`hidden (B, T, D)`, `positions (B, M)` -> `hidden` at those positions, `(B, M, D)`."""

    def call(self, hidden, positions):
        selector = ops.one_hot(positions, ops.shape(hidden)[1], dtype=hidden.dtype)  # (B, M, T)
        return ops.matmul(selector, hidden)

    def compute_output_shape(self, hidden_shape, positions_shape):
        return (*positions_shape, hidden_shape[-1])


def build_masked_token_model(classifier, max_predictions: int = 8):
    """A model predicting token ids at given positions, sharing `classifier`'s encoder layers.

    Args:
        classifier: a model from `build_text_classifier` (its `embedding` and
            `transformer_block_*` layers are reused, not copied).
        max_predictions: positions per text `M`.

    Returns:
        A Keras model: inputs `token_ids (B, T)`, `positions (B, M)` and, with sub-word
        features, `ngram_ids (B, T, G)`; output logits `(B, M, V)` over the token vocabulary.
    """
    embedding = classifier.get_layer("embedding")
    sequence_length = embedding.sequence_length
    token_ids = keras.Input(shape=(sequence_length,), dtype="int32", name="token_ids")
    positions = keras.Input(shape=(max_predictions,), dtype="int32", name="positions")
    inputs = {"token_ids": token_ids, "positions": positions}
    ngram_ids = None
    if embedding.ngram_vocabulary_size:
        groups = classifier.get_layer("ngram_ids").output.shape[-1]
        ngram_ids = keras.Input(shape=(sequence_length, groups), dtype="int32", name="ngram_ids")
        inputs["ngram_ids"] = ngram_ids
    padding_mask = PaddingMask(name="pretraining_padding_mask")(token_ids)
    hidden = embedding(token_ids, ngram_ids)  # (B, T, D)
    index = 0
    while f"transformer_block_{index}" in {layer.name for layer in classifier.layers}:
        hidden, _ = classifier.get_layer(f"transformer_block_{index}")(hidden, padding_mask)
        index += 1
    chosen = GatherPositions(name="masked_positions")(hidden, positions)  # (B, M, D)
    chosen = keras.layers.Dense(
        embedding.embedding_dim, activation="gelu", name="masked_token_transform"
    )(chosen)
    chosen = keras.layers.LayerNormalization(epsilon=1e-6, name="masked_token_norm")(chosen)
    logits = keras.layers.Dense(embedding.vocabulary_size, name="masked_token_logits")(
        chosen
    )  # (B, M, V)
    return keras.Model(inputs, logits, name="masked_token_pretraining")


def pretrain_masked_tokens(
    classifier,
    features: dict,
    epochs: int,
    batch_size: int = 64,
    learning_rate: float = 1e-3,
    mask_rate: float = 0.15,
    max_predictions: int = 8,
    seed: int = 42,
    on_epoch_end=None,
) -> dict:
    """Train `classifier`'s encoder layers in place by masked-token prediction.

    Args:
        classifier: a model from `build_text_classifier`; its encoder weights are updated.
        features: the unlabelled texts' ids, `{"token_ids": (N, T)[, "ngram_ids": ...]}` with
            the classifier's `T` (and `G`).
        epochs: passes over the texts, each with a freshly drawn mask.
        batch_size, learning_rate: Adam on the masked-token cross-entropy.
        mask_rate, max_predictions: see `mask_tokens`.
        seed: seeds the masks.
        on_epoch_end: optional `callable(epoch, logs)` (progress).

    Returns:
        `(masked_token_model, history)`: the model of `build_masked_token_model` (encoder shared
        with `classifier`) and `{"masked_token_loss": [...], "masked_token_accuracy": [...]}` per
        epoch (accuracy over the predicted positions, on the epoch's masks, during training).
    """
    if not isinstance(epochs, int) or epochs < 1:
        raise ValueError(f"Expected epochs to be a positive int. Received: epochs={epochs!r}")
    if len(features["token_ids"]) == 0:
        raise ValueError("Expected at least one text to pretrain on. Received: 0 texts")
    vocabulary_size = classifier.get_layer("embedding").vocabulary_size
    model = build_masked_token_model(classifier, max_predictions)
    steps = epochs * int(np.ceil(len(features["token_ids"]) / batch_size))
    schedule = keras.optimizers.schedules.CosineDecay(
        initial_learning_rate=learning_rate, decay_steps=max(1, steps), alpha=0.05
    )
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=schedule, clipnorm=1.0),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        weighted_metrics=[keras.metrics.SparseCategoricalAccuracy(name="accuracy")],
    )
    rng = np.random.default_rng(seed)
    history: dict = {"masked_token_loss": [], "masked_token_accuracy": []}
    for epoch in range(epochs):
        inputs, labels, weights = mask_tokens(
            features, vocabulary_size, rng, mask_rate, max_predictions
        )
        result = model.fit(
            inputs,
            labels,
            sample_weight=weights,
            batch_size=batch_size,
            epochs=1,
            shuffle=True,
            verbose=0,
        )
        history["masked_token_loss"].append(float(result.history["loss"][-1]))
        history["masked_token_accuracy"].append(float(result.history["accuracy"][-1]))
        if on_epoch_end is not None:
            on_epoch_end(epoch, {key: values[-1] for key, values in history.items()})
    return model, history
