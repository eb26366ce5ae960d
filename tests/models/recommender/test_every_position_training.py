"""Histories longer than max_length train on every position (windows) or on their last ones."""

import numpy as np
import pytest

from models.recommender.config import FIELDS_ADDED_LATER, RecommenderConfig
from models.recommender.ranking_metrics import evaluate_scorer
from models.recommender.sequence_data import (
    ITEM_INDEX_OFFSET,
    SequenceData,
    leave_one_out_positions,
)
from models.recommender.training import model_scorer, train_recommender

NUM_RING_ITEMS = 30


def _early_rule_data(num_users: int = 200, seed: int = 0) -> SequenceData:
    """Each history walks an "early" ring (item i -> i + 1), then 30 steps of another "late" ring.

    With `max_length=10` the last 10 training targets are all late-ring steps: the early ring's
    rule is only in positions a last-positions model never trains on.
    """
    rng = np.random.default_rng(seed)
    names = [f"early_{i:02d}" for i in range(NUM_RING_ITEMS)] + [
        f"late_{i:02d}" for i in range(NUM_RING_ITEMS)
    ]
    sequences = []
    for _ in range(num_users):
        early_start, late_start = rng.integers(NUM_RING_ITEMS, size=2)
        early = [(early_start + step) % NUM_RING_ITEMS for step in range(12)]
        late = [NUM_RING_ITEMS + (late_start + step) % NUM_RING_ITEMS for step in range(30)]
        sequences.append(np.array(early + late, dtype=np.int32) + ITEM_INDEX_OFFSET)
    valid, test = leave_one_out_positions(np.array([len(s) for s in sequences]))
    return SequenceData(names, sequences, valid, test, [f"user_{u:04d}" for u in range(num_users)])


def _early_ring_hit_rate(model, max_length: int) -> float:
    """Full-ranking HR@10 of the next early-ring item after 5-step early-ring histories."""
    starts = np.arange(NUM_RING_ITEMS)
    histories = [
        np.array([(start + step) % NUM_RING_ITEMS for step in range(5)]) + ITEM_INDEX_OFFSET
        for start in starts
    ]
    targets = (starts + 5) % NUM_RING_ITEMS + ITEM_INDEX_OFFSET
    metrics = evaluate_scorer(
        model_scorer(model, max_length),
        histories,
        targets,
        histories,
        2 * NUM_RING_ITEMS + ITEM_INDEX_OFFSET,
        protocols=("full",),
    )
    return metrics["full"]["HR@10"]


def _config(**overrides):
    arguments = dict(
        hidden_dim=32,
        num_blocks=1,
        num_heads=2,
        max_length=10,
        dropout=0.1,
        batch_size=16,
        learning_rate=1e-2,
        learning_rate_decay_epochs=None,
        weight_decay=0.0,
        epochs=10,
        patience=10,
        seed=5,
    )
    arguments.update(overrides)
    return RecommenderConfig(**arguments)


@pytest.mark.keras_backend
def test_only_a_model_trained_on_every_position_learns_what_early_positions_show(tmp_path):
    data = _early_rule_data()
    every, _ = train_recommender(data, tmp_path / "every", _config(), verbose=0)
    last_only, _ = train_recommender(
        data, tmp_path / "last", _config(train_every_position=False), verbose=0
    )
    assert _early_ring_hit_rate(every, 10) > 0.9
    assert _early_ring_hit_rate(last_only, 10) < 0.2  # early items were never targets


def test_saved_configs_without_the_field_trained_on_the_last_positions_only():
    saved = RecommenderConfig().to_dict()
    del saved["train_every_position"]
    assert FIELDS_ADDED_LATER["train_every_position"] is False
    assert RecommenderConfig.from_saved(saved).train_every_position is False
    assert RecommenderConfig().train_every_position is True


def test_config_error():
    with pytest.raises(ValueError, match="Received: train_every_position=1"):
        RecommenderConfig(train_every_position=1)
