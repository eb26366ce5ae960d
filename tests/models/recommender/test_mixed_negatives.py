"""Mixed negative sampling (`in_batch_negatives`): the batch's own targets join the drawn
negatives, log-Q corrected for the mixture; padding slots leave the normaliser; a planted rule is
still learned."""

from __future__ import annotations

import numpy as np
import pytest
from keras import ops

from models.recommender.config import RecommenderConfig
from models.recommender.losses import sampled_softmax_loss
from models.recommender.ranking_metrics import evaluate_scorer
from models.recommender.sequence_batches import MASKED_LOG_Q, NextItemBatches
from models.recommender.training import model_scorer, train_recommender
from tests.recommender_fixtures import planted_data

NUM_NEGATIVES = 8


def _sequences():
    rng = np.random.default_rng(0)
    return [rng.integers(2, 40, size=rng.integers(2, 30)).astype("int32") for _ in range(60)]


def _counts():
    counts = np.zeros(40)
    for sequence in _sequences():
        np.add.at(counts, sequence, 1)
    return counts


def _batches(in_batch: bool) -> NextItemBatches:
    return NextItemBatches(
        _sequences(),
        20,
        40,
        64,
        loss="sampled_softmax",
        num_negatives=NUM_NEGATIVES,
        item_counts=_counts(),
        in_batch_negatives=in_batch,
    )


def test_the_batch_targets_follow_the_drawn_negatives_with_the_mixture_log_q():
    plain, mixed = _batches(False), _batches(True)
    for index in range(len(mixed)):
        _, y = mixed[index]
        _, drawn = plain[index]
        targets = y["targets"].reshape(-1)
        assert y["negatives"].shape == (NUM_NEGATIVES + targets.size,)
        np.testing.assert_array_equal(y["negatives"][:NUM_NEGATIVES], drawn["negatives"])
        np.testing.assert_array_equal(y["negatives"][NUM_NEGATIVES:], targets)
        counts = _counts()
        counts[:2] = 0
        weights = counts**0.75
        expected = (
            NUM_NEGATIVES * weights / weights.sum()
            + np.count_nonzero(targets) * counts / counts.sum()
        )
        log_q = y["negative_log_q"]
        np.testing.assert_allclose(
            log_q[:NUM_NEGATIVES], np.log(expected[drawn["negatives"]]), rtol=1e-5
        )
        real = targets > 0
        np.testing.assert_allclose(log_q[NUM_NEGATIVES:][real], np.log(expected[targets[real]]))
        assert np.all(log_q[NUM_NEGATIVES:][~real] == MASKED_LOG_Q)
        np.testing.assert_allclose(
            y["target_log_q"][y["targets"] > 0],
            np.log(expected[y["targets"][y["targets"] > 0]]),
            rtol=1e-5,
        )


def test_padding_slots_leave_the_normaliser():
    _, y = next(
        _batches(True)[index]
        for index in range(len(_batches(True)))
        if (_batches(True)[index][1]["targets"] == 0).any()
    )
    rng = np.random.default_rng(1)
    hidden = rng.normal(size=(*y["targets"].shape, 8)).astype("float32")
    embeddings = rng.normal(size=(40, 8)).astype("float32")
    kept = y["negative_log_q"] < MASKED_LOG_Q
    full = sampled_softmax_loss(
        hidden, embeddings, y["targets"], y["negatives"], y["target_log_q"], y["negative_log_q"]
    )
    without_padding = sampled_softmax_loss(
        hidden,
        embeddings,
        y["targets"],
        y["negatives"][kept],
        y["target_log_q"],
        y["negative_log_q"][kept],
    )
    assert float(ops.convert_to_numpy(full)) == pytest.approx(
        float(ops.convert_to_numpy(without_padding)), rel=1e-5
    )


def test_in_batch_negatives_need_the_sampled_softmax():
    with pytest.raises(ValueError, match="Received: loss='softmax'"):
        NextItemBatches(_sequences(), 20, 40, 64, in_batch_negatives=True)
    with pytest.raises(ValueError, match="Received: loss='softmax', in_batch_negatives=True"):
        RecommenderConfig(loss="softmax", in_batch_negatives=True)
    assert RecommenderConfig(in_batch_negatives=True).loss == "auto"  # used when auto samples


def test_the_planted_rule_is_learned_with_mixed_negatives(tmp_path):
    data = planted_data(num_users=300, num_items=150)
    config = RecommenderConfig(
        hidden_dim=32,
        num_blocks=1,
        num_heads=2,
        max_length=16,
        dropout=0.1,
        batch_size=32,
        learning_rate_decay_epochs=None,
        weight_decay=0.0,
        loss="sampled_softmax",
        num_negatives=32,
        in_batch_negatives=True,
        epochs=6,
        patience=6,
        jit_compile=False,
        validation_users=None,
        time_budget="none",
    )
    model, _ = train_recommender(data, tmp_path, config, verbose=0)
    histories, targets, users = data.evaluation_examples("test")
    metrics = evaluate_scorer(
        model_scorer(model, config.max_length),
        histories,
        targets,
        [data.sequences[u] for u in users],
        data.vocabulary_size,
    )
    assert metrics["full"]["HR@10"] > 0.9 and metrics["sampled100"]["HR@10"] > 0.9
