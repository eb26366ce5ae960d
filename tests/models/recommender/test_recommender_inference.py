"""load_recommender(...).recommend(...): the API the dashboard and serving call."""

import numpy as np
import pytest

from models.recommender.config import RecommenderConfig
from models.recommender.inference import load_recommender
from models.recommender.training import train_recommender
from tests.recommender_fixtures import planted_data, planted_sequences

pytestmark = pytest.mark.keras_backend


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("recommender")
    config = RecommenderConfig(
        hidden_dim=32,
        num_blocks=1,
        num_heads=2,
        max_length=8,
        dropout=0.1,
        batch_size=32,
        learning_rate=5e-3,
        epochs=4,
        seed=0,
        jit_compile=False,
        validation_users=None,
    )
    train_recommender(planted_data(num_users=300, num_items=150), folder, config, verbose=0)
    return folder


def test_recommend_follows_the_planted_rule(model_dir):
    recommender = load_recommender(model_dir)
    sequences = planted_sequences(num_users=40, num_items=150, seed=0)
    histories, expected = [s[:-1] for s in sequences], [s[-1] for s in sequences]
    result = recommender.recommend(histories, k=5)
    hits = np.mean([target in top for target, top in zip(expected, result.item_ids, strict=True)])
    assert hits > 0.9
    assert result.scores.shape == (40, 5)
    assert np.all(np.diff(result.scores, axis=1) <= 0)


def test_history_truncation_attention_and_exclusion(model_dir):
    recommender = load_recommender(model_dir)
    long_history = [f"item_{i:04d}" for i in range(12)]
    result = recommender.recommend(
        [long_history, ["item_0003", "unknown-item"]], k=150 - 8, exclude_history=True
    )
    assert result.history[0] == long_history[-8:] and result.history[1] == [
        "item_0003",
        "unknown-item",
    ]
    assert result.attention.shape == (2, 2, 8)
    np.testing.assert_allclose(result.attention.sum(-1), 1.0, atol=1e-5)
    np.testing.assert_allclose(result.attention[1, :, :6], 0.0)  # padding positions
    assert not set(long_history[-8:]) & set(result.item_ids[0])
    assert "item_0003" not in result.item_ids[1]
    assert all(item.startswith("item_") for item in result.item_ids[1])  # never <pad>/<oov>
    kept = recommender.recommend([["item_0003"]], k=150, exclude_history=False)
    assert "item_0003" in kept.item_ids[0]


def test_errors(model_dir, tmp_path):
    recommender = load_recommender(model_dir)
    with pytest.raises(ValueError, match="Received: k=0"):
        recommender.recommend([["item_0001"]], k=0)
    with pytest.raises(ValueError, match=r"Received: histories=\[\]"):
        recommender.recommend([], k=3)
    with pytest.raises(FileNotFoundError, match="Received: model_dir="):
        load_recommender(tmp_path)


def test_evaluation_counts_a_test_target_outside_the_vocabulary_as_a_miss(model_dir):
    from dataclasses import replace

    from models.recommender.evaluation import evaluate_recommender_folder

    data = planted_data(num_users=50, num_items=150, seed=0)
    unseen = len(data.item_ids) + 2  # index of an item the model never saw
    sequences = [sequence.copy() for sequence in data.sequences]
    for user in range(10):
        sequences[user][data.test_positions[user]] = unseen
    data = replace(data, item_ids=[*data.item_ids, "unseen_item"], sequences=sequences)
    report = evaluate_recommender_folder(model_dir, data)
    assert report["users"] == int((data.test_positions >= 0).sum()) == 50  # nobody dropped
    assert report["users_with_oov_target_counted_as_miss"] == 10
    for name in ("recommender", "most_popular", "markov"):
        assert report["models"][name]["full"]["HR@20"] <= 40 / 50
    assert report["models"]["recommender"]["full"]["HR@10"] > 0.7  # the 40 others still hit
