import gzip
import json

import pandas as pd
import pytest

from models.text.datasets import (
    read_banking77,
    read_phrasebank,
    read_stocknet_texts,
    read_text_table,
    read_twitter_financial_news,
)


def test_phrasebank_latin1_and_last_at_sign(tmp_path):
    path = tmp_path / "Sentences_AllAgree.txt"
    path.write_bytes(
        "Profit rose @ 5 % in Espoo \xe9@positive\nSales fell .@negative\n".encode("latin-1")
    )
    table = read_phrasebank(path)
    assert table["label"].tolist() == ["positive", "negative"]
    assert table["text"][0].endswith("Espoo \xe9")
    path.write_text("no label here\n", encoding="latin-1")
    with pytest.raises(ValueError, match="Received: line='no label here'"):
        read_phrasebank(path)


def test_twitter_and_banking77(tmp_path):
    twitter = tmp_path / "sent_train.csv"
    twitter.write_text('text,label\n"$X up,\nbig",1\n$Y down,0\n$Z flat,2\n')
    assert read_twitter_financial_news(twitter)["label"].tolist() == [
        "positive",
        "negative",
        "neutral",
    ]
    banking = tmp_path / "train.csv"
    banking.write_text("text,category\nwhere is my card,card_arrival\n")
    assert read_banking77(banking)["label"].tolist() == ["card_arrival"]


def test_generic_reader_handles_csv_jsonl_and_parquet_folders(tmp_path):
    pd.DataFrame(
        {"conversation_id": ["c1", "c2"], "text": ["hi", None], "intent": ["greet", None]}
    ).to_parquet(tmp_path / "part-0.parquet")
    (tmp_path / "run" / "texts").mkdir(parents=True)
    pd.read_parquet(tmp_path / "part-0.parquet").to_parquet(
        tmp_path / "run" / "texts" / "a.parquet"
    )
    table = read_text_table(tmp_path / "run")
    assert table["text"].tolist() == ["hi", ""] and table["label"].tolist() == ["greet", ""]
    assert len(read_text_table(tmp_path / "run", require_labels=True)) == 1
    jsonl = tmp_path / "news.jsonl.gz"
    with gzip.open(jsonl, "wt") as handle:
        handle.write(json.dumps({"message": "up", "label": "positive"}) + "\n")
    assert read_text_table(jsonl, text_column="message")["text"].tolist() == ["up"]
    with pytest.raises(ValueError, match="Received: text_column='body'"):
        read_text_table(jsonl, text_column="body")
    with pytest.raises(ValueError, match="Received: label_column='tag'"):
        read_text_table(jsonl, text_column="message", label_column="tag")
    with pytest.raises(FileNotFoundError, match="Received: path="):
        read_text_table(tmp_path / "missing.csv")
    (tmp_path / "table.xlsx").write_text("x")
    with pytest.raises(ValueError, match="Received: path="):
        read_text_table(tmp_path / "table.xlsx")


def test_stocknet_texts_drop_retweets_and_duplicates(tmp_path):
    path = tmp_path / "tweets.jsonl.gz"
    rows = [
        {"text": "a", "retweet": False},
        {"text": "a", "retweet": False},
        {"text": "b", "retweet": True},
        {"text": "c", "retweet": False},
    ]
    with gzip.open(path, "wt") as handle:
        handle.writelines(json.dumps(row) + "\n" for row in rows)
    assert read_stocknet_texts(path) == ["a", "c"]
    assert len(read_stocknet_texts(path, limit=1)) == 1
