"""The served SavedModel answers what `seqlens score` writes: same labels, same probabilities.

The SavedModel is reloaded in a fresh Python process and asked through a REST `instances` body
(tests/serving_rest.py), as an application calling TF Serving would.
"""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from tests.models.serving.test_text_signature import LABELS_TO_TEXTS, exported  # noqa: F401

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


def test_rest_answers_of_a_fresh_process_match_seqlens_score(exported, tmp_path):  # noqa: F811
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
