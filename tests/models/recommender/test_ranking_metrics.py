"""Ranking metrics checked against hand-computed values."""

import math

import numpy as np
import pytest

from models.recommender.ranking_metrics import (
    evaluate_scorer,
    flatten_metrics,
    full_ranks,
    metrics_from_ranks,
    rank_of_target,
    sample_negatives,
    sampled_ranks,
)


def test_metrics_from_ranks_hand_computed():
    metrics = metrics_from_ranks(np.array([1, 3, 12]))
    assert metrics["HR@1"] == pytest.approx(1 / 3)
    assert metrics["HR@5"] == pytest.approx(2 / 3)
    assert metrics["HR@10"] == pytest.approx(2 / 3)
    assert metrics["HR@20"] == pytest.approx(1.0)
    assert metrics["NDCG@5"] == pytest.approx((1.0 + 1 / math.log2(4)) / 3)
    assert metrics["NDCG@10"] == pytest.approx((1.0 + 0.5) / 3)
    assert metrics["NDCG@20"] == pytest.approx((1.0 + 0.5 + 1 / math.log2(13)) / 3)
    assert metrics["MRR"] == pytest.approx((1 + 1 / 3 + 1 / 12) / 3)


def test_rank_counts_higher_scores_and_splits_ties():
    scores = np.array([[0.1, 0.9, 0.5, 0.5], [1.0, 1.0, 1.0, 1.0]])
    # row 0: target 0.5 at column 2; one higher, one tie -> 1 + 1 + 0 = 2
    # row 1: all equal; 3 ties -> 1 + 0 + 1 = 2
    np.testing.assert_array_equal(rank_of_target(scores, np.array([0.5, 1.0])), [2, 2])


def test_full_ranks_exclude_history_padding_and_oov():
    # indices 0, 1 special; items 2..6
    scores = np.array([[9.0, 9.0, 5.0, 4.0, 3.0, 2.0, 1.0]])
    # target 4 (score 3.0); history [2, 3] excluded -> rank 1
    np.testing.assert_array_equal(full_ranks(scores, [np.array([2, 3])], np.array([4])), [1])
    # without history: items 2 and 3 score higher -> rank 3
    np.testing.assert_array_equal(full_ranks(scores, [np.array([], dtype=int)], np.array([4])), [3])
    # a target that also appears in the history is still ranked
    np.testing.assert_array_equal(full_ranks(scores, [np.array([4, 2])], np.array([4])), [2])


def _full_ranks_by_masking(scores, histories, targets):
    """The definition: mask padding, OOV and history with -inf (the target kept), then rank."""
    masked = np.array(scores, dtype=np.float64, copy=True)
    rows = np.arange(len(targets))
    target_scores = masked[rows, targets]
    masked[:, :2] = -np.inf
    for row, history in enumerate(histories):
        masked[row, history] = -np.inf
    masked[rows, targets] = target_scores
    return rank_of_target(masked, target_scores)


@pytest.mark.parametrize("seed", range(5))
def test_full_ranks_without_a_copy_equal_the_masked_definition(seed):
    rng = np.random.default_rng(seed)
    users, items = 64, 40
    scores = rng.integers(0, 6, size=(users, items)).astype(np.float32)  # many ties
    targets = rng.integers(2, items, size=users)
    histories = [
        np.concatenate(
            [rng.integers(2, items, size=rng.integers(0, 12)), [targets[u]] * (u % 3 == 0)]
        ).astype(np.int64)
        for u in range(users)
    ]  # repeats, and the target itself in every third history

    np.testing.assert_array_equal(
        full_ranks(scores, histories, targets), _full_ranks_by_masking(scores, histories, targets)
    )


def test_sampled_negatives_avoid_interacted_items_and_are_seeded():
    interacted = [np.array([2, 3, 4]), np.array([5])]
    negatives = sample_negatives(interacted, 10, seed=3, count=100)
    assert negatives.shape == (2, 100)
    assert not np.isin(negatives[0], [0, 1, 2, 3, 4]).any()
    assert not np.isin(negatives[1], [0, 1, 5]).any()
    np.testing.assert_array_equal(negatives, sample_negatives(interacted, 10, seed=3, count=100))


def test_sampled_ranks_hand_computed():
    scores = np.array([[0, 0, 0.2, 0.8, 0.5, 0.9]])
    ranks = sampled_ranks(scores, np.array([4]), np.array([[2, 3, 5]]))
    np.testing.assert_array_equal(ranks, [3])


def test_evaluate_scorer_perfect_and_constant_scorers():
    histories = [np.array([2, 3]), np.array([4])]
    targets = np.array([5, 6])
    interacted = [np.array([2, 3, 5]), np.array([4, 6])]

    def perfect(batch):
        scores = np.zeros((len(batch), 300))
        scores[np.arange(len(batch)), targets[: len(batch)]] = 1.0
        return scores

    metrics = evaluate_scorer(perfect, histories, targets, interacted, 300, batch_size=8)
    assert metrics["full"]["NDCG@10"] == 1.0 and metrics["sampled100"]["HR@1"] == 1.0
    constant = evaluate_scorer(
        lambda b: np.zeros((len(b), 300)), histories, targets, interacted, 300
    )
    assert constant["full"]["HR@20"] == 0.0  # ties are split: rank ~150 of 297
    assert constant["sampled100"]["HR@10"] == 0.0  # rank 51 of 101
    assert set(flatten_metrics(metrics)) >= {"full/NDCG@10", "sampled100/HR@10"}


def test_errors_name_the_argument():
    with pytest.raises(ValueError, match=r"Received: ranks=\[0.0\]"):
        metrics_from_ranks(np.array([0]))
    with pytest.raises(ValueError, match="Received: ranks=\\[\\]"):
        metrics_from_ranks(np.array([]))
    with pytest.raises(ValueError, match="Received: protocols="):
        evaluate_scorer(lambda b: None, [], np.array([]), [], 10, protocols=("top",))
    with pytest.raises(ValueError, match="Received: user row=0"):
        sample_negatives([np.array([2, 3])], 4, seed=0)


def test_a_target_outside_the_vocabulary_is_a_miss_under_every_protocol():
    def perfect(histories):  # the OOV index (1) scores highest: a scorer cannot earn it
        scores = np.tile(np.arange(8, dtype=np.float64), (len(histories), 1))
        scores[:, 1] = 100.0
        return scores

    histories = [np.array([2]), np.array([3])]
    targets = np.array([7, 1])  # user 0: the best item; user 1: a target the model never saw
    interacted = [np.array([2, 7]), np.array([3])]
    metrics = evaluate_scorer(perfect, histories, targets, interacted, 8, seed=0)
    for protocol in ("full", "sampled100"):
        assert metrics[protocol]["HR@1"] == pytest.approx(0.5)  # both users count; one miss
        assert metrics[protocol]["MRR"] == pytest.approx(0.5)
        assert metrics[protocol]["NDCG@10"] == pytest.approx(0.5)
