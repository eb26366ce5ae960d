import gzip
import json

import pytest

from pipeline import dead_letter, sources
from pipeline.text_formats import TextColumns, read_text_chunk, resolve_text_format


def _rows(path, spec):
    chunk = sources.Chunk(str(path), 0, 0, -1, 1, True)
    blocks = list(read_text_chunk(chunk, spec))
    rows = [row for block in blocks for row in block.rows.to_pylist()]
    dead = [row for block in blocks for row in block.dead_letters.to_pylist()]
    return rows, dead, sum(block.rows_in for block in blocks)


def test_csv_with_multiline_quotes_extras_and_bad_rows(tmp_path):
    path = tmp_path / "news.csv"
    path.write_bytes(
        b'id,timestamp,ticker,text,label\n1,5,AAPL,"line one\nline two",positive\n'
        b'2,6,MSFT,short\n3,7,KO,"caf\xe9",neutral\n4,8,KO,ok,neutral\n'
    )
    spec = resolve_text_format("csv", [str(path)], TextColumns.news())
    assert spec.extras == ("label",)
    rows, dead, rows_in = _rows(path, spec)
    assert [(row["id"], row["line_number"]) for row in rows] == [("1", 2), ("4", 6)]
    assert rows[0]["text"] == "line one\nline two" and rows[0]["label"] == "positive"
    assert [(row["reason"], row["line_number"]) for row in dead] == [
        (dead_letter.WRONG_COLUMN_COUNT, 4),
        (dead_letter.INVALID_UTF8, 5),
    ]
    assert rows_in == 4


def test_stocknet_style_jsonl_gzip_with_column_mapping(tmp_path):
    path = tmp_path / "tweets.jsonl.gz"
    record = {
        "id": "9",
        "created_at": "2014-01-01T03:59:03+00:00",
        "ticker": "AAPL",
        "text": "$AAPL up",
        "user_id": "77",
        "lang": "en",
        "retweet": True,
        "followers": 2,
    }
    with gzip.open(path, "wt") as handle:
        handle.write(json.dumps(record) + "\n")
    columns = TextColumns.news(timestamp_column="created_at", author_column="user_id")
    spec = resolve_text_format("jsonl", [str(path)], columns)
    assert spec.extras == ("lang", "retweet", "followers")
    chunk = sources.plan_chunks(str(path), 0, False)[0]
    row = next(read_text_chunk(chunk, spec)).rows.to_pylist()[0]
    assert (row["author"], row["retweet"], row["followers"]) == ("77", "true", "2")


def test_missing_required_column_names_the_option(tmp_path):
    path = tmp_path / "chats.csv"
    path.write_text("conversation_id,timestamp,message\n")
    with pytest.raises(ValueError, match="--text-column.*Received: text_column='text'"):
        resolve_text_format("csv", [str(path)], TextColumns.chats())
    with pytest.raises(ValueError, match="Received: format='xml'"):
        resolve_text_format("xml", [str(path)], TextColumns.chats())
