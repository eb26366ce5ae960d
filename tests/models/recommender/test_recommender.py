"""SASRecModel: learns a planted next-item rule; untrained it does not; save/load; config."""

import io
import zipfile

import h5py
import keras
import numpy as np
import pytest

from models.recommender import losses
from models.recommender.model import SASRecModel
from models.recommender.ranking_metrics import evaluate_scorer
from models.recommender.sequence_batches import NextItemBatches
from models.recommender.training import model_scorer
from tests.recommender_fixtures import planted_data

pytestmark = pytest.mark.keras_backend

MAX_LENGTH = 16


def _model(seed=0, **overrides):
    keras.utils.set_random_seed(seed)
    arguments = dict(
        vocabulary_size=152,
        hidden_dim=32,
        max_length=MAX_LENGTH,
        num_blocks=1,
        num_heads=2,
        dropout=0.1,
    )
    arguments.update(overrides)
    model = SASRecModel(**arguments)
    model.build((None, MAX_LENGTH))
    return model


def _test_metrics(model, data):
    histories, targets, users = data.evaluation_examples("test")
    return evaluate_scorer(
        model_scorer(model, MAX_LENGTH),
        histories,
        targets,
        [data.sequences[u] for u in users],
        data.vocabulary_size,
    )


@pytest.fixture(scope="module")
def data():
    return planted_data(num_users=300, num_items=150)


@pytest.fixture(scope="module")
def trained(data):
    model = _model()
    model.compile(optimizer=keras.optimizers.Adam(5e-3), jit_compile=False)
    batches = NextItemBatches(
        data.training_sequences(), MAX_LENGTH, data.vocabulary_size, tokens_per_batch=512
    )
    for epoch in range(5):
        batches.set_epoch(epoch)
        model.fit(batches, epochs=1, verbose=0)
    return model


def test_learns_planted_next_item_rule(trained, data):
    metrics = _test_metrics(trained, data)
    assert metrics["full"]["HR@10"] > 0.9
    assert metrics["sampled100"]["HR@10"] > 0.9


def test_untrained_model_does_not_find_the_rule(data):
    metrics = _test_metrics(_model(seed=3), data)
    assert metrics["full"]["HR@10"] < 0.3


def test_score_last_shapes_and_attention(trained):
    item_ids = np.array([[0, 0, 5, 6, 7], [2, 3, 4, 5, 6]], dtype="int32")
    scores, attention = trained.score_last(item_ids)
    scores, attention = keras.ops.convert_to_numpy(scores), keras.ops.convert_to_numpy(attention)
    assert scores.shape == (2, 152) and attention.shape == (2, 2, 5)
    assert np.all(scores[:, :2] < -1e8)  # padding and OOV never recommended
    np.testing.assert_allclose(attention.sum(-1), 1.0, atol=1e-5)
    np.testing.assert_allclose(attention[0, :, :2], 0.0, atol=1e-6)  # padding gets no attention


def test_shorter_input_reads_like_left_padded_full_length(trained):
    short = np.array([[5, 6, 7]], dtype="int32")
    full = np.zeros((1, MAX_LENGTH), dtype="int32")
    full[0, -3:] = short
    short_scores, _ = trained.score_last(short)
    full_scores, _ = trained.score_last(full)
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(short_scores),
        keras.ops.convert_to_numpy(full_scores),
        rtol=1e-4,
        atol=1e-4,
    )


def test_save_and_load_give_the_same_scores(trained, tmp_path):
    trained.save(tmp_path / "model.keras")
    loaded = keras.saving.load_model(tmp_path / "model.keras", compile=False)
    item_ids = np.array([[0, 4, 9, 11]], dtype="int32")
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(loaded.score_last(item_ids)[0]),
        keras.ops.convert_to_numpy(trained.score_last(item_ids)[0]),
        rtol=1e-5,
        atol=1e-5,
    )


def test_output_bias_is_added_to_every_score_saved_and_learned(data, tmp_path):
    model = _model(output_bias=True)
    assert model.get_config()["output_bias"] is True
    item_ids = np.array([[0, 4, 9, 11]], dtype="int32")
    before = keras.ops.convert_to_numpy(model.score_last(item_ids)[0])
    bias = np.linspace(-1.0, 1.0, 152).astype("float32")
    model.item_bias.assign(bias)
    after = keras.ops.convert_to_numpy(model.score_last(item_ids)[0])
    np.testing.assert_allclose(after[0, 2:] - before[0, 2:], bias[2:], atol=1e-5)
    assert np.all(after[0, :2] < -1e8)  # padding and OOV stay out
    scorer_scores = model_scorer(model, MAX_LENGTH)([item_ids[0, 1:]])
    np.testing.assert_allclose(scorer_scores[0, 2:], after[0, 2:], rtol=1e-4, atol=1e-4)
    model.save(tmp_path / "model.keras")
    loaded = keras.saving.load_model(tmp_path / "model.keras", compile=False)
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(loaded.score_last(item_ids)[0]), after, atol=1e-5
    )
    # Trained from zero, the bias moves and the planted rule is still learned.
    model = _model(output_bias=True)
    model.compile(optimizer=keras.optimizers.Adam(5e-3), jit_compile=False)
    batches = NextItemBatches(
        data.training_sequences(), MAX_LENGTH, data.vocabulary_size, tokens_per_batch=512
    )
    for epoch in range(5):
        batches.set_epoch(epoch)
        model.fit(batches, epochs=1, verbose=0)
    assert np.abs(keras.ops.convert_to_numpy(model.item_bias)).max() > 0.01
    assert _test_metrics(model, data)["full"]["HR@10"] > 0.9


def test_pairwise_term_is_added_to_the_softmax_and_the_rule_is_still_learned(data):
    model = _model(pairwise_weight=0.5)
    inputs, y = NextItemBatches(
        data.training_sequences(),
        MAX_LENGTH,
        data.vocabulary_size,
        tokens_per_batch=512,
        uniform_negatives=True,
    )[0]
    hidden = model(inputs)
    table = model.item_embedding.embeddings
    expected = losses.full_softmax_loss(
        hidden, table, y["targets"]
    ) + 0.5 * losses.uniform_pairwise_loss(hidden, table, y["targets"], y["negatives"])
    value = model.compute_loss(inputs, y, hidden)
    assert keras.ops.convert_to_numpy(value) == pytest.approx(
        keras.ops.convert_to_numpy(expected), rel=1e-5
    )
    model.compile(optimizer=keras.optimizers.Adam(5e-3), jit_compile=False)
    batches = NextItemBatches(
        data.training_sequences(),
        MAX_LENGTH,
        data.vocabulary_size,
        tokens_per_batch=512,
        uniform_negatives=True,
    )
    for epoch in range(5):
        batches.set_epoch(epoch)
        model.fit(batches, epochs=1, verbose=0)
    metrics = _test_metrics(model, data)
    assert metrics["full"]["HR@10"] > 0.9 and metrics["sampled100"]["HR@10"] > 0.9


def test_label_smoothing_reaches_the_loss_and_the_rule_is_still_learned(data):
    model = _model(label_smoothing=0.2)
    inputs, y = NextItemBatches(
        data.training_sequences(), MAX_LENGTH, data.vocabulary_size, tokens_per_batch=512
    )[0]
    hidden = model(inputs)
    expected = losses.full_softmax_loss(
        hidden, model.item_embedding.embeddings, y["targets"], label_smoothing=0.2
    )
    value = model.compute_loss(inputs, y, hidden)
    assert keras.ops.convert_to_numpy(value) == pytest.approx(
        keras.ops.convert_to_numpy(expected), rel=1e-5
    )
    model.compile(optimizer=keras.optimizers.Adam(5e-3), jit_compile=False)
    batches = NextItemBatches(
        data.training_sequences(), MAX_LENGTH, data.vocabulary_size, tokens_per_batch=512
    )
    for epoch in range(5):
        batches.set_epoch(epoch)
        model.fit(batches, epochs=1, verbose=0)
    metrics = _test_metrics(model, data)
    assert metrics["full"]["HR@10"] > 0.9 and metrics["sampled100"]["HR@10"] > 0.9


def test_get_config_round_trip():
    model = _model(
        attention_window=4, loss="bce", num_blocks=2, flash_attention=None, output_bias=True
    )
    clone = SASRecModel.from_config(model.get_config())
    assert clone.get_config() == model.get_config()
    with_pairwise = _model(pairwise_weight=0.25)
    assert SASRecModel.from_config(with_pairwise.get_config()).pairwise_weight == 0.25
    with_smoothing = _model(label_smoothing=0.1)
    assert SASRecModel.from_config(with_smoothing.get_config()).label_smoothing == 0.1


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (dict(vocabulary_size=2), "Received: vocabulary_size=2"),
        (dict(hidden_dim=0), "Received: hidden_dim=0"),
        (dict(max_length=0), "Received: max_length=0"),
        (dict(loss="hinge"), "Received: loss='hinge'"),
        (dict(num_blocks=0), "Received: num_blocks=0"),
        (dict(num_heads=3), "Received: num_heads=3"),
        (dict(dropout=1.0), "Received: dropout=1.0"),
        (dict(attention_window=0), "Received: attention_window=0"),
        (dict(flash_attention="yes"), "Received: flash_attention='yes'"),
        (dict(pairwise_weight=-1.0), "Received: loss='softmax', pairwise_weight=-1.0"),
        (dict(loss="bce", pairwise_weight=1.0), "Received: loss='bce', pairwise_weight=1.0"),
        (dict(label_smoothing=1.0), "Received: loss='softmax', label_smoothing=1.0"),
        (
            dict(loss="sampled_softmax", label_smoothing=0.1),
            "Received: loss='sampled_softmax', label_smoothing=0.1",
        ),
    ],
)
def test_invalid_arguments(overrides, message):
    arguments = dict(vocabulary_size=10, hidden_dim=8, max_length=4)
    arguments.update(overrides)
    with pytest.raises(ValueError, match=message):
        SASRecModel(**arguments)


@pytest.mark.parametrize("num_blocks", [1, 2])
def test_last_position_shortcut_matches_the_full_forward_pass(num_blocks):
    keras.utils.set_random_seed(4)
    model = SASRecModel(
        vocabulary_size=30,
        hidden_dim=16,
        max_length=8,
        num_blocks=num_blocks,
        num_heads=2,
        dropout=0.0,
    )
    ids = np.array(
        [
            [0, 0, 0, 0, 0, 0, 0, 0],  # empty history
            [0, 0, 0, 5, 9, 2, 7, 3],
            [4, 8, 12, 16, 20, 24, 28, 6],
        ],
        dtype="int32",
    )
    hidden, attention = model.encode(ids, training=False, output="sequence_and_attention")
    last, last_attention = model.encode_last(ids)  # computes the last block for one query only
    np.testing.assert_allclose(np.asarray(last), np.asarray(hidden)[:, -1, :], rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(
        np.asarray(last_attention), np.asarray(attention)[:, :, -1, :], rtol=1e-5, atol=1e-6
    )
    shortcut = model.encode(ids, training=False, output="last")
    assert tuple(shortcut.shape) == (3, 16)
    np.testing.assert_allclose(np.asarray(shortcut), np.asarray(last), rtol=1e-5, atol=1e-5)
    windowed = SASRecModel(
        vocabulary_size=30, hidden_dim=16, max_length=8, num_heads=2, attention_window=3
    )
    windowed_sequence = windowed.encode(ids, training=False)  # no shortcut with a window
    windowed_last = windowed.encode(ids, training=False, output="last")
    assert tuple(windowed_sequence.shape) == (3, 8, 16) and tuple(windowed_last.shape) == (3, 16)
    np.testing.assert_allclose(
        np.asarray(windowed_last), np.asarray(windowed_sequence)[:, -1, :], rtol=1e-5, atol=1e-5
    )


def test_encode_returns_what_output_names():
    model = _model(num_blocks=2)
    ids = np.array([[0, 0, 5, 6, 7], [2, 3, 4, 5, 6]], dtype="int32")
    assert tuple(model.encode(ids).shape) == (2, 5, 32)
    hidden, attention = model.encode(ids, output="sequence_and_attention")
    assert tuple(hidden.shape) == (2, 5, 32) and tuple(attention.shape) == (2, 2, 5, 5)
    assert tuple(model.encode(ids, output="last").shape) == (2, 32)
    last, attention = model.encode(ids, output="last_and_attention")
    assert tuple(last.shape) == (2, 32) and tuple(attention.shape) == (2, 2, 5)
    np.testing.assert_allclose(np.asarray(model(ids)), np.asarray(hidden), atol=1e-6)
    with pytest.raises(ValueError, match="Received: output='hidden'"):
        model.encode(ids, output="hidden")


def test_weights_are_created_in_build_with_the_saved_layout_of_trained_models(tmp_path):
    model = SASRecModel(vocabulary_size=20, hidden_dim=8, max_length=6, num_heads=2)
    assert not model.built and not model.weights  # __init__ only stores the arguments
    model = _model(vocabulary_size=20, hidden_dim=8, max_length=6, output_bias=True)
    assert model.built and model.item_bias is not None
    model.save(tmp_path / "model.keras")
    with zipfile.ZipFile(tmp_path / "model.keras") as archive:
        weights = h5py.File(io.BytesIO(archive.read("model.weights.h5")), "r")
        layout = []
        weights.visititems(
            lambda key, value: (
                layout.append((key, value.shape)) if isinstance(value, h5py.Dataset) else None
            )
        )
    # The layout models trained before weights moved to build() were saved with: they load.
    block = "blocks/causal_self_attention_block"
    assert layout == [
        (f"{block}/attention/key_dense/vars/0", (8, 2, 4)),
        (f"{block}/attention/key_dense/vars/1", (2, 4)),
        (f"{block}/attention/output_dense/vars/0", (2, 4, 8)),
        (f"{block}/attention/output_dense/vars/1", (8,)),
        (f"{block}/attention/query_dense/vars/0", (8, 2, 4)),
        (f"{block}/attention/query_dense/vars/1", (2, 4)),
        (f"{block}/attention/value_dense/vars/0", (8, 2, 4)),
        (f"{block}/attention/value_dense/vars/1", (2, 4)),
        (f"{block}/attention_norm/vars/0", (8,)),
        (f"{block}/attention_norm/vars/1", (8,)),
        (f"{block}/feed_forward_inner/vars/0", (8, 8)),
        (f"{block}/feed_forward_inner/vars/1", (8,)),
        (f"{block}/feed_forward_norm/vars/0", (8,)),
        (f"{block}/feed_forward_norm/vars/1", (8,)),
        (f"{block}/feed_forward_outer/vars/0", (8, 8)),
        (f"{block}/feed_forward_outer/vars/1", (8,)),
        ("final_norm/vars/0", (8,)),
        ("final_norm/vars/1", (8,)),
        ("item_embedding/vars/0", (20, 8)),
        ("layers/embedding_1/vars/0", (6, 8)),  # the position embedding
        ("vars/0", (20,)),  # the item bias
    ]


def test_a_model_built_by_its_first_call_saves_and_loads(tmp_path):
    keras.utils.set_random_seed(2)
    model = SASRecModel(vocabulary_size=20, hidden_dim=8, max_length=6, num_heads=2)
    item_ids = np.array([[0, 4, 9, 11]], dtype="int32")
    scores = keras.ops.convert_to_numpy(model.score_last(item_ids)[0])  # builds the model
    model.save(tmp_path / "model.keras")
    loaded = keras.saving.load_model(tmp_path / "model.keras", compile=False)
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(loaded.score_last(item_ids)[0]), scores, atol=1e-6
    )
