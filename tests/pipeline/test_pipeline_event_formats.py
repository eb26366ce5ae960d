import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from pipeline import sources
from pipeline.event_formats import EventColumns, read_event_chunk, resolve_event_format


def _read_all(path, spec):
    chunks = sources.plan_chunks(path, 0, spec.has_header) if spec.kind != "parquet" else None
    if chunks is None:
        from pipeline.event_formats import plan_parquet_chunks

        chunks = plan_parquet_chunks(path, 0)
    return [
        row
        for chunk in chunks
        for block in read_event_chunk(chunk, spec)
        for row in block.rows.to_pylist()
    ]


def test_movielens_csv_crlf_and_u_data(tmp_path):
    ratings = tmp_path / "ratings.csv"
    ratings.write_bytes(b"userId,movieId,rating,timestamp\r\n1,31,2.5,1260759144\r\n")
    spec = resolve_event_format("movielens", [str(ratings)], EventColumns())
    assert _read_all(str(ratings), spec)[0] == {
        "user_id": "1",
        "item_id": "31",
        "timestamp": "1260759144",
        "event_type": None,
        "value": "2.5",
        "line_number": 2,
    }
    udata = tmp_path / "u.data"
    udata.write_text("196\t242\t3\t881250949\n")
    spec = resolve_event_format("movielens", [str(udata)], EventColumns())
    assert _read_all(str(udata), spec)[0]["timestamp"] == "881250949"
    dat = tmp_path / "ratings.dat"
    dat.write_text("1::1193::5::978300760\n")
    spec = resolve_event_format("movielens", [str(dat)], EventColumns())
    row = _read_all(str(dat), spec)[0]
    assert (row["user_id"], row["item_id"], row["value"], row["timestamp"]) == (
        "1",
        "1193",
        "5",
        "978300760",
    )


def test_sasrec_uses_line_position_as_time(tmp_path):
    path = tmp_path / "Games.txt"
    path.write_text("1 10\n1 11\n2 10\n")
    spec = resolve_event_format("sasrec", [str(path)], EventColumns())
    assert spec.position_as_time
    assert [row["timestamp"] for row in _read_all(str(path), spec)] == [1, 2, 3]


def test_column_mapping_for_csv_jsonl_parquet(tmp_path):
    columns = EventColumns("who", "what", "when", None, None)
    csv_path = tmp_path / "log.csv"
    csv_path.write_text("when,what,who\n5,i,u\n")
    jsonl_path = tmp_path / "log.jsonl"
    jsonl_path.write_text(json.dumps({"who": "u", "what": "i", "when": 5}) + "\n")
    parquet_path = tmp_path / "log.parquet"
    pq.write_table(pa.table({"who": ["u"], "what": ["i"], "when": [5]}), parquet_path)
    for input_format, path in (("csv", csv_path), ("jsonl", jsonl_path), ("parquet", parquet_path)):
        spec = resolve_event_format(input_format, [str(path)], columns)
        row = _read_all(str(path), spec)[0]
        assert (row["user_id"], row["item_id"], row["timestamp"]) == ("u", "i", "5"), input_format


def test_errors_name_the_option(tmp_path):
    path = tmp_path / "log.csv"
    path.write_text("a,b\n")
    with pytest.raises(ValueError, match="Received: user_column='user_id'"):
        resolve_event_format("csv", [str(path)], EventColumns())
    with pytest.raises(ValueError, match="Received: format='xml'"):
        resolve_event_format("xml", [str(path)], EventColumns())
    with pytest.raises(ValueError, match="Received: first line="):
        resolve_event_format("movielens", [str(path)], EventColumns())
