from dashboard.artifacts import list_model_folders, load_publish_log
from dashboard.model_views import (
    flatten_metrics,
    gate_decisions_table,
    group_curves,
    history_series,
    metrics_table,
    unmatched_baselines,
)
from tests.dashboard_fixtures import write_data_artifacts


def test_flatten_metrics_takes_the_nearest_protocol():
    rows = flatten_metrics({"full": {"protocol": "full ranking", "hr@10": 0.3, "nested": {"x": 1}},
                            "loose": 2, "flag": True, "note": "text"})
    assert {"metric": "full.hr@10", "value": 0.3, "protocol": "full ranking"} in rows
    assert {"metric": "full.nested.x", "value": 1.0, "protocol": "full ranking"} in rows
    assert {"metric": "loose", "value": 2.0, "protocol": ""} in rows
    assert len(rows) == 3


def test_metrics_table_puts_baselines_beside(tmp_path):
    table = metrics_table(list_model_folders(write_data_artifacts(tmp_path)))
    assert list(table.columns) == ["protocol", "metric", "recommender", "popularity (baseline)"]
    row = table[table["metric"] == "full_ranking.ndcg@10"].iloc[0]
    assert (row["recommender"], row["popularity (baseline)"]) == (0.17, 0.06)
    assert row["protocol"].startswith("full ranking")


def test_metrics_table_for_one_model_keeps_only_related_baselines(tmp_path):
    root = write_data_artifacts(tmp_path)
    intent = root / "models" / "intent"
    intent.mkdir()
    (intent / "metrics.json").write_text('{"protocol": "validation split", "accuracy": 0.9}')
    folders = list_model_folders(root)
    table = metrics_table(folders, model="intent")
    assert list(table.columns) == ["protocol", "metric", "intent"]
    assert list(metrics_table(folders, model="recommender").columns)[-1] == "popularity (baseline)"
    assert unmatched_baselines(folders) == []


def test_history_series_accepts_keras_and_epoch_lists():
    keras_style = {"loss": [1, 0.5], "val_loss": [1.2, 0.8], "epoch": [0, 1], "name": "x"}
    assert history_series(keras_style) == {"loss": [1.0, 0.5], "val_loss": [1.2, 0.8]}
    epochs = [{"epoch": 1, "loss": 1.0, "train_seconds": 3.0}, {"epoch": 2, "loss": 0.5, "train_seconds": 1.0}]
    assert history_series({"epochs": epochs}) == {"loss": [1.0, 0.5]}


def test_group_curves_pairs_validation_series():
    groups = group_curves({"loss": [1.0], "val_loss": [2.0], "val_auc": [0.5]})
    assert groups == {"loss": {"loss": [1.0], "val_loss": [2.0]}, "auc": {"val_auc": [0.5]}}


def test_gate_decisions_table(tmp_path):
    table = gate_decisions_table(load_publish_log(write_data_artifacts(tmp_path)))
    assert list(table["decision"]) == ["rejected", "published", "published"]
    assert table.loc[0, "reasons"] == "hit_rate@10 0.20 < 0.31"
