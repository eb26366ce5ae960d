"""The two-stage SavedModel: the same recommendations and per-item attention as the Python API."""

import numpy as np
import pytest

from models.recommender.inference import Recommender
from models.recommender.model import SASRecModel
from models.recommender.ranker_features import build_feature_table
from models.recommender.ranker_inference import TwoStageRecommender
from models.recommender.ranker_model import TargetAttentionRanker
from models.serving.two_stage_signature import export_two_stage_savedmodel
from tests.saved_model_cli import saved_model_cli

ITEMS = [f"item_{i:03d}" for i in range(30)]


@pytest.fixture(scope="module")
def system():
    import keras

    keras.utils.set_random_seed(0)
    retriever = SASRecModel(len(ITEMS) + 2, hidden_dim=16, max_length=6, num_blocks=1, num_heads=1)
    retriever(np.zeros((1, 6), np.int32))
    features = {item: [f"category=c{i % 4}"] for i, item in enumerate(ITEMS)}
    features["cold_item"] = ["category=c1"]
    table = build_feature_table(ITEMS, features)
    ranker = TargetAttentionRanker(
        table.num_items, table.trained_items, table.num_features, 8, max_length=6, hidden_dim=16
    )
    ranker.build()
    ranker.set_item_features(table.feature_ids)
    return TwoStageRecommender(
        Recommender(retriever, ITEMS, {}), ranker, table, {"num_candidates": 12}
    )


@pytest.fixture(scope="module")
def export_dir(system, tmp_path_factory):
    return export_two_stage_savedmodel(system, tmp_path_factory.mktemp("two_stage") / "1", "two")


def test_signature_matches_the_python_two_stage_api(system, export_dir):
    import tensorflow as tf

    serve = tf.saved_model.load(str(export_dir)).signatures["serving_default"]
    histories = [ITEMS[:9], ["item_004", "unknown", "item_007"]]
    width = max(len(h) for h in histories)
    padded = np.array([h + [""] * (width - len(h)) for h in histories], dtype=object)
    result = serve(history=tf.constant(padded), k=tf.constant([5, 3], tf.int32))
    expected = system.recommend(histories, k=5)
    item_ids = result["item_ids"].numpy().astype(str)
    assert item_ids[0].tolist() == expected.item_ids[0]
    assert item_ids[1, :3].tolist() == expected.item_ids[1][:3] and item_ids[1, 3:].tolist() == [
        "",
        "",
    ]
    attention = result["attention"].numpy()
    assert attention.shape == (2, 5, width)
    np.testing.assert_allclose(attention[0, :, :3], 0.0)  # cut by max_length = 6
    np.testing.assert_allclose(attention[0, :, 3:], expected.attention[0], atol=1e-5)
    np.testing.assert_allclose(attention[1, :3].sum(-1), 1.0, atol=1e-5)
    np.testing.assert_allclose(attention[1, :, 3:], 0.0)  # padding columns
    np.testing.assert_allclose(result["scores"].numpy()[0], expected.scores[0], atol=1e-4)


def test_saved_model_cli_runs_it(export_dir):
    ok = saved_model_cli(
        "run", "--dir", str(export_dir), "--tag_set", "serve", "--signature_def", "serving_default",
        "--input_exprs", "history=[['item_001','item_002']];k=[4]",
    )  # fmt: skip
    assert ok.returncode == 0, ok.stderr[-2000:]
    assert "Result for output key attention" in ok.stdout and "b'item_0" in ok.stdout


def test_rest_instances_body_gets_per_recommendation_attention(export_dir):
    import tensorflow as tf

    from tests.serving_rest import predict

    loaded = tf.saved_model.load(str(export_dir))
    body = {"instances": [{"history": ["item_001", "item_002", ""], "k": 3}]}
    prediction = predict(loaded, body)["predictions"][0]
    assert len(prediction["item_ids"]) == 3 and "item_001" not in prediction["item_ids"]
    attention = np.array(prediction["attention"])
    assert attention.shape == (3, 3)
    np.testing.assert_allclose(attention.sum(-1), 1.0, atol=1e-5)
    np.testing.assert_allclose(attention[:, 2], 0.0)


def test_bad_k_is_refused_with_its_name(export_dir):
    import tensorflow as tf

    serve = tf.saved_model.load(str(export_dir)).signatures["serving_default"]
    with pytest.raises(tf.errors.InvalidArgumentError, match="k must be >= 1"):
        serve(history=tf.constant([["item_001"]]), k=tf.constant([0]))
    with pytest.raises(tf.errors.InvalidArgumentError, match="one value per history row"):
        serve(history=tf.constant([["item_001"]]), k=tf.constant([2, 2]))
