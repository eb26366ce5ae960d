import json

import pyarrow as pa
import pyarrow.parquet as pq

from pipeline import outputs
from pipeline.sequences import SEQUENCE_SCHEMA


def test_summarize_stats_balances_and_summarises_lengths():
    stats = outputs.summarize_stats(
        {
            "rows_in": 10,
            "rows_out": 7,
            "users": 2,
            "items": 3,
            "dead_by_reason": {"duplicate": 2, "empty_id": 1},
            "length_counts": {"3": 1, "4": 1},
            "filter_removed_by_round": {"0": 3, "1": 0},
        }
    )
    assert stats["balanced"] and stats["rows_dead"] == 3
    assert stats["sequence_length"]["min"] == 3 and stats["sequence_length"]["max"] == 4
    assert stats["sequence_length"]["mean"] == 3.5
    assert stats["filter_removed_by_round"] == [3, 0] and stats["filter_converged"]


def test_sort_vocabulary_by_count_then_key():
    counts = pa.table({"item_id": ["b", "a", "c"], "count": [1, 2, 2]})
    assert outputs.sort_vocabulary(counts, "item_id").column("item_id").to_pylist() == [
        "a",
        "c",
        "b",
    ]


def test_prepare_and_finish_output_dir(tmp_path):
    (tmp_path / "sequences").mkdir()
    (tmp_path / "sequences" / "old.parquet").write_text("stale")
    (tmp_path / "stats.json").write_text("{}")
    outputs.prepare_output_dir(str(tmp_path), ("sequences",))
    assert not (tmp_path / "sequences").exists() and not (tmp_path / "stats.json").exists()
    outputs.finish_output_dir(str(tmp_path), {"sequences": SEQUENCE_SCHEMA}, {"pipeline": "events"})
    assert pq.read_table(tmp_path / "sequences").schema.names == SEQUENCE_SCHEMA.names
    assert pq.read_table(tmp_path / "dead_letter").num_rows == 0
    assert json.loads((tmp_path / "run.json").read_text()) == {"pipeline": "events"}
