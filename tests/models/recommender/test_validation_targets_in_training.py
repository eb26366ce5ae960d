"""Validation targets early stopping does not monitor become training targets (and only those)."""

import numpy as np
import pytest

from models.recommender.config import FIELDS_ADDED_LATER, RecommenderConfig
from models.recommender.evaluation import evaluate_recommender_folder
from models.recommender.sequence_data import (
    ITEM_INDEX_OFFSET,
    SequenceData,
    leave_one_out_positions,
)
from models.recommender.training import (
    monitored_validation_users,
    train_recommender,
    validation_trained_users,
)
from tests.recommender_fixtures import planted_data


def _late_item_data(num_users: int = 400, num_ring_items: int = 30, seed: int = 0) -> SequenceData:
    """Sequences that walk a ring of items, then end in two items the ring never shows.

    A user's validation target is the "late" partner of the last ring item (ring item `i` ->
    late item `i`), and the test target is the next late item. Late items occur nowhere before
    the validation position, so only a model trained on validation targets can learn the rule.
    """
    rng = np.random.default_rng(seed)
    names = [f"ring_{i:02d}" for i in range(num_ring_items)] + [
        f"late_{i:02d}" for i in range(num_ring_items)
    ]
    sequences = []
    for _ in range(num_users):
        start, length = int(rng.integers(num_ring_items)), int(rng.integers(3, 9))
        ring = [(start + step) % num_ring_items for step in range(length)]
        late = [num_ring_items + ring[-1], num_ring_items + (ring[-1] + 1) % num_ring_items]
        sequences.append(np.array(ring + late, dtype=np.int32) + ITEM_INDEX_OFFSET)
    valid, test = leave_one_out_positions(np.array([len(s) for s in sequences]))
    return SequenceData(names, sequences, valid, test, [f"user_{u:04d}" for u in range(num_users)])


def _config(**overrides):
    arguments = dict(
        hidden_dim=32,
        num_blocks=1,
        num_heads=2,
        max_length=10,
        dropout=0.1,
        batch_size=32,
        learning_rate=1e-2,
        learning_rate_decay_epochs=None,
        weight_decay=0.0,
        epochs=12,
        patience=12,
        seed=3,
        jit_compile=False,
        validation_users=80,
    )
    arguments.update(overrides)
    return RecommenderConfig(**arguments)


def test_monitored_and_trained_validation_users_split_the_users_with_a_validation_target():
    data = planted_data(num_users=50, num_items=30, seed=1)
    with_target = set(np.flatnonzero(data.valid_positions > 0).tolist())
    config = RecommenderConfig(validation_users=20, seed=4)
    monitored = monitored_validation_users(data, config)
    trained = validation_trained_users(data, config)
    assert len(monitored) == 20 and set(monitored.tolist()) <= with_target
    assert set(np.flatnonzero(trained).tolist()) == with_target - set(monitored.tolist())
    np.testing.assert_array_equal(monitored, monitored_validation_users(data, config))  # seeded
    assert not validation_trained_users(
        data, RecommenderConfig(validation_users=20, train_on_unmonitored_validation=False)
    ).any()
    assert not validation_trained_users(
        data, RecommenderConfig(validation_users=None)
    ).any()  # all monitored


def test_saved_configs_without_the_field_trained_on_no_validation_target():
    saved = {**RecommenderConfig().to_dict(), "vocabulary_size": 12}
    del saved["train_on_unmonitored_validation"]
    assert FIELDS_ADDED_LATER["train_on_unmonitored_validation"] is False
    assert RecommenderConfig.from_saved(saved).train_on_unmonitored_validation is False
    assert RecommenderConfig.from_saved({"hidden_dim": 8}) == RecommenderConfig(
        hidden_dim=8, **FIELDS_ADDED_LATER
    )


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (dict(validation_users=0), "Received: validation_users=0"),
        (dict(validation_users=True), "Received: validation_users=True"),
        (
            dict(train_on_unmonitored_validation="yes"),
            "Received: train_on_unmonitored_validation='yes'",
        ),
    ],
)
def test_config_errors(overrides, message):
    with pytest.raises(ValueError, match=message):
        RecommenderConfig(**overrides)


def test_only_a_model_trained_on_unmonitored_validation_targets_learns_what_they_show(tmp_path):
    data = _late_item_data()
    train_recommender(data, tmp_path / "trained_on", _config(), verbose=0)
    train_recommender(
        data, tmp_path / "held_out", _config(train_on_unmonitored_validation=False), verbose=0
    )
    report = evaluate_recommender_folder(
        tmp_path / "trained_on", data, [str(tmp_path / "held_out")], split="valid"
    )
    # Both models are measured only on the 80 monitored users, whose targets neither trained on.
    assert report["users"] == 80 and report["users_dropped_validation_target_trained_on"] == 320
    assert report["validation_targets_trained_on"] == 320
    assert "+ 320 validation targets" in report["labels"]["recommender"]
    assert report["labels"]["held_out"].endswith("loss softmax)")
    assert report["models"]["recommender"]["full"]["HR@10"] > 0.9
    assert report["models"]["held_out"]["full"]["HR@10"] < 0.2  # late items were never targets
    # The baselines count the same training targets: Markov learned ring -> late from them
    # (without them, a late item's count and transitions would be 0: below every ring item, out of
    # the top 10).
    assert report["models"]["markov"]["full"]["HR@10"] > 0.9
