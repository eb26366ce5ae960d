"""The target-attention ranker learns a planted feature rule that item ids cannot express.

Planted rule: every history holds one *trigger* item of category `x` among filler items; the next
item is an item of category `target(x)` that no training example ever showed (a new item). Only
the categories carry the rule, so a ranker with features ranks the target in its top 10 of 100
candidates, and an ids-only ranker stays near chance (10%).
"""

import keras
import numpy as np
import pytest

from models.recommender.ranker_features import (
    UNKNOWN_FEATURE_INDEX,
    build_feature_table,
)
from models.recommender.ranker_model import TargetAttentionRanker

GROUPS, PER_CATEGORY, LENGTH, CANDIDATES = 10, 20, 8, 100


def planted_examples(num_users: int, seed: int, new_targets: bool):
    """`(table, history, candidates, labels, trigger positions)`; categories: triggers
    `0..G-1`, fillers `G..2G-1`, targets `2G..3G-1` (`target(x) = 2G + x`)."""
    rng = np.random.default_rng(seed)
    names = [f"c{c}_i{i}" for c in range(3 * GROUPS) for i in range(PER_CATEGORY)]
    category = np.repeat(np.arange(3 * GROUPS), PER_CATEGORY)
    features = {name: [f"category=c{c}"] for name, c in zip(names, category, strict=True)}
    table = build_feature_table(names, features)
    index = np.arange(len(names)) + 2
    slot = np.tile(np.arange(PER_CATEGORY), 3 * GROUPS)
    new = (category >= 2 * GROUPS) & (slot >= PER_CATEGORY // 2)  # never in training
    fillers = index[(category >= GROUPS) & (category < 2 * GROUPS)]
    history = np.zeros((num_users, LENGTH), np.int32)
    candidates = np.zeros((num_users, CANDIDATES), np.int32)
    labels, triggers = np.zeros(num_users, np.int64), np.zeros(num_users, np.int64)
    for user in range(num_users):
        trigger_category = rng.integers(GROUPS)
        items = rng.choice(fillers, LENGTH, replace=False)
        triggers[user] = rng.integers(LENGTH)
        items[triggers[user]] = rng.choice(index[category == trigger_category])
        pool = (category == 2 * GROUPS + trigger_category) & (new == new_targets)
        target = rng.choice(index[pool])
        allowed = (~new | new_targets) & ~np.isin(index, items) & (index != target)
        others = rng.choice(index[allowed], CANDIDATES - 1, replace=False)
        order = rng.permutation(CANDIDATES)
        candidates[user] = np.concatenate([[target], others])[order]
        labels[user] = np.flatnonzero(order == 0)[0]
        history[user] = items
    return table, history, candidates, labels, triggers


def train_planted(use_features: bool, epochs: int = 8):
    keras.utils.set_random_seed(0)
    table, history, candidates, labels, _ = planted_examples(800, seed=0, new_targets=False)
    model = TargetAttentionRanker(
        table.num_items,
        table.num_items,
        table.num_features,
        int(table.feature_ids.shape[1]),
        max_length=LENGTH,
        hidden_dim=32,
        num_heads=2,
        dropout=0.0,
        use_features=use_features,
        use_retriever_rank=False,
        id_dropout=0.0,
    )
    model.build()
    model.set_item_features(table.feature_ids)
    model.compile(
        optimizer=keras.optimizers.Adam(1e-2),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    model.fit(
        {"history": history, "candidates": candidates},
        labels,
        batch_size=64,
        epochs=epochs,
        verbose=0,
    )
    return model


def evaluate_planted(model):
    _, history, candidates, labels, triggers = planted_examples(300, seed=1, new_targets=True)
    scores, attention = model.score_with_attention({"history": history, "candidates": candidates})
    scores, attention = np.asarray(scores), np.asarray(attention)
    rows = np.arange(len(labels))
    ranks = 1 + np.sum(scores > scores[rows, labels][:, None], axis=1)
    return float(np.mean(ranks <= 10)), attention[rows, labels], triggers


@pytest.fixture(scope="module")
def with_features():
    return train_planted(use_features=True)


def test_features_learn_the_planted_rule_for_new_items(with_features):
    hit_rate, _, _ = evaluate_planted(with_features)
    assert hit_rate > 0.9


def test_ids_alone_stay_near_chance():
    hit_rate, _, _ = evaluate_planted(train_planted(use_features=False, epochs=4))
    assert hit_rate < 0.3  # chance: 10 of 100 candidates


def test_attention_rows_sum_to_one_and_find_the_trigger(with_features):
    _, target_rows, triggers = evaluate_planted(with_features)
    np.testing.assert_allclose(target_rows.sum(-1), 1.0, atol=1e-5)
    on_trigger = target_rows[np.arange(len(triggers)), triggers]
    assert np.mean(np.argmax(target_rows, axis=1) == triggers) > 0.8
    assert on_trigger.mean() > 0.5  # most of the mass (uniform: 1 / 8)


def test_padding_gets_no_attention_and_empty_histories_zero(with_features):
    history = np.array([[0, 0, 0, 0, 0, 0, 5, 9], [0] * LENGTH], dtype=np.int32)
    candidates = np.array([[3, 4, 7], [3, 4, 7]], dtype=np.int32)
    _, attention = with_features.score_with_attention(
        {"history": history, "candidates": candidates}
    )
    attention = np.asarray(attention)
    assert attention.shape == (2, 3, LENGTH)
    np.testing.assert_allclose(attention[0, :, :6], 0.0)
    np.testing.assert_allclose(attention[0].sum(-1), 1.0, atol=1e-5)
    np.testing.assert_allclose(attention[1], 0.0)


def test_config_round_trip_and_saved_features(with_features, tmp_path):
    path = tmp_path / "ranker.keras"
    with_features.save(path)
    loaded = keras.saving.load_model(path, compile=False)
    assert loaded.get_config() == with_features.get_config()
    np.testing.assert_array_equal(
        keras.ops.convert_to_numpy(loaded.item_feature_table),
        keras.ops.convert_to_numpy(with_features.item_feature_table),
    )


def test_cold_items_are_scored_through_their_features():
    names = ["a", "b"]
    table = build_feature_table(names, {"a": ["category=x"], "cold": ["category=x"]})
    assert table.cold_item_ids == ["cold"] and table.trained_items == 4
    assert table.feature_ids[table.item_index(["b"])[0], 0] == UNKNOWN_FEATURE_INDEX
    model = TargetAttentionRanker(table.num_items, table.trained_items, table.num_features, 8)
    model.build()
    model.set_item_features(table.feature_ids)
    scores = model(
        {
            "history": np.array([[2, 3]]),
            "candidates": np.array([[2, 4]]),
            "candidate_ranks": np.array([[1.0, 2.0]]),
        }
    )
    assert np.all(np.isfinite(np.asarray(scores)))


def _stacked_ranker():
    model = TargetAttentionRanker(12, 12, hidden_dim=8, num_heads=2, blend="stacked")
    model.build()
    rng = np.random.default_rng(0)
    inputs = {
        "history": rng.integers(2, 12, (3, 5)),
        "candidates": rng.integers(2, 12, (3, 6)),
        "candidate_ranks": np.tile(np.arange(1.0, 7.0), (3, 1)),
    }
    return model, inputs


def test_stacked_blend_is_the_score_alone_until_set_and_the_weights_are_not_trained():
    model, inputs = _stacked_ranker()
    assert model.rank_weight.trainable is False and model.ranker_weight.trainable is False
    alone = np.asarray(model(inputs))
    shuffled = {**inputs, "candidate_ranks": inputs["candidate_ranks"][:, ::-1].copy()}
    np.testing.assert_allclose(np.asarray(model(shuffled)), alone, atol=1e-6)  # rank-blind
    model.set_blend(0.0, 1.0)  # the retriever's order
    np.testing.assert_allclose(
        np.asarray(model(inputs)), -np.log(inputs["candidate_ranks"]), atol=1e-6
    )
    model.set_blend(2.0, 0.5)
    np.testing.assert_allclose(
        np.asarray(model(inputs)), 2.0 * alone - 0.5 * np.log(inputs["candidate_ranks"]), atol=1e-5
    )


def test_stacked_blend_survives_saving(tmp_path):
    model, inputs = _stacked_ranker()
    model.set_blend(1.5, 0.25)
    model.save(tmp_path / "ranker.keras")
    loaded = keras.saving.load_model(tmp_path / "ranker.keras", compile=False)
    assert loaded.blend == "stacked"
    np.testing.assert_allclose(np.asarray(loaded(inputs)), np.asarray(model(inputs)), atol=1e-6)


def test_set_blend_needs_a_stacked_ranker_and_finite_weights():
    joint = TargetAttentionRanker(12, 12, hidden_dim=8, num_heads=2)
    joint.build()
    with pytest.raises(ValueError, match="blend='stacked'.*Received: blend='joint'"):
        joint.set_blend(1.0, 1.0)
    model, _ = _stacked_ranker()
    with pytest.raises(ValueError, match="finite rank_weight. Received: rank_weight=nan"):
        model.set_blend(1.0, float("nan"))


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"num_items": 10, "trained_items": 5, "blend": "mean"}, "blend in"),
        ({"num_items": 10, "trained_items": 11}, "trained_items <= num_items"),
        ({"num_items": 10, "trained_items": 5, "hidden_dim": 5}, "divisible by num_heads"),
        (
            {"num_items": 10, "trained_items": 5, "use_item_ids": False, "use_features": False},
            "use_item_ids or use_features",
        ),
        ({"num_items": 10, "trained_items": 5, "dropout": 1.0}, "dropout in"),
        ({"num_items": 0, "trained_items": 5}, "num_items to be an int"),
    ],
)
def test_bad_arguments_get_clear_errors(arguments, message):
    with pytest.raises(ValueError, match=message):
        TargetAttentionRanker(**arguments)


def test_feature_table_shape_is_checked():
    model = TargetAttentionRanker(10, 5, 4, 2)
    with pytest.raises(ValueError, match="feature_ids of shape"):
        model.set_item_features(np.zeros((9, 2), np.int32))


def test_unknown_feature_values_are_refused_when_strict():
    features = {"a": ["category=x"], "b": ["category=new", "brand=z"]}
    table = build_feature_table(["a", "b"], features, feature_vocabulary=["category=x"])
    assert table.feature_ids[3, 0] == UNKNOWN_FEATURE_INDEX  # lenient: read as unknown
    with pytest.raises(ValueError, match=r"unknown feature values=\['brand=z', 'category=new'\]"):
        build_feature_table(["a", "b"], features, feature_vocabulary=["category=x"], strict=True)
    with pytest.raises(ValueError, match="max_features >= 1"):
        build_feature_table(["a"], features, max_features=0)
