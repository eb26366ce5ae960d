import numpy as np
import pytest

from models.serving.gate import (
    check_latency,
    compare_metric,
    compare_rankings,
    find_metric,
    measure_latency,
)


def test_identical_rankings_pass():
    check = compare_rankings(
        [["a", "b"]], np.array([[2.0, 1.0]]), [["a", "b"]], np.array([[2.0, 1.0]]), 1e-4
    )
    assert check.passed and check.details["users_with_different_top_k"] == 0


def test_a_different_top_k_fails_with_the_count():
    check = compare_rankings(
        [["a", "c"], ["x", "y"]],
        np.array([[2.0, 1.0], [3.0, 2.0]]),
        [["a", "b"], ["x", "y"]],
        np.array([[2.0, 1.5], [3.0, 2.0]]),
        1e-4,
    )
    assert not check.passed and "1 of 2" in check.reason


def test_swaps_inside_a_tie_are_accepted():
    check = compare_rankings(
        [["b", "a", "c"]],
        np.array([[2.0, 2.0, 1.0]]),
        [["a", "b", "c"]],
        np.array([[2.0, 2.0, 1.0]]),
        1e-4,
    )
    assert check.passed


def test_scores_outside_the_tolerance_fail():
    check = compare_rankings([["a"]], np.array([[2.01]]), [["a"]], np.array([[2.0]]), 1e-3)
    assert not check.passed and "scores differ" in check.reason


def test_metric_regression_beyond_tolerance_fails():
    assert compare_metric({"ndcg@10": 0.30}, {"ndcg@10": 0.305}, "ndcg@10", 0.01).passed
    check = compare_metric({"ndcg@10": 0.20}, {"ndcg@10": 0.30}, "ndcg@10", 0.01)
    assert not check.passed and "regressed from 0.3000" in check.reason


def test_first_publish_and_missing_metrics():
    assert compare_metric({"ndcg@10": 0.1}, None, "ndcg@10", 0.01).passed
    check = compare_metric({}, None, "ndcg@10", 0.01)
    assert not check.passed and "no value for 'ndcg@10'" in check.reason


def test_latency_figures_and_limit():
    figures = measure_latency(lambda: sum(range(100)), repeats=50, warmup=2)
    assert figures["requests"] == 50 and 0 < figures["p50_ms"] <= figures["p99_ms"]
    assert not check_latency(lambda: sum(range(10_000)), p99_limit_ms=1e-9, repeats=5).passed
    assert check_latency(lambda: None, p99_limit_ms=1e6, repeats=5).passed


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (
            lambda: compare_rankings([], np.zeros((0, 1)), [], np.zeros((0, 1)), -1),
            "Received: score_tolerance=-1",
        ),
        (lambda: compare_metric({}, None, "m", -0.5), "Received: tolerance=-0.5"),
        (lambda: measure_latency(lambda: None, repeats=0), "Received: repeats=0"),
        (lambda: check_latency(lambda: None, p99_limit_ms=0), "Received: p99_limit_ms=0"),
    ],
)
def test_bad_arguments_are_value_errors(call, message):
    with pytest.raises(ValueError, match=message):
        call()


RECOMMENDER_METRICS = {
    "models": {
        "most_popular": {"full": {"NDCG@10": 0.9}, "sampled100": {"NDCG@10": 0.95}},
        "recommender": {"sampled100": {"NDCG@10": 0.6}, "full": {"NDCG@10": 0.2}},
    },
    "flat": {"recommender/full/NDCG@10": 0.2},
}


def test_find_metric_prefers_the_headline_then_the_model_full_ranking():
    assert (
        find_metric({**RECOMMENDER_METRICS, "headline": {"full/NDCG@10": 0.25}}, "ndcg@10") == 0.25
    )
    assert find_metric(RECOMMENDER_METRICS, "ndcg@10") == 0.2


def test_find_metric_on_text_and_flat_documents():
    text = {"linear_model": {"macro_f1": 0.9}, "attention_model": {"macro_f1": 0.7}}
    assert find_metric(text, "macro_f1") == 0.7  # baselines only as a last resort
    assert find_metric({"ndcg@10": 0.4}, "NDCG@10") == 0.4
    assert find_metric({"other": 1}, "ndcg@10") is None and find_metric([], "x") is None


def test_a_text_model_is_judged_by_the_served_wide_and_deep_model():
    from models.serving.gate import headline_metric_value

    metrics = {
        "wide_branch": {"accuracy": 0.5},
        "served_model": {"accuracy": 0.9},
        "deep_branch": {"accuracy": 0.6},
    }
    assert headline_metric_value("intent", metrics) == 0.9
    assert headline_metric_value("intent", {"attention_model": {"accuracy": 0.7}}) == 0.7
