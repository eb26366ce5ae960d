"""The news and chats pipelines end to end."""

import gzip
import json

import pandas as pd
import pytest

from pipeline.text_formats import TextColumns
from pipeline.text_normalization import tokenize
from pipeline.texts import run_chats_pipeline, run_news_pipeline, run_text_pipeline
from pipeline.timestamps import TimestampRange
from seqlens.synthetic.generator import GenerateConfig, generate

PLAUSIBLE = TimestampRange(631_152_000, 2_000_000_000)


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    config = GenerateConfig(
        num_users=5,
        num_items=20,
        num_days=4,
        num_tickers=3,
        num_chats=150,
        corrupt_fraction=0.04,
        seed=5,
    )
    return generate(tmp_path_factory.mktemp("raw"), config)


def _check(output, stats):
    texts = pd.read_parquet(output / "texts")
    dead = pd.read_parquet(output / "dead_letter")
    assert stats["rows_in"] == stats["rows_out"] + stats["rows_dead"] == len(texts) + len(dead)
    assert dead["reason"].value_counts().to_dict() == stats["dead_by_reason"]
    for text, tokens in zip(texts["text"], texts["tokens"], strict=True):
        assert list(tokens) == tokenize(text)
    vocabulary = pd.read_parquet(output / "vocab" / "tokens.parquet")
    assert int(vocabulary["count"].sum()) == int(texts["tokens"].map(len).sum())
    return texts, dead


def test_news_from_generated_csv(generated, tmp_path):
    stats = run_news_pipeline(generated["news"], tmp_path / "news", plausible=PLAUSIBLE)
    texts, dead = _check(tmp_path / "news", stats)
    assert list(texts.columns) == [
        "id",
        "timestamp",
        "ticker",
        "text",
        "tokens",
        "source",
        "author",
        "label",
    ]
    assert texts["timestamp"].dtype == "int64" and stats["rows_dead"] > 0
    assert (texts["id"].str.len() > 0).all()


def test_news_with_empty_id_or_ticker_is_dead_lettered(tmp_path):
    path = tmp_path / "news.csv"
    path.write_text(
        "id,timestamp,ticker,text\n,1700000000,AAPL,up\nn2,1700000000,,down\n"
        "n3,1700000000,KO,flat\n"
    )
    stats = run_news_pipeline(path, tmp_path / "news", plausible=PLAUSIBLE)
    texts, _ = _check(tmp_path / "news", stats)
    assert stats["dead_by_reason"] == {"empty_id": 1, "missing_field": 1}
    assert texts["id"].tolist() == ["n3"] and texts["source"].isna().all()


def test_chats_from_generated_csv(generated, tmp_path):
    stats = run_chats_pipeline(generated["chats"], tmp_path / "chats", plausible=PLAUSIBLE)
    texts, _ = _check(tmp_path / "chats", stats)
    assert list(texts.columns) == ["conversation_id", "timestamp", "text", "tokens", "intent"]


def test_news_from_stocknet_style_jsonl_gzip(tmp_path):
    path = tmp_path / "tweets.jsonl.gz"
    records = [
        {
            "id": str(index),
            "created_at": f"2014-01-0{1 + index % 3}T03:59:03+00:00",
            "ticker": "AAPL" if index % 2 else "GOOG",
            "text": f"$AAPL up {index}%",
            "user_id": "7",
            "lang": "en",
            "retweet": False,
            "followers": index,
        }
        for index in range(20)
    ]
    with gzip.open(path, "wt") as handle:
        handle.write(
            "\n".join(json.dumps(record) for record in records + records[:2]) + "\nnot json\n"
        )
    columns = TextColumns.news(timestamp_column="created_at", author_column="user_id")
    stats = run_news_pipeline(path, tmp_path / "news", input_format="jsonl", columns=columns)
    texts, _ = _check(tmp_path / "news", stats)
    assert stats["dead_by_reason"] == {"duplicate": 2, "malformed_record": 1}
    assert texts["author"].unique().tolist() == ["7"] and texts["source"].isna().all()
    assert texts["timestamp"].min() == 1388548743


def test_arguments_are_validated(tmp_path):
    with pytest.raises(ValueError, match="Received: kind='tweets'"):
        run_text_pipeline("tweets", tmp_path, tmp_path)
    with pytest.raises(ValueError, match="Received: columns.kind='chats'"):
        run_news_pipeline(tmp_path, tmp_path, columns=TextColumns.chats())
    with pytest.raises(ValueError, match="Received: num_buckets=0"):
        run_news_pipeline(tmp_path, tmp_path, num_buckets=0)
