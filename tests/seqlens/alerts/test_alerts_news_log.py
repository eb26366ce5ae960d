"""Reading news logs in the accepted formats."""

import gzip
import json

import pandas as pd
import pytest

from seqlens.alerts.news_log import parse_timestamps, read_news


def test_csv_log_with_bad_rows(tmp_path):
    path = tmp_path / "news.csv"
    path.write_text(
        "id,timestamp,ticker,text,source,author,label\n"
        "n2,1704070800,acme,Acme beats estimates,wire,a1,positive\n"
        "n1,1704067200,$BOLT,Bolt cuts guidance,wire,a2,negative\n"
        "n3,not-a-time,ACME,text,wire,a3,neutral\n"
        ",1704067200,ACME,no id,wire,a3,neutral\n"
        "n5,1704067200,ACME,,wire,a3,neutral\n"
    )
    rows, dead = read_news(path)
    assert list(rows["id"]) == ["n1", "n2"]
    assert list(rows["ticker"]) == ["BOLT", "ACME"]
    assert rows["timestamp"].dtype == "int64"
    assert list(rows["given_label"]) == ["negative", "positive"]
    assert not rows["retweet"].any()
    assert sorted(dead["reason"]) == ["bad_timestamp", "empty_text", "missing_id"]


def test_stocknet_style_jsonl_gz(tmp_path):
    path = tmp_path / "tweets.jsonl.gz"
    records = [
        {
            "id": "1",
            "created_at": "2014-01-01T03:59:03+00:00",
            "ticker": "AAPL",
            "text": "RT @x: $AAPL up",
            "user_id": "u1",
            "lang": "en",
            "retweet": True,
            "followers": 2,
        },
        {
            "id": "2",
            "created_at": "2014-01-02T00:00:00+00:00",
            "ticker": "AAPL",
            "text": "iTV will boost Apple",
            "user_id": "u2",
            "lang": "en",
            "retweet": False,
            "followers": 48108,
        },
    ]
    with gzip.open(path, "wt") as handle:
        handle.writelines(json.dumps(record) + "\n" for record in records)
    rows, dead = read_news(path)
    assert list(rows["timestamp"]) == [1388548743, 1388620800]
    assert list(rows["retweet"]) == [True, False]
    assert list(rows["author"]) == ["u1", "u2"]
    assert rows["followers"].tolist() == [2.0, 48108.0]
    assert dead.empty


def test_pipeline_texts_folder(tmp_path):
    folder = tmp_path / "news" / "texts"
    folder.mkdir(parents=True)
    pd.DataFrame(
        {
            "id": ["a"],
            "timestamp": [1704067200],
            "ticker": ["ACME"],
            "text": ["x"],
            "tokens": [["x"]],
            "source": ["wire"],
            "author": ["a1"],
            "retweet": ["true"],
            "followers": ["12"],
        }
    ).to_parquet(folder / "part-0.parquet")
    rows, _ = read_news(tmp_path / "news")
    assert rows["retweet"].tolist() == [True] and rows["followers"].tolist() == [12.0]


def test_parse_timestamps_mixed_and_out_of_range():
    values = pd.Series(["1704067200", "2024-01-01T00:00:00Z", "99999999999", "nope"])
    parsed = parse_timestamps(values)
    assert parsed.iloc[0] == parsed.iloc[1] == 1704067200
    assert parsed.iloc[2:].isna().all()


def test_missing_file_and_bad_format(tmp_path):
    with pytest.raises(FileNotFoundError, match="Received: news="):
        read_news(tmp_path / "nope.csv")
    path = tmp_path / "news.txt"
    path.write_text("x")
    with pytest.raises(ValueError, match="Received: news="):
        read_news(path)
    path = tmp_path / "news.csv"
    path.write_text("id,ticker,text\n1,A,x\n")
    with pytest.raises(ValueError, match="'timestamp'.*Received: columns="):
        read_news(path)
