import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from models.serving.text_signature import (
    TextServingSpec,
    export_text_savedmodel,
    text_spec_from_model,
)
from models.serving.warmup_requests import read_warmup_requests
from tests.saved_model_cli import run_serving_default
from tests.serving_rest import predict

LABELS_TO_TEXTS = {
    "positive": ["shares of $AAPL rose 3.5% after strong earnings", "great quarter, profit up"],
    "negative": ["stock fell sharply on weak guidance", "losses widen, can't recover"],
    "neutral": ["the company holds its annual meeting", "results due on Tuesday in 東京"],
}
PROBE_TEXTS = [
    "Shares of $TSLA fell 5% today!",
    "",
    "   ",
    "完全に新しい テキスト",
    "growth " * 30,
    "Don't sell: https://x.example/a @trader $5bn deal",
]


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    import tensorflow as tf

    from models.text.inference import load_text_model
    from models.text.training import TextTrainingConfig, train_text_model

    root = tmp_path_factory.mktemp("text")
    texts = [text for pool in LABELS_TO_TEXTS.values() for text in pool] * 4
    labels = [label for label, pool in LABELS_TO_TEXTS.items() for _ in pool] * 4
    train_text_model(
        texts,
        labels,
        TextTrainingConfig(
            task="sentiment",
            sequence_length=6,
            embedding_dim=16,
            num_heads=2,
            feed_forward_dim=16,
            attention_units=8,
            max_ngrams=200,
            wide_ngrams_per_token=8,
            epochs=1,
            batch_size=8,
            validation_fraction=0.25,
        ),
        root / "model",
    )
    text_model = load_text_model(root / "model")
    spec = text_spec_from_model(text_model)
    export_dir = export_text_savedmodel(
        text_model.model, spec, root / "serving" / "sentiment" / "1", "sentiment"
    )
    return text_model, spec, export_dir, tf.saved_model.load(str(export_dir))


def test_the_whole_wide_and_deep_model_is_served(exported):
    text_model, spec, export_dir, _ = exported
    assert spec.wide_features and (export_dir / "assets" / "wide_features.txt").exists()
    layers = {layer.name for layer in text_model.model.layers}
    assert {"wide", "deep_logits", "attention_pooling", "mahalanobis"} <= layers


def test_outputs_match_the_keras_model_on_raw_text(exported):
    import tensorflow as tf

    text_model, spec, _, loaded = exported
    assert spec.ngrams  # the n-gram path is exercised
    served = loaded.signatures["serving_default"](text=tf.constant(PROBE_TEXTS))
    expected = text_model.predict(PROBE_TEXTS)
    np.testing.assert_allclose(
        served["probabilities"].numpy(), np.stack(expected["probabilities"]), atol=1e-5
    )
    assert [label.decode() for label in served["label"].numpy()] == expected["label"].tolist()
    np.testing.assert_allclose(served["score"].numpy(), expected["score"].to_numpy(), atol=1e-5)
    for row, (tokens, weights) in enumerate(
        zip(expected["tokens"], expected["token_attention"], strict=True)
    ):
        served_tokens = [token.decode() for token in served["tokens"].numpy()[row]]
        assert served_tokens[: len(tokens)] == list(tokens) and not any(
            served_tokens[len(tokens) :]
        )
        np.testing.assert_allclose(
            served["token_attention"].numpy()[row][: len(tokens)], weights, atol=1e-5
        )
        np.testing.assert_allclose(
            served["wide_contributions"].numpy()[row][: len(tokens)],
            expected["wide_contributions"][row],
            atol=1e-5,
        )
    # the long text: attention only on the sequence_length tokens the model read
    long_row = served["token_attention"].numpy()[4]
    assert (
        np.all(long_row[spec.sequence_length :] == 0)
        and long_row[: spec.sequence_length].sum() > 0.99
    )


def test_rest_row_format_with_bare_strings(exported):
    _, spec, _, loaded = exported
    response = predict(loaded, {"instances": ["profit up", "weak guidance"]})
    first = response["predictions"][0]
    assert first["classes"] == list(spec.labels) and first["label"] in spec.labels
    assert abs(sum(first["probabilities"]) - 1) < 1e-5 and -1 <= first["score"] <= 1
    assert first["tokens"][:2] == ["profit", "up"]


def test_bad_requests_are_clear_errors(exported):
    _, _, _, loaded = exported
    with pytest.raises(ValueError, match="Received: text="):
        predict(loaded, {"instances": [1, 2]})  # wrong dtype
    with pytest.raises(ValueError, match="Received: instances without \\['text'\\]"):
        predict(loaded, {"instances": [{"txt": "profit up"}]})  # missing input
    with pytest.raises(ValueError, match="Expected input 'text'. Received: inputs=\\['body'\\]"):
        predict(loaded, {"inputs": {"body": ["profit up"]}})
    with pytest.raises(ValueError, match="Expected exactly one of 'instances'"):
        predict(loaded, {"text": ["profit up"]})


def test_assets_and_warmup(exported):
    import tensorflow as tf

    _, spec, export_dir, loaded = exported
    assert (export_dir / "assets" / "tokens.txt").read_text().splitlines() == list(spec.tokens)
    assert (export_dir / "assets" / "ngrams.txt").exists()
    for record in read_warmup_requests(export_dir / "assets.extra" / "tf_serving_warmup_requests"):
        outputs = loaded.signatures["serving_default"](text=tf.constant(record["inputs"]["text"]))
        assert outputs["label"].shape[0] == len(record["inputs"]["text"])


def test_intent_export_reports_out_of_scope(exported, tmp_path):
    import tensorflow as tf

    text_model, spec, _, _ = exported
    changes = {"task": "intent", "oos_score": "energy", "oos_threshold": -1e9}
    intent = TextServingSpec(**{**spec.__dict__, **changes})
    export_dir = export_text_savedmodel(
        text_model.model, intent, tmp_path / "intent" / "1", "intent"
    )
    outputs = tf.saved_model.load(str(export_dir)).signatures["serving_default"](
        text=tf.constant(["hello"])
    )
    assert outputs["out_of_scope"].numpy().tolist() == [True] and "score" not in outputs
    np.testing.assert_array_equal(outputs["out_of_scope_score"], outputs["oos_energy"])
    assert {"oos_max_softmax", "oos_mahalanobis"} <= set(outputs)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"task": "topic"}, "Received: task='topic'"),
        ({"labels": ("a", "b")}, "Received: labels="),
        ({"sequence_length": 0}, "Received: sequence_length=0"),
        ({"tokens": ()}, "Received: tokens=()"),
    ],
)
def test_spec_validation(changes, message):
    values = {
        "task": "sentiment",
        "labels": ("negative", "neutral", "positive"),
        "sequence_length": 4,
        "tokens": ("a", "b"),
        **changes,
    }
    with pytest.raises(ValueError, match=message):
        TextServingSpec(**values)


def test_saved_model_cli_runs_the_text_signature(exported):
    _, _, export_dir, _ = exported
    ran = run_serving_default(export_dir, "text=['Profit up 5% at $AAPL', '']")
    assert ran.returncode == 0, ran.stderr[-2000:]
    assert "Result for output key label" in ran.stdout and "token_attention" in ran.stdout
    assert "Result for output key wide_contributions" in ran.stdout


def test_a_2d_or_scalar_text_is_a_clear_error_naming_text(exported):
    import tensorflow as tf

    _, _, _, loaded = exported
    for text, shape in ((tf.constant([["profit up"]]), r"\[1,1\]"), (tf.constant("up"), r"\[\]")):
        with pytest.raises(tf.errors.InvalidArgumentError, match=rf"tensor text {shape}.*\[\?\]"):
            loaded.signatures["serving_default"](text=text)


# Parity: the served SavedModel answers what `seqlens score` writes (same labels, probabilities
# within 1e-5), reloaded in a fresh Python process and asked through a REST `instances` body
# (tests/serving_rest.py), as an application calling TF Serving would.
ROOT = Path(__file__).resolve().parents[3]
FRESH_PROCESS = """
import json, sys
import tensorflow as tf
from tests.serving_rest import predict
texts = json.load(open(sys.argv[2]))
loaded = tf.saved_model.load(sys.argv[1])
response = predict(loaded, {"instances": texts})
json.dump(response["predictions"], open(sys.argv[3], "w"))
"""


def _texts(count: int) -> list[str]:
    rng = np.random.default_rng(4)
    words = sorted({word for pool in LABELS_TO_TEXTS.values() for t in pool for word in t.split()})
    texts = [" ".join(rng.choice(words, size=int(rng.integers(1, 14)))) for _ in range(count)]
    return texts + [
        "",
        "   ",
        "profit up " * 400,  # far longer than sequence_length
        "Прибыль выросла на 10%",
        "日本の株価が上昇。",
        "😀😀 🚀 $AAPL to the moon https://x.co/a @bob",
        "fell\u2028sharply\ttoday",
    ]


def test_rest_answers_of_a_fresh_process_match_seqlens_score(exported, tmp_path):
    from seqlens.cli import main

    text_model, _, export_dir, _ = exported
    texts = _texts(300)
    pd.DataFrame({"id": range(len(texts)), "text": texts}).to_parquet(tmp_path / "in.parquet")
    model_dir = str(text_model.model_dir)
    arguments = ["score", "--model", model_dir, "--input", str(tmp_path / "in.parquet")]
    assert main([*arguments, "--output", str(tmp_path / "scored.parquet")]) == 0
    scored = pd.read_parquet(tmp_path / "scored.parquet")
    (tmp_path / "texts.json").write_text(json.dumps(scored["text"].tolist()))
    ran = subprocess.run(
        [
            sys.executable,
            "-c",
            FRESH_PROCESS,
            str(export_dir),
            str(tmp_path / "texts.json"),
            str(tmp_path / "served.json"),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert ran.returncode == 0, ran.stderr[-2000:]
    served = json.loads((tmp_path / "served.json").read_text())
    assert len(served) == len(scored) == len(texts)
    assert [row["label"] for row in served] == scored["label"].tolist()
    np.testing.assert_allclose(
        np.array([row["probabilities"] for row in served]),
        np.stack(scored["probabilities"].to_numpy()),
        atol=1e-5,
    )
    np.testing.assert_allclose(
        [row["score"] for row in served], scored["score"].to_numpy(), atol=1e-5
    )
    for row, tokens, weights in zip(
        served, scored["tokens"], scored["wide_contributions"], strict=True
    ):
        assert row["tokens"][: len(tokens)] == list(tokens)
        np.testing.assert_allclose(row["wide_contributions"][: len(tokens)], weights, atol=1e-5)
    empty = served[len(texts) - 7]  # "": no tokens, the model's prior, a defined answer
    assert not any(empty["tokens"]) and abs(sum(empty["probabilities"]) - 1) < 1e-5
