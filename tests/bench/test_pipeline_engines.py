"""bench/pipeline_engines.py: DuckDB, Polars and vectorised pandas do the events pipeline's job.

On a small generated log with malformed rows and duplicates, each engine's outputs must equal
the Beam pipeline's row for row (sequences, dead letters with reasons and line numbers, the
vocabulary and its order) and its `stats.json` counts -- or the benchmark compares different jobs.
"""

import importlib
import json

import pyarrow.parquet as pq
import pytest

from bench import pipeline_baseline, pipeline_engines
from pipeline.events import run_events_pipeline

COLUMNS = {
    "sequences": ["user_id", "item_ids", "timestamps", "event_types"]
    + ["valid_position", "test_position"],
    "dead_letter": ["reason", "source", "line_number", "raw"],
}


@pytest.fixture(scope="module")
def log_and_beam(tmp_path_factory):
    root = tmp_path_factory.mktemp("engines")
    path = root / "events.csv"
    # two blocks: the second appended without a header, its users distinct
    planted = pipeline_baseline.generate_event_csv_in_blocks(
        path, 4_000, block_events=2_500, corrupt_fraction=0.02
    )
    assert planted["blocks"] == 2 and planted["corrupt_rows"] > 0
    stats = run_events_pipeline(path, root / "beam")
    return path, root / "beam", stats


def _rows(folder, columns):
    table = pq.read_table(folder).select(columns)
    return sorted(json.dumps(row, sort_keys=True) for row in table.to_pylist())


@pytest.mark.parametrize("engine", ["duckdb", "polars", "pandas"])
def test_engine_output_equals_the_beam_pipeline_output(engine, log_and_beam, tmp_path):
    pytest.importorskip(engine)
    path, beam_output, beam_stats = log_and_beam
    stats = pipeline_engines.ENGINES[engine](str(path), str(tmp_path))
    assert stats == {key: beam_stats[key] for key in stats}
    assert stats["dead_by_reason"].keys() >= {"duplicate", "wrong_column_count", "empty_id"}
    assert stats["rows_in"] == stats["rows_out"] + stats["rows_dead"]
    for name, columns in COLUMNS.items():
        assert _rows(tmp_path / name, columns) == _rows(beam_output / name, columns), name
    vocabulary = pq.read_table(tmp_path / "vocab" / "items.parquet")
    assert vocabulary.equals(pq.read_table(beam_output / "vocab" / "items.parquet"))
    expected_lines = (beam_output / "vocab" / "items.txt").read_text()
    assert (tmp_path / "vocab" / "items.txt").read_text() == expected_lines
    assert json.loads((tmp_path / "stats.json").read_text()) == stats


def test_engines_are_importable_by_name():
    assert set(pipeline_engines.ENGINES) == {"duckdb", "polars", "pandas"}
    assert importlib.import_module("bench.pipeline_engines") is pipeline_engines
