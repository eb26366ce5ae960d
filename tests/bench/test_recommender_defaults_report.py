"""bench/recommender_defaults.py's arithmetic: positions per second, the margin over every
baseline, the issue's targets (no training here; the script was smoke-run on generated data)."""

from __future__ import annotations

import pytest

from bench.recommender_defaults import comparisons, positions_per_second, targets


def _history(cut=None):
    return {
        "training_targets_per_epoch": 1000,
        "time_budget": {"epoch_cut_short": cut},
        "epochs": [
            {"epoch": 1, "train_seconds": 30.0},  # compilation
            {"epoch": 2, "train_seconds": 10.0},
            {"epoch": 3, "train_seconds": 10.0},
            {"epoch": 4, "train_seconds": 1.0},
        ],
    }


def test_positions_per_second_leaves_out_the_first_and_a_cut_epoch():
    assert positions_per_second(_history()) == pytest.approx(3000 / 21.0)
    assert positions_per_second(_history({"epoch": 4, "steps_run": 5})) == pytest.approx(100.0)
    one = {**_history(), "epochs": [{"epoch": 1, "train_seconds": 4.0}]}
    assert positions_per_second(one) == pytest.approx(250.0)


def _report(model_full):
    def metrics(full, sampled=0.5):
        return {"full": {"NDCG@10": full}, "sampled100": {"NDCG@10": sampled}}

    return {
        "models": {
            "recommender": metrics(model_full),
            "most_popular": metrics(0.01),
            "markov": metrics(0.03),
            "gru4rec": metrics(0.02),
        }
    }


def test_the_model_must_beat_every_baseline_by_ten_percent_under_full_ranking():
    passing = comparisons(_report(0.034))
    assert passing["beats_every_baseline_full_ndcg_at_10_by_1.10x"]
    assert passing["ratios"]["full/NDCG@10 recommender over markov"] == pytest.approx(0.034 / 0.03)
    assert passing["baselines"] == ["most_popular", "markov", "gru4rec"]
    assert not comparisons(_report(0.032))["beats_every_baseline_full_ndcg_at_10_by_1.10x"]


def test_targets_of_the_issue():
    checked = targets("sports", _report(0.031))
    assert checked == {"full/NDCG@10": {"target": 0.030, "measured": 0.031, "met": True}}
    assert targets("custom", _report(0.031)) == {}
