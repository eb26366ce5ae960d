from dashboard.artifacts import list_model_folders, load_publish_log
from dashboard.model_views import (
    comparison_table,
    default_curves,
    flatten_metrics,
    gate_decisions_table,
    group_curves,
    history_series,
    metrics_table,
    report_notes,
)
from tests.dashboard_fixtures import write_data_artifacts


def test_flatten_metrics_takes_the_nearest_protocol():
    rows = flatten_metrics(
        {
            "full": {"protocol": "full ranking", "hr@10": 0.3, "nested": {"x": 1}},
            "loose": 2,
            "flag": True,
            "note": "text",
        }
    )
    assert {"metric": "full.hr@10", "value": 0.3, "protocol": "full ranking"} in rows
    assert {"metric": "full.nested.x", "value": 1.0, "protocol": "full ranking"} in rows
    assert {"metric": "loose", "value": 2.0, "protocol": ""} in rows
    assert len(rows) == 3


def test_metrics_table_puts_baselines_beside(tmp_path):
    folders = list_model_folders(write_data_artifacts(tmp_path))
    baseline = [folder for folder in folders if folder.is_baseline]
    table = metrics_table(baseline)
    assert list(table.columns) == ["protocol", "metric", "popularity (baseline)"]
    assert (
        table.loc[table["metric"] == "full_ranking.NDCG@10", "popularity (baseline)"].item() == 0.06
    )


def test_comparison_table_of_a_recommender_evaluation(tmp_path):
    folders = list_model_folders(write_data_artifacts(tmp_path))
    table = comparison_table("recommender", folders[0].metrics)
    assert list(table.columns) == [
        "protocol",
        "metric",
        "recommender",
        "most popular (baseline)",
        "first-order Markov chain (baseline)",
    ]
    full = table[(table["protocol"] == "full (test)") & (table["metric"] == "NDCG@10")]
    assert full[["recommender", "most popular (baseline)"]].to_numpy().tolist() == [[0.17, 0.06]]
    notes = report_notes(folders[0].metrics)
    assert notes["users"] == 30 and "every item" in notes["protocol full"]


def test_default_curves_prefer_headline_metrics():
    quantities = ["valid/full/HR@1", "valid/full/HR@10", "valid/full/NDCG@10", "valid/full/MRR"]
    assert default_curves(quantities) == [
        "valid/full/NDCG@10",
        "valid/full/HR@10",
        "valid/full/HR@1",
    ]


def test_comparison_table_of_a_text_model():
    metrics = {
        "protocol": "validation split: 10%",
        "attention_model": {"accuracy": 0.8, "count": 10},
        "linear_model": {"accuracy": 0.7, "count": 10},
        "ensemble": {"accuracy": 0.85, "count": 10},
        "evaluation": {"task": "intent", "in_scope": {"accuracy": 0.9}},
        "oos_threshold": 0.4,
    }
    table = comparison_table("intent", metrics)
    assert list(table.columns) == [
        "protocol",
        "metric",
        "attention model",
        "linear TF-IDF (baseline)",
        "ensemble (served)",
    ]
    accuracy = table[table["metric"] == "accuracy"].iloc[0]
    assert (accuracy["attention model"], accuracy["linear TF-IDF (baseline)"]) == (0.8, 0.7)
    assert "in_scope.accuracy" in set(table["metric"])
    assert report_notes(metrics) == {"oos_threshold": 0.4}


def test_report_notes_show_the_stacked_branch_weights():
    metrics = {
        "served_model": {"accuracy": 0.9},
        "wide_fit": "stacked",
        "stacked_blend": {"wide_weight": 4.1556, "deep_weight": 0.41707, "examples": 1003},
    }
    notes = report_notes(metrics)
    assert notes["branch weights (wide, deep), fitted on validation"] == "4.16, 0.417"


def test_comparison_table_of_unknown_shape_lists_numbers():
    table = comparison_table("x", {"protocol": "p", "auc": 0.5, "nested": {"f1": 0.2}})
    assert table.to_dict("list") == {
        "protocol": ["p", "p"],
        "metric": ["auc", "nested.f1"],
        "x": [0.5, 0.2],
    }
    assert comparison_table("x", {}).empty


def test_history_series_accepts_keras_and_epoch_lists():
    keras_style = {"loss": [1, 0.5], "val_loss": [1.2, 0.8], "epoch": [0, 1], "name": "x"}
    assert history_series(keras_style) == {"loss": [1.0, 0.5], "val_loss": [1.2, 0.8]}
    epochs = [
        {"epoch": 1, "loss": 1.0, "train_seconds": 3.0},
        {"epoch": 2, "loss": 0.5, "train_seconds": 1.0},
    ]
    assert history_series({"epochs": epochs}) == {"loss": [1.0, 0.5]}


def test_group_curves_pairs_validation_series():
    groups = group_curves({"loss": [1.0], "val_loss": [2.0], "val_auc": [0.5]})
    assert groups == {"loss": {"loss": [1.0], "val_loss": [2.0]}, "auc": {"val_auc": [0.5]}}


def test_gate_decisions_table(tmp_path):
    table = gate_decisions_table(load_publish_log(write_data_artifacts(tmp_path)))
    assert list(table["decision"]) == ["rejected", "published", "published"]
    assert table.loc[0, "reasons"] == "hit_rate@10 0.20 < 0.31"
    assert table.loc[0, "checks"] == "latency: passed, no_metric_regression: failed"
