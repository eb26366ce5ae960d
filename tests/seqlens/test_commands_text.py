import csv
import json

import numpy as np
import pandas as pd
import pytest

from seqlens.cli import main
from seqlens.synthetic.generator import GenerateConfig, generate

pytestmark = pytest.mark.keras_backend


@pytest.fixture(scope="module")
def news_csv(tmp_path_factory):
    folder = tmp_path_factory.mktemp("raw")
    config = GenerateConfig(
        num_users=20,
        num_items=20,
        num_days=12,
        num_tickers=4,
        num_chats=20,
        corrupt_fraction=0.0,
        seed=3,
    )
    return generate(folder, config)["news"]


def test_train_score_and_evaluate_sentiment(tmp_path, news_csv):
    model_dir = tmp_path / "sentiment"
    assert (
        main(
            [
                "train",
                "sentiment",
                "--input",
                str(news_csv),
                "--output",
                str(model_dir),
                "--epochs",
                "10",
                "--embedding-dim",
                "24",
                "--batch-size",
                "32",
            ]
        )
        == 0
    )
    metrics = json.loads((model_dir / "metrics.json").read_text())
    assert metrics["served_model"]["accuracy"] >= 0.8  # templates decide the label
    assert metrics["branches"] == "wide_and_deep" and metrics["wide_feature_count"] > 0
    scored_path = tmp_path / "scored.parquet"
    assert (
        main(
            [
                "score",
                "--model",
                str(model_dir),
                "--input",
                str(news_csv),
                "--output",
                str(scored_path),
            ]
        )
        == 0
    )
    scored = pd.read_parquet(scored_path)
    news = pd.read_csv(news_csv)
    assert len(scored) == len(news)
    assert {
        "id",
        "ticker",
        "true_label",
        "label",
        "confidence",
        "probabilities",
        "score",
        "out_of_scope",
        "tokens",
        "token_attention",
        "wide_contributions",
    } <= set(scored.columns)
    assert scored["score"].between(-1, 1).all() and not scored["out_of_scope"].any()
    assert np.mean(scored["label"] == scored["true_label"]) >= 0.8
    negative = scored[scored["label"] == "negative"]["score"]
    positive = scored[scored["label"] == "positive"]["score"]
    assert negative.mean() < 0 < positive.mean()
    assert (
        main(
            [
                "score",
                "--model",
                str(model_dir),
                "--input",
                str(news_csv),
                "--output",
                str(tmp_path / "scored.jsonl"),
            ]
        )
        == 0
    )
    assert main(["evaluate", "sentiment", "--model", str(model_dir), "--input", str(news_csv)]) == 0
    evaluation = json.loads((model_dir / "metrics.json").read_text())["evaluation"]
    assert evaluation["in_scope"]["accuracy"] >= 0.8


def test_input_errors_exit_with_code_2(tmp_path, news_csv, capsys):
    assert (
        main(
            [
                "train",
                "intent",
                "--input",
                str(tmp_path / "missing.csv"),
                "--output",
                str(tmp_path / "m"),
            ]
        )
        == 2
    )
    assert "Received: path=" in capsys.readouterr().err
    assert (
        main(
            [
                "score",
                "--model",
                str(tmp_path),
                "--input",
                str(news_csv),
                "--output",
                str(tmp_path / "scored.txt"),
            ]
        )
        == 2
    )
    assert "Received: output=" in capsys.readouterr().err


def test_train_with_masked_token_pretraining_on_a_stocknet_style_log(tmp_path, news_csv, capsys):
    import gzip

    tweets = tmp_path / "tweets.jsonl.gz"
    records = [{"text": f"$AAPL shares up {i} percent", "retweet": False} for i in range(30)]
    records += [
        {"text": "$AAPL shares up 0 percent", "retweet": False},  # a duplicate
        {"text": "RT shares up", "retweet": True},
        {"text": "  ", "retweet": False},
    ]
    with gzip.open(tweets, "wt", encoding="utf-8") as handle:
        handle.writelines(json.dumps(record) + "\n" for record in records)
    model_dir = tmp_path / "sentiment"
    assert (
        main(
            [
                "train",
                "sentiment",
                "--input",
                str(news_csv),
                "--output",
                str(model_dir),
                "--epochs",
                "2",
                "--embedding-dim",
                "16",
                "--pretraining-epochs",
                "1",
                "--unlabelled",
                str(tweets),
                "--branches",
                "deep",
            ]
        )
        == 0
    )
    metrics = json.loads((model_dir / "metrics.json").read_text())
    assert metrics["branches"] == "deep" and metrics["wide_feature_count"] == 0
    assert metrics["pretraining_text_count"] == metrics["train_count"] + 30
    assert json.loads((model_dir / "data_run.json").read_text())["unlabelled"] == [str(tweets)]
    assert (
        main(
            [
                "train",
                "sentiment",
                "--input",
                str(news_csv),
                "--output",
                str(tmp_path / "m"),
                "--unlabelled",
                str(tweets),
            ]
        )
        == 2
    )
    assert "Expected pretraining_epochs > 0" in capsys.readouterr().err


def test_score_csv_neutralises_formula_cells_and_parquet_keeps_the_raw_text(tmp_path, news_csv):
    model_dir = tmp_path / "sentiment"
    train = ["train", "sentiment", "--input", str(news_csv), "--output", str(model_dir)]
    assert main(train + ["--epochs", "1", "--embedding-dim", "8", "--batch-size", "64"]) == 0
    hostile = [
        '=HYPERLINK("http://evil.example", "profit")',
        "+1 shares beat estimates",
        "-0.5% drop after guidance cut",
        "@SUM(1+1) upgrade",
        "\t=cmd|' /C calc'!A0",
        "\r=1+1 loss",
        "plain text with = and - inside",
    ]
    news = pd.read_csv(news_csv).head(len(hostile)).assign(text=hostile)
    news.to_json(tmp_path / "hostile.jsonl", orient="records", lines=True)
    score = ["score", "--model", str(model_dir), "--input", str(tmp_path / "hostile.jsonl")]
    assert main(score + ["--output", str(tmp_path / "scored.csv")]) == 0
    assert main(score + ["--output", str(tmp_path / "scored.parquet")]) == 0

    with (tmp_path / "scored.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [row["text"] for row in rows] == ["'" + text for text in hostile[:6]] + [hostile[6]]
    written = pd.read_csv(tmp_path / "scored.csv", keep_default_na=False)
    assert written["text"].tolist() == ["'" + text for text in hostile[:6]] + [hostile[6]]
    parquet = pd.read_parquet(tmp_path / "scored.parquet")
    assert parquet["text"].tolist() == hostile  # Parquet keeps the raw text
    # numbers stay numbers: negative scores are written as -0.x, not '-0.x
    assert pd.api.types.is_float_dtype(written["score"]) and (written["score"] < 0).any()
    np.testing.assert_allclose(written["score"], parquet["score"], rtol=1e-6)
    assert all(not cell.startswith("'") for cell in written["probabilities"])


def test_neutralise_formula_cells_changes_only_string_cells():
    from seqlens.jobs.spreadsheet_safety import neutralise_formula_cells

    frame = pd.DataFrame(
        {
            "text": ["=1+1", "ok", None, "-x"],
            "score": [-0.5, 0.25, -1.0, 0.0],
            "count": [-1, 2, 3, 4],
            "label": pd.array(["+a", "b", None, "@c"], dtype="string"),
        }
    )
    safe = neutralise_formula_cells(frame)
    assert safe["text"].tolist()[::3] == ["'=1+1", "'-x"] and safe["text"][1] == "ok"
    assert safe["text"].isna().tolist() == [False, False, True, False]  # missing stays missing
    assert safe["label"].tolist()[::3] == ["'+a", "'@c"] and safe["label"].isna().sum() == 1
    assert safe["score"].tolist() == [-0.5, 0.25, -1.0, 0.0] and safe["count"].tolist()[0] == -1
    assert list(safe.dtypes) == list(frame.dtypes)
    assert frame["text"].tolist()[0] == "=1+1"  # the input frame is not changed
