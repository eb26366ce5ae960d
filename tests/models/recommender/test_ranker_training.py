"""`seqlens train ranker` and `evaluate ranker` end to end on a tiny retriever; two-stage API."""

import json

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from models.recommender.config import RecommenderConfig
from models.recommender.ranker_candidates import top_candidates
from models.recommender.ranker_inference import combined_scores, load_two_stage
from models.recommender.training import train_recommender
from seqlens.cli import main
from tests.recommender_fixtures import planted_data, planted_sequences, write_events_run

NUM_USERS, NUM_ITEMS = 200, 60


@pytest.fixture(scope="module")
def retriever_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("retriever")
    config = RecommenderConfig(
        hidden_dim=16,
        num_blocks=1,
        num_heads=1,
        max_length=8,
        batch_size=64,
        learning_rate=5e-3,
        epochs=2,
        seed=0,
        jit_compile=False,
        validation_users=None,
    )
    train_recommender(planted_data(NUM_USERS, NUM_ITEMS), folder, config, verbose=0)
    return folder


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    folder = write_events_run(
        tmp_path_factory.mktemp("run"), planted_sequences(NUM_USERS, NUM_ITEMS, seed=0)
    )
    items = (folder / "vocab" / "items.txt").read_text().splitlines()
    features = [[f"category=c{int(item[-4:]) % 5}"] for item in items] + [["category=c1"]]
    table = pa.table(
        {
            "item_id": items + ["cold_item"],
            "features": pa.array(features, pa.list_(pa.string())),
            "in_vocabulary": [True] * len(items) + [False],
        }
    )
    pq.write_table(table, folder / "vocab" / "item_features.parquet")
    return folder


@pytest.fixture(scope="module")
def ranker_dir(retriever_dir, run_dir, tmp_path_factory):
    folder = tmp_path_factory.mktemp("ranker") / "ranker"
    code = main(
        [
            "train", "ranker", "--retriever", str(retriever_dir), "--data", str(run_dir),
            "--output", str(folder), "--candidates", "20", "--hidden-dim", "16",
            "--epochs", "2", "--batch-size", "32",
        ]
    )  # fmt: skip
    assert code == 0
    return folder


def test_train_writes_the_folder_and_both_systems(ranker_dir):
    for name in ("model.keras", "config.json", "history.json", "item_vocab.txt", "metrics.json"):
        assert (ranker_dir / name).exists(), name
    config = json.loads((ranker_dir / "config.json").read_text())
    assert config["num_candidates"] == 20 and config["cold_items"] == 1
    assert (ranker_dir / "item_vocab.txt").read_text().splitlines()[-1] == "cold_item"
    history = json.loads((ranker_dir / "history.json").read_text())
    assert history and {"loss", "val_loss", "HR@10"} <= set(history[0])
    metrics = json.loads((ranker_dir / "metrics.json").read_text())
    assert set(metrics["models"]) == {"retriever", "retriever+ranker"}
    for system in metrics["models"].values():
        assert set(system) == {"full", "sampled100"}
    assert 0 <= metrics["candidate_recall@20"] <= 1
    assert metrics["users"] == NUM_USERS


def test_the_stacked_blend_is_fitted_on_held_out_targets_and_saved(ranker_dir):
    import keras

    config = json.loads((ranker_dir / "config.json").read_text())
    assert config["blend"] == "stacked" and config["extra_positions"] == 1
    blend = config["blend_fit"]
    assert (
        blend["examples"] > 0 and np.isfinite([blend["ranker_weight"], blend["rank_weight"]]).all()
    )
    assert set(blend["HR@10_among_candidates"]) == {"retriever", "ranker_alone", "blend"}
    # the fit starts from the retriever's order and only moves where the likelihood gains
    assert blend["loss"]["blend"] <= blend["loss"]["retriever"] + 1e-9
    model = keras.saving.load_model(ranker_dir / "model.keras", compile=False)
    assert float(keras.ops.convert_to_numpy(model.ranker_weight)) == pytest.approx(
        blend["ranker_weight"], rel=1e-6
    )
    assert float(keras.ops.convert_to_numpy(model.rank_weight)) == pytest.approx(
        blend["rank_weight"], rel=1e-6
    )


def test_stacked_needs_training_positions():
    from models.recommender.ranker_config import RankerConfig

    with pytest.raises(ValueError, match="extra_positions >= 1 with blend='stacked'"):
        RankerConfig(extra_positions=0)
    with pytest.raises(ValueError, match="blend 'stacked' or 'joint'. Received: blend='mix'"):
        RankerConfig(blend="mix")
    assert RankerConfig(extra_positions=0, blend="joint").extra_positions == 0


def test_evaluate_command_prints_the_table(ranker_dir, run_dir, tmp_path, capsys):
    output = tmp_path / "metrics.json"
    assert main(["evaluate", "ranker", "--model", str(ranker_dir), "--data", str(run_dir),
                 "--output", str(output)]) == 0  # fmt: skip
    printed = capsys.readouterr().out
    assert "| retriever+ranker | full |" in printed and output.exists()


def test_recommend_explains_each_recommendation(ranker_dir):
    system = load_two_stage(ranker_dir)
    histories = [["item_0003", "item_0010", "item_0011"], ["item_0001"]]
    result = system.recommend(histories, k=5)
    assert result.attention.shape == (2, 5, 3)
    np.testing.assert_allclose(result.attention.sum(-1), 1.0, atol=1e-5)
    np.testing.assert_allclose(result.attention[1, :, :2], 0.0)  # padding of the short history
    assert result.history == [histories[0], ["item_0001"]]
    assert not set(histories[0]) & set(result.item_ids[0])
    assert np.all(np.diff(result.scores, axis=1) <= 0)


def test_cold_items_can_be_ranked_and_unknown_ones_are_refused(ranker_dir):
    system = load_two_stage(ranker_dir)
    result = system.rank([["item_0003"]], [["cold_item", "item_0004", "item_0005"]])
    assert sorted(result.item_ids[0]) == ["cold_item", "item_0004", "item_0005"]
    assert np.all(np.isfinite(result.scores))
    with pytest.raises(ValueError, match=r"unknown candidates=\['no_such_item'\]"):
        system.rank([["item_0003"]], [["no_such_item", "item_0004"]])
    with pytest.raises(ValueError, match="one candidate list per history"):
        system.rank([["item_0003"], ["item_0004"]], [["item_0004"]])
    with pytest.raises(ValueError, match="k in"):
        system.recommend([["item_0003"]], k=21)


def test_bad_requests_on_the_command_line(run_dir, tmp_path, capsys):
    code = main(["train", "ranker", "--retriever", str(tmp_path / "missing"), "--data",
                 str(run_dir), "--output", str(tmp_path / "out")])  # fmt: skip
    assert code == 2 and "retriever=" in capsys.readouterr().err
    code = main(["evaluate", "ranker", "--model", str(tmp_path), "--data", str(run_dir)])
    assert code == 2 and "trained ranker folder" in capsys.readouterr().err


def test_candidates_force_the_target_in_with_its_true_rank():
    scores = np.array([[0, 0, 5.0, 4.0, 3.0, 2.0, 1.0]])
    candidates, ranks, labels = top_candidates(scores, [np.array([2])], 2, np.array([6]))
    assert candidates.tolist() == [[3, 6]] and ranks.tolist() == [[1.0, 4.0]]
    assert labels.tolist() == [1]
    _, _, labels = top_candidates(scores, [np.array([2])], 2, np.array([6]), inject_missed=False)
    assert labels.tolist() == [-1]
    with pytest.raises(ValueError, match="num_candidates in"):
        top_candidates(scores, [np.array([2])], 6)


def test_combined_scores_put_ranked_candidates_first():
    retriever = np.array([[-np.inf, -np.inf, 3.0, 2.0, 1.0, 0.5]])
    combined = combined_scores(retriever, np.array([[2, 3]]), np.array([[0.1, 0.9]]))
    order = np.argsort(-combined[0])[:4].tolist()
    assert order == [3, 2, 4, 5]
    assert pd.isna(combined[0, 0]) or combined[0, 0] == -np.inf


def test_export_command_writes_a_two_stage_version(ranker_dir, tmp_path, capsys):
    import tensorflow as tf

    root = tmp_path / "serving"
    assert main(["export", "ranker", "--model", str(ranker_dir), "--serving-root", str(root),
                 "--name", "ranker"]) == 0  # fmt: skip
    assert "exported" in capsys.readouterr().out
    serve = tf.saved_model.load(str(root / "ranker" / "1")).signatures["serving_default"]
    result = serve(history=tf.constant([["item_0003", "item_0004"]]), k=tf.constant([4]))
    assert result["attention"].shape == (1, 4, 2) and result["item_ids"].shape == (1, 4)
    assert main(["export", "ranker", "--model", str(ranker_dir), "--serving-root", str(root),
                 "--name", "bad name"]) == 2  # fmt: skip
