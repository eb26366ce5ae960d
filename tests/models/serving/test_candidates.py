import json

import pandas as pd
import pytest

from models.serving.candidates import held_out_histories, held_out_texts, model_kind
from models.serving.gate import find_metric
from tests.recommender_fixtures import write_events_run

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


def test_held_out_histories_are_test_histories(tmp_path):
    sequences = [["a", "b", "c", "d"], ["b", "c", "d"], ["a", "b"]]
    run = write_events_run(tmp_path / "run", sequences)
    histories = held_out_histories(run, num_users=10)
    assert sorted(histories) == [["a", "b", "c"], ["b", "c"]]  # the 2-item user has no test target
    assert len(held_out_histories(run, num_users=1)) == 1
    with pytest.raises(FileNotFoundError, match="Received: data="):
        held_out_histories(tmp_path / "missing")


def test_held_out_texts_from_a_run_or_a_file(tmp_path):
    (tmp_path / "run" / "texts").mkdir(parents=True)
    pd.DataFrame({"text": ["x", None, "y"]}).to_parquet(tmp_path / "run" / "texts" / "part.parquet")
    assert held_out_texts(tmp_path / "run") == ["x", "y"]
    pd.DataFrame({"body": ["x"]}).to_csv(tmp_path / "texts.csv", index=False)
    with pytest.raises(ValueError, match="Received: columns="):
        held_out_texts(tmp_path / "texts.csv")


def test_model_kind_from_the_folder_files(tmp_path):
    (tmp_path / "rec").mkdir()
    (tmp_path / "rec" / "item_vocab.txt").write_text("a\n")
    assert model_kind(tmp_path / "rec") == "recommender"
    (tmp_path / "text").mkdir()
    (tmp_path / "text" / "labels.json").write_text("[]")
    (tmp_path / "text" / "config.json").write_text(json.dumps({"task": "intent"}))
    assert model_kind(tmp_path / "text") == "intent"
    with pytest.raises(FileNotFoundError, match="Received: model="):
        model_kind(tmp_path)
