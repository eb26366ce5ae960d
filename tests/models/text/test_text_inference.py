import numpy as np
import pytest

from models.text.inference import load_text_model
from tests.text_model_fixtures import trained_planted_model

pytestmark = pytest.mark.keras_backend

AWKWARD_TEXTS = [
    "",
    "   ",
    "invoice " + "filler " * 2_000,
    "Прибыль выросла на 10%! password",
    "日本の株価が上昇。",
    "😀😀 🚀 $AAPL to the moon https://x.co/a @bob",
    "\x00\x0b control \u2028 separators",
]


def test_predict_never_crashes_on_awkward_texts():
    model = load_text_model(trained_planted_model())
    frame = model.predict(AWKWARD_TEXTS)
    assert len(frame) == len(AWKWARD_TEXTS)
    assert list(frame.columns) == [
        "label",
        "confidence",
        "probabilities",
        "score",
        "out_of_scope",
        "out_of_scope_score",
        "tokens",
        "token_attention",
        "wide_contributions",
    ]
    assert set(frame["label"]) <= set(model.labels)
    for probabilities, tokens, weights in zip(
        frame["probabilities"], frame["tokens"], frame["token_attention"], strict=False
    ):
        assert np.isfinite(probabilities).all() and abs(sum(probabilities) - 1) < 1e-4
        assert len(tokens) == len(weights)
        assert np.isfinite(weights).all()
    for tokens, contributions in zip(frame["tokens"], frame["wide_contributions"], strict=True):
        assert len(tokens) == len(contributions) and np.isfinite(contributions).all()
    assert frame.loc[0, "tokens"] == [] and frame.loc[0, "token_attention"] == []
    assert np.isfinite(frame["out_of_scope_score"]).all()
    long_row = frame.loc[2]
    assert len(long_row["tokens"]) == 2_001
    assert long_row["label"] == "billing"  # the keyword is within the first tokens
    assert frame["score"].isna().all()  # intent models have no sentiment score
    assert model.predict([]).empty


def test_predict_rejects_a_single_string():
    model = load_text_model(trained_planted_model())
    with pytest.raises(ValueError, match="Received: texts='invoice'"):
        model.predict("invoice")


def test_missing_folder_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="Received: model_dir="):
        load_text_model(tmp_path / "nothing")
