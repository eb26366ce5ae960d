"""Trainer: files, early stopping, exact resume after an interruption, config validation."""

import json
import shutil
from dataclasses import replace

import numpy as np
import pytest

from models.recommender.config import (
    FIELDS_ADDED_LATER,
    FINAL_LEARNING_RATE_FRACTION,
    RecommenderConfig,
)
from models.recommender.ranking_metrics import evaluate_scorer
from models.recommender.training import (
    AUTO_XLA_MIN_TRAINING_STEPS,
    _load_checkpoint,
    averaged_weights,
    build_model,
    learning_rate,
    model_scorer,
    resolve_jit_compile,
    train_recommender,
)
from tests.recommender_fixtures import planted_data

pytestmark = pytest.mark.keras_backend


def _config(**overrides):
    arguments = dict(
        hidden_dim=16,
        num_blocks=1,
        num_heads=2,
        max_length=12,
        dropout=0.2,
        batch_size=16,
        learning_rate=5e-3,
        epochs=3,
        patience=3,
        seed=7,
        jit_compile=False,
        validation_users=None,
    )
    arguments.update(overrides)
    return RecommenderConfig(**arguments)


@pytest.fixture(scope="module")
def data():
    return planted_data(num_users=120, num_items=60, seed=2)


def _variables(folder):
    with np.load(folder / "checkpoint" / "variables.npz") as arrays:
        return {name: arrays[name] for name in arrays.files}


@pytest.mark.parametrize(
    ("learning_rate_decay_epochs", "weight_decay", "extra"),
    [(None, 0.0, {}), (2, 0.1, {}), (2, 0.1, {"ema_momentum": 0.5, "pairwise_weight": 0.5})],
)
def test_resume_after_interruption_reaches_the_same_weights(
    data, tmp_path, learning_rate_decay_epochs, weight_decay, extra
):
    config = _config(
        learning_rate_decay_epochs=learning_rate_decay_epochs, weight_decay=weight_decay, **extra
    )
    _, history = train_recommender(data, tmp_path / "straight", config, verbose=0)
    assert [entry["epoch"] for entry in history] == [1, 2, 3]

    def interrupt(epoch, entry):
        if epoch == 0:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train_recommender(data, tmp_path / "resumed", config, on_epoch_end=interrupt, verbose=0)
    assert (
        json.loads((tmp_path / "resumed" / "checkpoint" / "state.json").read_text())["epoch"] == 1
    )
    _, resumed_history = train_recommender(
        data, tmp_path / "resumed", config, resume=True, verbose=0
    )
    assert [entry["epoch"] for entry in resumed_history] == [1, 2, 3]
    straight, resumed = _variables(tmp_path / "straight"), _variables(tmp_path / "resumed")
    assert straight.keys() == resumed.keys()
    for name in straight:
        np.testing.assert_allclose(
            resumed[name], straight[name], rtol=1e-5, atol=1e-6, err_msg=name
        )
    assert [e["loss"] for e in resumed_history] == pytest.approx(
        [e["loss"] for e in history], rel=1e-5
    )
    # and training did change the weights
    assert history[-1]["valid/full/HR@10"] > 0.5


def test_model_folder_files_and_early_stopping(data, tmp_path):
    model, history = train_recommender(
        data, tmp_path / "model", _config(learning_rate=0.0, patience=1, epochs=5), verbose=0
    )
    assert len(history) == 2  # epoch 2 is no better than epoch 1 -> stop
    folder = tmp_path / "model"
    for name in ("model.keras", "config.json", "history.json", "item_vocab.txt", "data_run.json"):
        assert (folder / name).exists(), name
    config = json.loads((folder / "config.json").read_text())
    assert config["index_conventions"]["padding_index"] == 0 and config["vocabulary_size"] == 62
    assert (folder / "item_vocab.txt").read_text().splitlines() == data.item_ids
    saved = json.loads((folder / "history.json").read_text())
    assert saved["best_epoch"] == 1 and "valid/full/NDCG@10" in saved["epochs"][0]
    assert model.max_length == 12


def test_resume_with_a_different_config_is_refused(data, tmp_path):
    train_recommender(data, tmp_path / "model", _config(epochs=1, learning_rate=0.0), verbose=0)
    with pytest.raises(ValueError, match=r"Received: differing fields=\['hidden_dim'\]"):
        train_recommender(
            data,
            tmp_path / "model",
            _config(epochs=2, learning_rate=0.0, hidden_dim=8),
            resume=True,
        )


@pytest.mark.parametrize(
    ("damage", "problem"),
    [
        ("truncate state.json", "state.json: JSONDecodeError"),
        ("truncate variables.npz", "variables.npz: BadZipFile"),
        ("remove variables.npz", "variables.npz: FileNotFoundError"),
        ("drop a state key", "state.json lacks \\['wait'\\]"),
    ],
)
def test_resume_from_an_unusable_checkpoint_names_the_folder(data, tmp_path, damage, problem):
    config = _config(epochs=1, learning_rate=0.0)
    train_recommender(data, tmp_path / "model", config, verbose=0)
    folder = tmp_path / "model" / "checkpoint"
    if damage == "truncate state.json":  # what the in-place write left when killed
        (folder / "state.json").write_text("")
    elif damage == "truncate variables.npz":
        content = (folder / "variables.npz").read_bytes()
        (folder / "variables.npz").write_bytes(content[: len(content) // 2])
    elif damage == "remove variables.npz":
        (folder / "variables.npz").unlink()
    else:
        state = json.loads((folder / "state.json").read_text())
        del state["wait"]
        (folder / "state.json").write_text(json.dumps(state))
    with pytest.raises(ValueError, match=problem) as raised:
        train_recommender(data, tmp_path / "model", replace(config, epochs=2), resume=True)
    assert str(raised.value).endswith(f"Received: checkpoint={str(folder)!r}")


def test_checkpoint_is_swapped_whole_and_an_interrupted_swap_is_finished(data, tmp_path):
    config = _config(epochs=2, learning_rate=0.0)
    steps = []
    train_recommender(data, tmp_path / "model", config, verbose=0, progress=steps.append)
    assert steps == [
        "epoch:1:fitted",
        "checkpoint:1:staged",
        "checkpoint:1:committed",
        "epoch:2:fitted",
        "checkpoint:2:staged",
        "checkpoint:2:retired",
        "checkpoint:2:committed",
        "checkpoint:2:cleaned",
    ]
    folder = tmp_path / "model"
    assert sorted(path.name for path in folder.iterdir() if "checkpoint" in path.name) == [
        "checkpoint"
    ]
    assert sorted(path.name for path in (folder / "checkpoint").iterdir()) == [
        "state.json",
        "variables.npz",
    ]
    # a run killed between the two renames of a swap: only .previous and .next are left
    (folder / "checkpoint").rename(folder / "checkpoint.next")
    shutil.copytree(folder / "checkpoint.next", folder / "checkpoint.previous")
    _, history = train_recommender(data, folder, _config(epochs=3, learning_rate=0.0), resume=True)
    assert [entry["epoch"] for entry in history] == [1, 2, 3]
    assert sorted(path.name for path in folder.iterdir() if "checkpoint" in path.name) == [
        "checkpoint"
    ]


def test_checkpoints_older_than_a_config_field_resume_with_the_value_they_trained_with(
    data, tmp_path
):
    older = _config(
        epochs=1, learning_rate=0.0, **FIELDS_ADDED_LATER
    )  # what older runs trained with
    train_recommender(data, tmp_path / "model", older, verbose=0)
    state_path = tmp_path / "model" / "checkpoint" / "state.json"
    state = json.loads(state_path.read_text())
    for field in FIELDS_ADDED_LATER:
        del state["config"][field]  # as written before the field existed
    state_path.write_text(json.dumps(state))
    # today's defaults differ from those values where the default changed
    with pytest.raises(
        ValueError,
        match=r"Received: differing fields=\['learning_rate_decay_epochs', 'weight_decay', "
        r"'train_on_unmonitored_validation', 'train_every_position'\]",
    ):
        train_recommender(
            data, tmp_path / "model", _config(epochs=2, learning_rate=0.0), resume=True
        )
    _, history = train_recommender(
        data,
        tmp_path / "model",
        _config(epochs=2, learning_rate=0.0, **FIELDS_ADDED_LATER),
        resume=True,
        verbose=0,
    )
    assert [entry["epoch"] for entry in history] == [1, 2]


def test_moving_average_is_what_is_validated_and_kept_while_training_goes_on_from_its_own_weights(
    data, tmp_path
):
    config = _config(epochs=2, ema_momentum=0.9)
    best, history = train_recommender(data, tmp_path / "model", config, verbose=0)
    model = build_model(config, data.vocabulary_size)
    _load_checkpoint(model, tmp_path / "model" / "checkpoint")
    trained = np.array(model.item_embedding.embeddings, copy=True)
    with averaged_weights(model) as averaged:
        average = np.array(averaged.item_embedding.embeddings, copy=True)
        histories, targets, users = data.evaluation_examples("valid")
        metrics = evaluate_scorer(
            model_scorer(averaged, config.max_length),
            histories,
            targets,
            [data.sequences[u] for u in users],
            data.vocabulary_size,
            protocols=("full",),
            seed=config.seed,
        )["full"]
    np.testing.assert_array_equal(
        np.asarray(model.item_embedding.embeddings), trained
    )  # swapped back
    assert np.abs(average - trained).max() > 1e-3  # the average lags the trained weights
    assert metrics["NDCG@10"] == pytest.approx(history[-1]["valid/full/NDCG@10"], rel=1e-6)
    assert max(history, key=lambda entry: entry["valid/full/NDCG@10"])["epoch"] == 2
    np.testing.assert_allclose(
        np.asarray(best.item_embedding.embeddings), average, rtol=1e-6
    )  # the kept model
    assert build_model(_config(adam_epsilon=1e-5), data.vocabulary_size).optimizer.epsilon == 1e-5
    plain = build_model(_config(), data.vocabulary_size)
    with averaged_weights(plain) as same:  # without use_ema: nothing to swap
        assert same is plain


def test_weight_decay_shrinks_the_matrices_and_spares_the_norms(data, tmp_path):
    plain, _ = train_recommender(
        data, tmp_path / "plain", _config(epochs=1, weight_decay=0.0), verbose=0
    )
    decayed, _ = train_recommender(
        data, tmp_path / "decayed", _config(epochs=1, weight_decay=20.0), verbose=0
    )

    def norm(model):
        return float(np.linalg.norm(np.asarray(model.item_embedding.embeddings)))

    assert norm(decayed) < 0.8 * norm(plain)
    gamma = np.asarray(decayed.final_norm.gamma)  # excluded: 1-D, starts at 1
    assert abs(float(gamma.mean()) - 1.0) < 0.2


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (dict(model="bert4rec"), "Received: model='bert4rec'"),
        (dict(loss="hinge"), "Received: loss='hinge'"),
        (dict(precision="float16"), "Received: precision='float16'"),
        (dict(weight_decay=-0.1), "Received: weight_decay=-0.1"),
        (dict(epochs=0), "Received: epochs=0"),
        (dict(patience=0), "Received: patience=0"),
        (dict(learning_rate=-1.0), "Received: learning_rate=-1.0"),
        (
            dict(loss="bce", exclude_history_from_loss=True),
            "Received: loss='bce', exclude_history_from_loss=True",
        ),
        (dict(pairwise_weight=-0.5), "Received: pairwise_weight=-0.5"),
        (dict(loss="bce", pairwise_weight=0.5), "Received: loss='bce', pairwise_weight=0.5"),
        (dict(ema_momentum=1.0), "Received: ema_momentum=1.0"),
        (dict(label_smoothing=-0.1), "Received: label_smoothing=-0.1"),
        (dict(loss="bce", label_smoothing=0.1), "Received: loss='bce', label_smoothing=0.1"),
        (dict(adam_epsilon=0.0), "Received: adam_epsilon=0.0"),
        (dict(learning_rate_decay_epochs=0), "Received: learning_rate_decay_epochs=0"),
        (dict(learning_rate_decay_epochs=2.5), "Received: learning_rate_decay_epochs=2.5"),
    ],
)
def test_invalid_config(overrides, message):
    with pytest.raises(ValueError, match=message):
        _config(**overrides)


def test_learning_rate_decays_along_a_cosine_to_the_final_fraction():
    assert learning_rate(_config(learning_rate_decay_epochs=None), steps_per_epoch=10) == 5e-3
    schedule = learning_rate(_config(learning_rate_decay_epochs=4), steps_per_epoch=10)
    values = [float(schedule(step)) for step in (0, 20, 40, 80)]
    floor = 5e-3 * FINAL_LEARNING_RATE_FRACTION
    assert values == pytest.approx([5e-3, floor + (5e-3 - floor) / 2, floor, floor], rel=1e-5)


def test_auto_xla_is_chosen_by_backend_and_run_length():
    import keras

    backend = keras.backend.backend()
    short, long = AUTO_XLA_MIN_TRAINING_STEPS - 1, AUTO_XLA_MIN_TRAINING_STEPS
    assert resolve_jit_compile(True, short) is True and resolve_jit_compile(False, long) is False
    if backend == "tensorflow":  # compiling costs more than a short run saves
        assert resolve_jit_compile("auto", short) is False
        assert resolve_jit_compile("auto", long) is True
    else:  # JAX: compiled always (its eager mode is far slower)
        assert resolve_jit_compile("auto", short) is True
    assert resolve_jit_compile("auto") is True
    config = _config(jit_compile="auto", epochs=2)
    data = planted_data(num_users=40, seed=1)
    model = build_model(config, data.vocabulary_size, steps_per_epoch=3)
    assert model.jit_compile is (backend != "tensorflow")
