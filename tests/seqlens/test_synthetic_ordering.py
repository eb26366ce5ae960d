"""On a small generated catalogue, attention over the history beats a first-order Markov chain.

The generator plants structure a Markov chain cannot see (complements bought a fixed number of
events after their item, repeat purchases, session intents); a short real Keras fit of the
self-attention recommender must rank the held-out items better than the chain does (full ranking
NDCG@10, the demo's headline metric). A quality check, not a timing one.
"""

from __future__ import annotations

import numpy as np
import pytest

from models.recommender.config import RecommenderConfig
from models.recommender.evaluation import evaluate_recommender_folder
from models.recommender.sequence_data import (
    ITEM_INDEX_OFFSET,
    SequenceData,
    leave_one_out_positions,
)
from models.recommender.training import train_recommender
from seqlens.synthetic.behaviour import BehaviourConfig, generate_events
from seqlens.synthetic.catalogue import build_catalogue

NUM_USERS = 400
NUM_ITEMS = 120


def small_generated_data(seed: int) -> SequenceData:
    """The generated events of `NUM_USERS` users as leave-one-out `SequenceData`."""
    rng = np.random.default_rng(seed)
    catalogue = build_catalogue(NUM_ITEMS, rng)
    rows = generate_events(catalogue, BehaviourConfig(), NUM_USERS, 24.0, 1_704_067_200, rng)
    by_user: dict[str, list[int]] = {}
    for user_id, item_id, *_ in rows:
        by_user.setdefault(user_id, []).append(int(item_id[1:]) + ITEM_INDEX_OFFSET)
    sequences = [np.array(items, dtype=np.int32) for items in by_user.values()]
    valid, test = leave_one_out_positions(np.array([len(s) for s in sequences]))
    return SequenceData(list(catalogue.item_ids), sequences, valid, test, list(by_user))


@pytest.fixture(scope="module")
def metrics(tmp_path_factory) -> dict:
    data = small_generated_data(seed=5)
    folder = tmp_path_factory.mktemp("ordering") / "recommender"
    config = RecommenderConfig(
        hidden_dim=32,
        num_blocks=1,
        num_heads=1,
        max_length=30,
        dropout=0.2,
        weight_decay=0.1,
        learning_rate=1e-2,
        learning_rate_decay_epochs=None,
        batch_size=32,
        epochs=4,
        seed=5,
    )
    train_recommender(data, folder, config, verbose=0)
    return evaluate_recommender_folder(folder, data, seed=5)["models"]


def test_attention_beats_markov_on_the_generated_events(metrics):
    attention = metrics["recommender"]["full"]["NDCG@10"]
    markov = metrics["markov"]["full"]["NDCG@10"]
    assert attention > markov, (attention, markov)
    assert attention > metrics["most_popular"]["full"]["NDCG@10"]
