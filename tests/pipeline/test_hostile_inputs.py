"""Hostile inputs: each one either stops the run with a one-line error before anything is
written, or loses no row (it is dead-lettered with a reason and its original raw line).

`REJECTED` lists inputs the pipeline refuses (exit code 2 from the CLI, previous output intact);
`DEAD_LETTERED` lists rows that must land in `dead_letter/` with the given reason and raw line.
"""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from pipeline import sources
from pipeline.event_transforms import EventsConfig
from pipeline.events import run_events_pipeline
from pipeline.texts import run_news_pipeline
from pipeline.timestamps import TimestampRange

PLAUSIBLE = TimestampRange(631_152_000, 2_000_000_000)
CONFIG = EventsConfig(plausible=PLAUSIBLE, num_buckets=2)


def _events_csv(rows: int = 3000) -> bytes:
    lines = ["user_id,item_id,timestamp"]
    lines += [f"u{i % 30},i{i % 50},{1_600_000_000 + i}" for i in range(rows)]
    return ("\n".join(lines) + "\n").encode()


def _news_csv(rows: int = 3000) -> bytes:
    lines = ["id,timestamp,ticker,text"]
    lines += [f"n{i},{1_600_000_000 + i},AAPL,shares rise {i}" for i in range(rows)]
    return ("\n".join(lines) + "\n").encode()


def _gzip_truncated(data: bytes) -> bytes:
    compressed = gzip.compress(data)
    return compressed[: len(compressed) // 2]


def _gzip_corrupt(data: bytes) -> bytes:
    compressed = bytearray(gzip.compress(data))
    for index in range(200, 260):
        compressed[index] ^= 0xFF
    return bytes(compressed)


# (case, kind, file name, content, expected fragment of the one-line error)
REJECTED = [
    (
        "duplicate_column",
        "events",
        "dup.csv",
        b"user_id,item_id,timestamp,user_id,value\n"
        + b"".join(f"u{i},i{i},{1_600_000_000 + i},view,1\n".encode() for i in range(100)),
        "column 'user_id' appears 2 times",
    ),
    (
        "duplicate_text_column",
        "news",
        "dup.csv",
        b"id,timestamp,ticker,text,text\nn1,1600000000,AAPL,up,down\n",
        "column 'text' appears 2 times",
    ),
    (
        "truncated_gzip",
        "events",
        "log.csv.gz",
        _gzip_truncated(_events_csv()),
        "ends early: truncated",
    ),
    (
        "truncated_gzip_news",
        "news",
        "log.csv.gz",
        _gzip_truncated(_news_csv()),
        "ends early: truncated",
    ),
    ("not_gzip", "events", "log.csv.gz", _events_csv(), "Not a gzipped file"),
    ("corrupt_gzip", "events", "log.csv.gz", _gzip_corrupt(_events_csv()), "not a valid gzip"),
    (
        "corrupt_gzip_news",
        "news",
        "log.csv.gz",
        _gzip_corrupt(_news_csv()),
        "not a valid gzip",
    ),
]


def _run(kind: str, path: Path, output: Path) -> dict:
    if kind == "events":
        return run_events_pipeline(path, output, config=CONFIG)
    return run_news_pipeline(path, output, plausible=PLAUSIBLE)


def _previous_output(kind: str, tmp_path: Path) -> tuple[Path, dict]:
    good = tmp_path / ("good.csv" if kind == "events" else "good_news.csv")
    good.write_bytes(_events_csv(50) if kind == "events" else _news_csv(50))
    output = tmp_path / "out"
    stats = _run(kind, good, output)
    return output, stats


@pytest.mark.parametrize(
    "case, kind, name, content, expected", REJECTED, ids=[case[0] for case in REJECTED]
)
def test_rejected_inputs_raise_before_anything_is_replaced(
    tmp_path, case, kind, name, content, expected
):
    output, stats = _previous_output(kind, tmp_path)
    before = sorted(str(path.relative_to(output)) for path in output.rglob("*"))
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(ValueError, match="Received: ") as raised:
        _run(kind, path, output)
    assert expected in str(raised.value) and "\n" not in str(raised.value)
    assert str(path) in str(raised.value)
    assert json.loads((output / "stats.json").read_text()) == stats
    assert sorted(str(path.relative_to(output)) for path in output.rglob("*")) == before
    assert [entry.name for entry in tmp_path.iterdir() if ".staging-" in entry.name] == []


def test_truncated_gzip_met_by_a_worker_is_the_same_error(tmp_path, monkeypatch):
    # Remote inputs are not read through before the run: the worker notices the bad stream.
    output, stats = _previous_output("events", tmp_path)
    monkeypatch.setattr(sources, "check_compressed_inputs", lambda paths: None)
    path = tmp_path / "log.csv.gz"
    path.write_bytes(_gzip_truncated(_events_csv()))
    with pytest.raises(sources.CorruptInputError, match="truncated") as raised:
        run_events_pipeline(path, output, config=CONFIG)
    assert "\n" not in str(raised.value) and str(raised.value).endswith(f"input={str(path)!r}")
    assert json.loads((output / "stats.json").read_text()) == stats


def test_corrupt_input_error_is_found_inside_a_wrapped_error():
    error = sources.CorruptInputError("/data/x.gz", "the gzip stream ends early: truncated")
    wrapped = RuntimeError(f"Traceback ...\nValueError: {error} [while running 'ParseChunks']")
    found = sources.corrupt_input_error(wrapped)
    assert found is not None and found.path == "/data/x.gz" and str(found) == str(error)
    assert sources.corrupt_input_error(RuntimeError("other")) is None


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    environment = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    return subprocess.run(
        [sys.executable, "-m", "seqlens.cli", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=environment,
        timeout=600,
    )


@pytest.mark.parametrize("case", ["duplicate_column", "truncated_gzip", "not_gzip"])
def test_cli_prints_one_line_and_exits_2(tmp_path, case):
    _, kind, name, content, expected = next(row for row in REJECTED if row[0] == case)
    path = tmp_path / name
    path.write_bytes(content)
    result = _cli("pipeline", kind, "--input", str(path), "--output", "out", cwd=tmp_path)
    assert result.returncode == 2
    # no Beam warnings (apitools, bigquery) before the error: it is the only line on stderr
    assert result.stderr.count("\n") == 1, result.stderr
    assert result.stderr.startswith("seqlens pipeline: error: ") and expected in result.stderr
    assert not (tmp_path / "out").exists()


LONG_TEXT = "x" * 131_073  # one character over Python csv's field limit
GOOD_EVENTS = [
    f'{{"user_id": "u{i}", "item_id": "i{i}", "timestamp": 1600000000}}' for i in range(3)
]

# (case, kind, format, file name, lines (header first for csv), hostile line, expected reason)
DEAD_LETTERED = [
    (
        "long_text_field",
        "news",
        "csv",
        "long.csv",
        ["id,timestamp,ticker,text", "n1,1600000000,AAPL,fine"],
        f"n2,1600000001,AAPL,{LONG_TEXT}",
        "field_too_long",
    ),
    (
        "long_quoted_event_field",
        "events",
        "csv",
        "long.csv",
        ["user_id,item_id,timestamp,value", "u1,i1,1600000000,1"],
        f'u2,i2,1600000001,"{LONG_TEXT}"',
        "field_too_long",
    ),
    (
        "reserved_oov_item",
        "events",
        "csv",
        "log.csv",
        ["user_id,item_id,timestamp", "u1,i1,1600000000"],
        "u1,[seqlens:oov],1600000001",
        "reserved_id",
    ),
    (
        "reserved_padding_item",
        "events",
        "jsonl",
        "log.jsonl",
        GOOD_EVENTS,
        '{"user_id": "u1", "item_id": "[seqlens:padding]", "timestamp": 1600000001}',
        "reserved_id",
    ),
    (
        "nul_in_user_id",
        "events",
        "csv",
        "log.csv",
        ["user_id,item_id,timestamp", "u1,i1,1600000000"],
        "u1\x00x,i1,1600000001",
        "invalid_id",
    ),
    (
        "nul_in_json_item_id",
        "events",
        "jsonl",
        "log.jsonl",
        GOOD_EVENTS,
        '{"user_id": "u1", "item_id": "i\\u0000x", "timestamp": 1600000001}',
        "invalid_id",
    ),
    (
        "object_user_id",
        "events",
        "jsonl",
        "log.jsonl",
        GOOD_EVENTS,
        '{"user_id": {"a": 1}, "item_id": "i1", "timestamp": 1600000001}',
        "invalid_id",
    ),
    (
        "boolean_item_id",
        "events",
        "jsonl",
        "log.jsonl",
        GOOD_EVENTS,
        '{"user_id": "u1", "item_id": true, "timestamp": 1600000001}',
        "invalid_id",
    ),
    (
        "list_item_id",
        "events",
        "jsonl",
        "log.jsonl",
        GOOD_EVENTS,
        '{"user_id": "u1", "item_id": ["i1"], "timestamp": 1600000001}',
        "invalid_id",
    ),
    (
        "nul_in_news_id",
        "news",
        "csv",
        "news.csv",
        ["id,timestamp,ticker,text", "n1,1600000000,AAPL,fine"],
        "n\x002,1600000001,AAPL,also fine",
        "invalid_id",
    ),
    (
        "object_news_ticker",
        "news",
        "jsonl",
        "news.jsonl",
        ['{"id": "n1", "timestamp": 1600000000, "ticker": "AAPL", "text": "fine"}'],
        '{"id": "n2", "timestamp": 1600000001, "ticker": {"x": 1}, "text": "fine too"}',
        "invalid_id",
    ),
]


@pytest.mark.parametrize(
    "case, kind, input_format, name, lines, hostile, reason",
    DEAD_LETTERED,
    ids=[case[0] for case in DEAD_LETTERED],
)
def test_hostile_rows_are_dead_lettered_with_their_original_line(
    tmp_path, case, kind, input_format, name, lines, hostile, reason
):
    path = tmp_path / name
    path.write_text("\n".join([*lines, hostile]) + "\n", encoding="utf-8")
    output = tmp_path / "out"
    if kind == "events":
        stats = run_events_pipeline(path, output, input_format=input_format, config=CONFIG)
    else:
        stats = run_news_pipeline(path, output, input_format=input_format, plausible=PLAUSIBLE)
    dead = pd.read_parquet(output / "dead_letter")
    assert stats["balanced"] and stats["rows_in"] == stats["rows_out"] + stats["rows_dead"]
    assert dead["reason"].tolist() == [reason], dead
    assert dead["raw"].tolist() == [hostile]  # the original line, never a parser message
    assert dead["line_number"].tolist() == [len(lines) + 1]
    assert stats["rows_out"] == len(lines) - (input_format == "csv")
    if kind == "events":
        items = pd.read_parquet(output / "sequences")["item_ids"].explode().tolist()
        users = pd.read_parquet(output / "sequences")["user_id"].tolist()
        assert not any("\x00" in value or value.startswith("[seqlens:") for value in items + users)


def test_reserved_ids_are_the_ones_the_models_reserve():
    # The pipeline may not import the models; this test holds the two definitions together.
    from types import SimpleNamespace

    from models.recommender.sequence_data import OOV_INDEX, PADDING_INDEX
    from models.serving.recommender_candidate import recommender_spec
    from pipeline import ids

    spec = recommender_spec(SimpleNamespace(item_ids=("a", "b"), max_length=4))
    assert spec.item_vocabulary[PADDING_INDEX] == ids.PADDING_ITEM_ID
    assert spec.item_vocabulary[OOV_INDEX] == ids.OOV_ITEM_ID
    reserved = spec.item_vocabulary[: len(spec.item_vocabulary) - 2]
    assert all(item.startswith(ids.RESERVED_ID_PREFIX) for item in reserved)
