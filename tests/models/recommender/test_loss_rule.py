"""`loss="auto"`: the full softmax up to `FULL_SOFTMAX_MAX_ITEMS` items, the sampled softmax above
(switching exactly there), recorded with its reason; the sampled path learns a planted rule as
the full one does (tests/models/recommender/test_recommender.py: HR@10 > 0.9)."""

from __future__ import annotations

import json

import pytest

from models.recommender import loss_rule
from models.recommender.config import LOSSES, RecommenderConfig
from models.recommender.loss_rule import FULL_SOFTMAX_MAX_ITEMS, choose_loss
from models.recommender.ranking_metrics import evaluate_scorer
from models.recommender.sequence_data import ITEM_INDEX_OFFSET
from models.recommender.training import build_model, model_scorer, train_recommender
from tests.recommender_fixtures import planted_data


def test_auto_is_the_default_and_switches_at_the_threshold():
    config = RecommenderConfig()
    assert config.loss == "auto"
    at, above = (
        choose_loss(config, FULL_SOFTMAX_MAX_ITEMS),
        choose_loss(config, FULL_SOFTMAX_MAX_ITEMS + 1),
    )
    assert at.loss == "softmax" and "30,000 items <= 30,000" in at.reason
    assert above.loss == "sampled_softmax" and "30,001 items > 30,000" in above.reason
    assert "1024 log-Q corrected negatives" in above.reason
    assert choose_loss(config, 10).loss == "softmax"
    assert choose_loss(config, 1_000_000).loss == "sampled_softmax"


@pytest.mark.parametrize("loss", LOSSES)
def test_an_explicit_loss_is_kept_whatever_the_catalogue(loss):
    config = RecommenderConfig(loss=loss)
    for items in (10, FULL_SOFTMAX_MAX_ITEMS + 1):
        choice = choose_loss(config, items)
        assert choice.loss == loss and "set explicitly" in choice.reason


@pytest.mark.parametrize(
    "option",
    [dict(label_smoothing=0.1), dict(pairwise_weight=0.5), dict(exclude_history_from_loss=True)],
)
def test_a_full_softmax_option_makes_auto_the_full_softmax(option):
    choice = choose_loss(RecommenderConfig(**option), FULL_SOFTMAX_MAX_ITEMS * 10)
    assert choice.loss == "softmax" and next(iter(option)) in choice.reason


def test_choose_loss_rejects_a_bad_count():
    with pytest.raises(ValueError, match="Received: num_items=-1"):
        choose_loss(RecommenderConfig(), -1)


@pytest.mark.parametrize(
    ("items", "expected"),
    [(FULL_SOFTMAX_MAX_ITEMS, "softmax"), (FULL_SOFTMAX_MAX_ITEMS + 1, "sampled_softmax")],
)
def test_the_built_model_trains_with_the_chosen_loss(items, expected):
    config = RecommenderConfig(hidden_dim=4, num_blocks=1, num_heads=1, max_length=4)
    model = build_model(config, items + ITEM_INDEX_OFFSET)
    assert model.loss_name == expected


@pytest.fixture(scope="module")
def sampled_run(tmp_path_factory):
    """A run through the trainer where `auto` picks the sampled softmax (threshold lowered)."""
    data = planted_data(num_users=300, num_items=150)
    config = RecommenderConfig(
        hidden_dim=32,
        num_blocks=1,
        num_heads=2,
        max_length=16,
        dropout=0.1,
        batch_size=32,
        learning_rate=5e-3,
        learning_rate_decay_epochs=None,
        weight_decay=0.0,
        num_negatives=32,
        epochs=6,
        patience=6,
        seed=0,
        jit_compile=False,
        validation_users=None,
        time_budget="none",
    )
    folder = tmp_path_factory.mktemp("sampled_run")
    patch = pytest.MonkeyPatch()
    patch.setattr(loss_rule, "FULL_SOFTMAX_MAX_ITEMS", 100)  # 150 items: above it
    try:
        model, _ = train_recommender(data, folder, config, verbose=0)
    finally:
        patch.undo()
    return data, config, folder, model


def test_the_sampled_loss_learns_the_planted_rule(sampled_run):
    data, config, folder, model = sampled_run
    rule = json.loads((folder / "history.json").read_text())["loss_rule"]
    assert rule["chosen"] == "sampled_softmax" and "150 items > 100" in rule["reason"]
    saved = json.loads((folder / "config.json").read_text())
    assert saved["loss"] == "sampled_softmax"  # the loss it trained with
    assert saved["loss_rule"] == {"configured": "auto", **rule}
    assert model.loss_name == "sampled_softmax"
    histories, targets, users = data.evaluation_examples("test")
    metrics = evaluate_scorer(
        model_scorer(model, config.max_length),
        histories,
        targets,
        [data.sequences[u] for u in users],
        data.vocabulary_size,
    )
    assert metrics["full"]["HR@10"] > 0.9
    assert metrics["sampled100"]["HR@10"] > 0.9
