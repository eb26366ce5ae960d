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


def _result(model_full):
    from bench.recommender_defaults import PROTOCOL

    report = _report(model_full)
    for figures in report["models"].values():
        for protocol in figures.values():
            protocol["HR@10"] = 2 * protocol["NDCG@10"]
    run = {
        "stop_reason": "budget",
        "epochs_run": 7,
        "best_epoch": 6,
        "seconds_to_best_epoch": 780.4,
        "wall_seconds": 912.0,
        "positions_per_second": 5123.4,
        "peak_rss_mib": 2100.0,
        "time_budget": {"fraction_used": 0.97, "planned_epochs": 7},
    }
    return {
        "users": 35598,
        "items": 18357,
        "actions": 296337,
        "test_users": 35598,
        "command": "python bench/recommender_defaults.py --datasets sports",
        "machine": "Linux, 2 CPUs",
        "date": "2026-12-07T17:00:00+00:00",
        "protocol": PROTOCOL,
        "load_average_1_5_15_min_at_start": [0.3, 0.9, 1.2],
        "chosen_loss": {"chosen": "softmax", "reason": "auto: 18,357 items <= 30,000"},
        "metrics": report["models"],
        "labels": {"recommender": "recommender (sasrec, loss softmax)"},
        "training": {"recommender": run, "gru4rec": {**run, "stop_reason": "early_stopping"}},
        "comparisons": comparisons(report),
        "targets": targets("sports", report),
    }


def test_the_section_names_every_model_the_budget_use_and_the_checks():
    from bench.recommender_defaults_report import markdown

    results = {"runs": {"sports/defaults": _result(0.031), "games/loss_curve": {}}}
    text = markdown(results, {"sports": "docs/recommender_defaults_sports.png"})
    assert "### sports: 35,598 users, 18,357 items, 296,337 actions" in text
    assert "| recommender (sasrec, loss softmax) | 0.0310 | 0.0620 |" in text
    assert "| gru4rec | 0.0200 | 0.0400 |" in text  # a model without a label keeps its key
    assert "| recommender | budget | 7 (7) | 6 | 780 | 912 | 97% | 5,123 | 2,100 |" in text
    assert "markov 1.03x" in text and "by at least 10%: **NO**" in text
    assert "Target full/NDCG@10 >= 0.03: measured 0.0310, **met**" in text
    assert "Loss chosen: `softmax` (auto: 18,357 items <= 30,000)." in text
    assert "loss_curve" not in text and "![validation NDCG@10 against seconds, sports]" in text
