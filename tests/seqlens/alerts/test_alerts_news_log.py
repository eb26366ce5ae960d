"""Reading news logs in the accepted formats."""

import gzip
import json

import pandas as pd
import pytest

from pipeline.timestamps import DEFAULT_MIN_TIMESTAMP
from seqlens.alerts.news_log import LATEST_NEWS_TIMESTAMP, parse_timestamps, read_news


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
    # the pipeline's reasons (were bad_timestamp, empty_text, missing_id)
    assert sorted(dead["reason"]) == ["empty_id", "empty_text", "unparsable_timestamp"]
    # the pipeline's dead-letter columns, + the text's id
    assert list(dead.columns) == ["reason", "source", "line_number", "raw", "id"]
    dead = dead.sort_values("line_number")
    assert dead["line_number"].tolist() == [4, 5, 6] and (dead["source"] == str(path)).all()
    assert dead["id"].tolist() == ["n3", "", "n5"]
    assert dead["raw"].iloc[0] == "n3,not-a-time,ACME,text,wire,a3,neutral"


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


def test_timestamps_are_the_pipelines_with_its_reasons(tmp_path):
    path = tmp_path / "news.jsonl"
    records = [
        {"id": "a", "timestamp": DEFAULT_MIN_TIMESTAMP, "ticker": "A", "text": "first"},
        {"id": "b", "timestamp": "1704067200.9", "ticker": "A", "text": "decimal"},
        {"id": "c", "timestamp": LATEST_NEWS_TIMESTAMP, "ticker": "A", "text": "last"},
        {"id": "d", "timestamp": DEFAULT_MIN_TIMESTAMP - 1, "ticker": "A", "text": "1989"},
        {"id": "e", "timestamp": LATEST_NEWS_TIMESTAMP + 1, "ticker": "A", "text": "2100"},
        {"id": "f", "timestamp": None, "ticker": "A", "text": "no time"},
        {"id": "g", "timestamp": "soon", "ticker": "A", "text": "bad time"},
        {"id": "h", "timestamp": 1704067200, "ticker": " ", "text": "no ticker"},
    ]
    path.write_text("".join(json.dumps(record) + "\n" for record in records))
    rows, dead = read_news(path)
    assert rows["id"].tolist() == ["a", "b", "c"]
    assert rows["timestamp"].tolist() == [DEFAULT_MIN_TIMESTAMP, 1704067200, LATEST_NEWS_TIMESTAMP]
    assert dict(zip(dead["id"], dead["reason"], strict=True)) == {
        "d": "absurd_timestamp",
        "e": "absurd_timestamp",
        "f": "missing_field",
        "g": "unparsable_timestamp",
        "h": "missing_field",
    }
    assert dead["line_number"].tolist() == [4, 5, 6, 7, 8]


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
