import json
import subprocess
import sys

import numpy as np
import pytest

from models.serving.recommender_candidate import serve_recommendations
from models.serving.recommender_signature import (
    RecommenderServingSpec,
    export_recommender_savedmodel,
    pad_histories,
)
from models.serving.warmup_requests import read_warmup_requests
from tests.paths import REPO_ROOT
from tests.saved_model_cli import run_serving_default, saved_model_cli
from tests.serving_rest import predict, request_to_tensors
from tests.serving_test_model import TinyAttentionRecommender, make_vocabulary, reference_recommend

MAX_LENGTH = 8
VOCABULARY = make_vocabulary(40)
PROJECT_ROOT = REPO_ROOT


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    import tensorflow as tf

    model = TinyAttentionRecommender(len(VOCABULARY), MAX_LENGTH)
    spec = RecommenderServingSpec(tuple(VOCABULARY), max_length=MAX_LENGTH)
    export_dir = tmp_path_factory.mktemp("serving") / "recommender" / "1"
    export_recommender_savedmodel(model, spec, export_dir, "recommender")
    return model, export_dir, tf.saved_model.load(str(export_dir))


def _serve(loaded, histories, k, signature="serving_default"):
    return serve_recommendations(loaded.signatures[signature], histories, k)


def test_top_k_matches_the_keras_model_and_excludes_history(exported):
    model, _, loaded = exported
    histories = [["item_0003", "item_0005", "item_0001"], ["item_0010"], ["item_0000", "item_0002"]]
    item_ids, scores, _ = _serve(loaded, histories, 5)
    expected_ids, expected_scores, _ = reference_recommend(model, VOCABULARY, histories, 5)
    assert item_ids == expected_ids
    np.testing.assert_allclose(scores, expected_scores, atol=1e-4)
    for history, row in zip(histories, item_ids, strict=True):
        assert not set(history) & set(row)


def test_xla_export_answers_like_the_keras_model(tmp_path):
    import tensorflow as tf

    model = TinyAttentionRecommender(len(VOCABULARY), MAX_LENGTH)
    spec = RecommenderServingSpec(tuple(VOCABULARY), max_length=MAX_LENGTH)
    export_dir = export_recommender_savedmodel(
        model, spec, tmp_path / "1", "recommender", jit_compile=True
    )
    loaded = tf.saved_model.load(str(export_dir))
    histories = [["item_0003", "item_0005", "item_0001"], [], ["never-seen"] + ["item_0002"] * 12]
    item_ids, scores, attention = _serve(loaded, histories, 4)
    expected_ids, expected_scores, expected_attention = reference_recommend(
        model, VOCABULARY, histories[:1], 4
    )
    assert item_ids[0] == expected_ids[0]
    np.testing.assert_allclose(scores[0], expected_scores[0], atol=1e-4)
    np.testing.assert_allclose(np.asarray(attention)[0, :3], expected_attention[0, -3:], atol=1e-5)
    assert item_ids[1] == spec.most_popular(4)
    metadata = json.loads((export_dir / "assets.extra" / "seqlens_export.json").read_text())
    assert metadata["xla_jit_compile"] is True


def test_include_history_signature_keeps_seen_items(exported):
    model, _, loaded = exported
    histories = [["item_0003", "item_0005"]]
    item_ids, _, _ = _serve(loaded, histories, 39, signature="include_history")
    expected_ids, _, _ = reference_recommend(
        model, VOCABULARY, histories, 39, exclude_history=False
    )
    assert item_ids == expected_ids and {"item_0003", "item_0005"} <= set(item_ids[0])


def test_padding_anywhere_and_unknown_ids_follow_the_rules(exported):
    model, _, loaded = exported
    left = np.array([["", "", "item_0004", "never-seen", "item_0009"]], dtype=object)
    right = np.array([["item_0004", "never-seen", "item_0009", "", ""]], dtype=object)
    signature = loaded.signatures["serving_default"]
    import tensorflow as tf

    out_left = signature(history=tf.constant(left), k=tf.constant([6]))
    out_right = signature(history=tf.constant(right), k=tf.constant([6]))
    assert out_left["item_ids"].numpy().tolist() == out_right["item_ids"].numpy().tolist()
    expected_ids, _, expected_attention = reference_recommend(
        model, VOCABULARY, [["item_0004", "never-seen", "item_0009"]], 6
    )
    assert [item.decode() for item in out_left["item_ids"].numpy()[0]] == expected_ids[0]
    # attention is aligned with the request's own columns; padding gets 0
    np.testing.assert_allclose(
        out_left["attention"].numpy()[0], [0, 0, *expected_attention[0, -3:]], atol=1e-5
    )
    np.testing.assert_allclose(
        out_right["attention"].numpy()[0], [*expected_attention[0, -3:], 0, 0], atol=1e-5
    )


def test_long_history_keeps_the_most_recent_items(exported):
    model, _, loaded = exported
    long_history = [f"item_{index:04d}" for index in range(20)]
    ids_long, scores_long, attention = _serve(loaded, [long_history], 5)
    expected_ids, _, expected_attention = reference_recommend(model, VOCABULARY, [long_history], 5)
    assert ids_long == expected_ids
    assert attention.shape == (1, 20)
    assert np.all(attention[0, :-MAX_LENGTH] == 0)
    np.testing.assert_allclose(attention[0, -MAX_LENGTH:], expected_attention[0], atol=1e-5)
    np.testing.assert_allclose(attention[0].sum(), 1.0, atol=1e-4)


def test_empty_history_returns_the_most_popular_items(exported):
    _, _, loaded = exported
    item_ids, scores, attention = _serve(loaded, [[], ["", ""]], 4)
    assert item_ids == [["item_0000", "item_0001", "item_0002", "item_0003"]] * 2
    assert np.all(np.diff(scores[0]) < 0) and np.all(attention == 0)


def test_k_is_per_row_and_clamped_to_the_catalogue(exported):
    import tensorflow as tf

    _, _, loaded = exported
    signature = loaded.signatures["serving_default"]
    out = signature(
        history=tf.constant(pad_histories([["item_0001"], ["item_0002"]])), k=tf.constant([2, 4])
    )
    item_ids = out["item_ids"].numpy()
    assert item_ids.shape == (2, 4)
    assert item_ids[0, 2:].tolist() == [b"", b""] and all(item_ids[1])
    assert out["scores"].numpy()[0, 2:].tolist() == [0.0, 0.0]
    huge = signature(history=tf.constant([["item_0001"]]), k=tf.constant([10_000]))
    ids = [item for item in huge["item_ids"].numpy()[0] if item]
    assert len(ids) == 39 and len(set(ids)) == 39  # 40 items, one excluded


@pytest.mark.parametrize("k", [0, -3])
def test_non_positive_k_is_a_clear_error(exported, k):
    import tensorflow as tf

    _, _, loaded = exported
    with pytest.raises(tf.errors.InvalidArgumentError, match="k must be >= 1"):
        loaded.signatures["serving_default"](
            history=tf.constant([["item_0001"]]), k=tf.constant([k])
        )


def test_k_with_the_wrong_batch_size_is_a_clear_error(exported):
    import tensorflow as tf

    _, _, loaded = exported
    with pytest.raises(tf.errors.InvalidArgumentError, match="one value per history row"):
        loaded.signatures["serving_default"](
            history=tf.constant([["a"], ["b"]]), k=tf.constant([3])
        )


def test_wrong_dtypes_are_rejected_before_the_graph_runs(exported):
    import tensorflow as tf

    _, _, loaded = exported
    signature = loaded.signatures["serving_default"]
    with pytest.raises(ValueError, match="Received: history="):
        request_to_tensors({"instances": [{"history": [1, 2], "k": 3}]}, signature)
    with pytest.raises(ValueError, match="Received: k="):
        request_to_tensors({"instances": [{"history": ["a"], "k": "ten"}]}, signature)
    with pytest.raises(tf.errors.InvalidArgumentError, match="expected to be a string tensor"):
        signature(history=tf.constant([[1, 2]]), k=tf.constant([3]))


def test_vocabulary_asset_and_warmup_requests_are_in_the_savedmodel(exported):
    import tensorflow as tf

    _, export_dir, loaded = exported
    asset = export_dir / "assets" / "item_vocab.txt"
    assert asset.read_text().splitlines() == VOCABULARY
    records = read_warmup_requests(export_dir / "assets.extra" / "tf_serving_warmup_requests")
    assert len(records) >= 2
    for record in records:  # TF Serving replays these on load: they must run
        inputs = {name: tf.constant(value) for name, value in record["inputs"].items()}
        outputs = loaded.signatures[record["signature_name"]](**inputs)
        assert outputs["item_ids"].shape[0] == record["inputs"]["history"].shape[0]


def test_rest_columnar_and_row_formats_agree(exported):
    _, _, loaded = exported
    rows = predict(
        loaded,
        {
            "instances": [
                {"history": ["item_0001", "item_0002"], "k": 3},
                {"history": ["item_0007", ""], "k": 3},
            ]
        },
    )
    columns = predict(
        loaded,
        {"inputs": {"history": [["item_0001", "item_0002"], ["item_0007", ""]], "k": [3, 3]}},
    )
    assert [row["item_ids"] for row in rows["predictions"]] == columns["outputs"]["item_ids"]
    assert len(rows["predictions"][1]["attention"]) == 2


FRESH_PROCESS_SCRIPT = """
import json, sys
import tensorflow as tf
from tests.serving_rest import predict
loaded = tf.saved_model.load(sys.argv[1])
body = json.loads(sys.argv[2])
print("RESPONSE=" + json.dumps(predict(loaded, body)))
"""


def test_fresh_process_answers_a_rest_instances_request(exported):
    model, export_dir, _ = exported
    body = {
        "signature_name": "serving_default",
        "instances": [
            {"history": ["item_0003", "unknown", "item_0011", ""], "k": 4},
            {"history": ["", "", "", ""], "k": 4},
        ],
    }
    result = subprocess.run(
        [sys.executable, "-c", FRESH_PROCESS_SCRIPT, str(export_dir), json.dumps(body)],
        capture_output=True,
        text=True,
        cwd=PROJECT_ROOT,
        check=False,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    response = json.loads(result.stdout.split("RESPONSE=", 1)[1])
    expected_ids, expected_scores, _ = reference_recommend(
        model, VOCABULARY, [["item_0003", "unknown", "item_0011"]], 4
    )
    first, second = response["predictions"]
    assert first["item_ids"] == expected_ids[0]
    np.testing.assert_allclose(first["scores"], expected_scores[0], atol=1e-4)
    assert second["item_ids"] == VOCABULARY[2:6]


def test_saved_model_cli_show_and_run(exported):
    _, export_dir, _ = exported
    shown = saved_model_cli("show", "--dir", str(export_dir), "--all")
    assert shown.returncode == 0, shown.stderr[-2000:]
    for expected in (
        "signature_def['serving_default']",
        "signature_def['include_history']",
        "tensorflow/serving/predict",
        "history",
        "item_ids",
        "attention",
    ):
        assert expected in shown.stdout
    ran = run_serving_default(export_dir, "history=[['item_0003','item_0005']];k=[3]")
    assert ran.returncode == 0, ran.stderr[-2000:]
    assert "item_ids" in ran.stdout and "b'item_" in ran.stdout


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"max_length": 0}, "Received: max_length=0"),
        ({"padding_side": "middle"}, "Received: padding_side='middle'"),
        ({"oov_index": 99}, "Received: oov_index=99"),
        ({"item_vocabulary": ("[PAD]", "[OOV]", "a", "a")}, "Received: item_vocabulary"),
        ({"item_vocabulary": ("[PAD]", "[OOV]", "a\nb")}, "Received: item_vocabulary"),
        ({"popularity": (1.0,)}, "Received: popularity"),
    ],
)
def test_spec_validation(arguments, message):
    values = {"item_vocabulary": tuple(VOCABULARY), "max_length": 4, **arguments}
    with pytest.raises(ValueError, match=message):
        RecommenderServingSpec(**values)


def test_a_1d_history_is_a_clear_error_naming_history(exported):
    import tensorflow as tf

    _, _, loaded = exported
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"tensor history \[2\].*\[\?,\?\]"):
        loaded.signatures["serving_default"](
            history=tf.constant(["item_0001", "item_0002"]), k=tf.constant([3])
        )


def test_a_scalar_k_is_a_clear_error_naming_k(exported):
    import tensorflow as tf

    _, _, loaded = exported
    for signature in ("serving_default", "include_history"):
        with pytest.raises(tf.errors.InvalidArgumentError, match=r"tensor k \[\].*\[\?\]"):
            loaded.signatures[signature](history=tf.constant([["item_0001"]]), k=tf.constant(3))


def test_a_float_k_is_an_error_not_truncated(exported):
    import tensorflow as tf

    _, export_dir, loaded = exported
    signature = loaded.signatures["serving_default"]
    with pytest.raises(tf.errors.InvalidArgumentError, match="int32 tensor but is a float"):
        signature(history=tf.constant([["item_0001"]]), k=tf.constant([2.7]))
    with pytest.raises(ValueError, match=r"integers \(int32\).*Received: k=\[2.7\]"):
        request_to_tensors({"instances": [{"history": ["item_0001"], "k": 2.7}]}, signature)
    with pytest.raises(ValueError, match=r"Received: k=\[True\]"):
        request_to_tensors({"inputs": {"history": [["item_0001"]], "k": [True]}}, signature)
    # saved_model_cli itself casts k=[2.7] to 2 before the graph runs (the SavedModel never sees
    # 2.7): the helper refuses such input, and without it the run answers exactly like k=[2].
    with pytest.raises(ValueError, match=r"would truncate.*Received: k=\[2.7\]"):
        run_serving_default(export_dir, "history=[['item_0003']];k=[2.7]")
    truncated = run_serving_default(export_dir, "history=[['item_0003']];k=[2.7]", check=False)
    exact = run_serving_default(export_dir, "history=[['item_0003']];k=[2]")
    assert truncated.returncode == 0 and truncated.stdout == exact.stdout
