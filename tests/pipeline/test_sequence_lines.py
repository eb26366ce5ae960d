"""One-sequence-per-line logs (`user item item ...`, the S3-Rec files): order and counts exact."""

import numpy as np
import pandas as pd
import pytest

from pipeline.events import run_events_pipeline
from pipeline.sequence_lines import MAX_ITEMS_PER_LINE, parse_sequence_lines_block
from tests.paths import REPO_ROOT

S3REC = REPO_ROOT / ".." / "shared" / "data" / "s3rec"


def test_a_block_becomes_one_row_per_item_in_line_and_position_order():
    block = b"u1 a b a c\n\nu2 x\r\nu3\n   \nu4 \xff\xfe z\nu1 d"
    parsed = parse_sequence_lines_block(block, first_line=10, source="log.txt")
    rows = parsed.rows.to_pydict()
    assert rows["user_id"] == ["u1"] * 4 + ["u2", "u1"]
    assert rows["item_id"] == ["a", "b", "a", "c", "x", "d"]  # a repeat stays (two positions)
    assert rows["line_number"] == [10] * 4 + [12, 16]
    times = np.asarray(rows["timestamp"])
    assert (np.diff(times[:4]) > 0).all() and times[5] > times[3]  # order within and across lines
    assert times[0] == 10 * MAX_ITEMS_PER_LINE
    dead = parsed.dead_letters.to_pydict()
    assert sorted(zip(dead["line_number"], dead["reason"], strict=True)) == [
        (13, "missing_field"),
        (15, "invalid_utf8"),
    ]
    assert dead["raw"][dead["line_number"].index(13)] == "u3"  # the original line
    assert parsed.rows_in == 6 + 2  # events plus dead lines; blank lines are not rows


def test_pipeline_keeps_each_line_order_and_counts_exactly(tmp_path):
    rng = np.random.default_rng(4)
    lines, expected = [], {}
    for user in range(40):
        items = [f"i{value}" for value in rng.integers(0, 30, size=int(rng.integers(1, 12)))]
        lines.append(" ".join([f"user{user}", *items]))
        expected[f"user{user}"] = items
    lines.append("lonely")  # no item: one dead row
    path = tmp_path / "sequences.txt"
    path.write_text("\n".join(lines) + "\n")
    stats = run_events_pipeline(path, tmp_path / "out", input_format="sequence-lines")
    events = sum(len(items) for items in expected.values())
    assert (stats["rows_in"], stats["rows_out"], stats["rows_dead"]) == (events + 1, events, 1)
    assert stats["dead_by_reason"] == {"missing_field": 1}
    sequences = pd.read_parquet(tmp_path / "out" / "sequences")
    assert {row.user_id: list(row.item_ids) for row in sequences.itertuples()} == expected
    for row in sequences.itertuples():
        n = len(row.item_ids)
        assert row.test_position == (n - 1 if n >= 3 else -1)


@pytest.mark.parametrize("name", ["Sports_and_Outdoors", "Toys_and_Games"])
def test_s3rec_counts_match_the_file_when_present(tmp_path, name):
    source = S3REC / f"{name}.txt"
    if not source.exists():
        pytest.skip(f"../shared/data/s3rec/{name}.txt is not present")
    sample = tmp_path / f"{name}-head.txt"
    head = source.open("rb").readlines()[:3_000]
    sample.write_bytes(b"".join(head))
    stats = run_events_pipeline(sample, tmp_path / "out", input_format="sequence-lines")
    users = [line.split()[0] for line in head]
    items = [item for line in head for item in line.split()[1:]]
    assert (stats["users"], stats["items"], stats["rows_out"], stats["rows_dead"]) == (
        len(set(users)),
        len(set(items)),
        len(items),
        0,
    )
    sequences = pd.read_parquet(tmp_path / "out" / "sequences")
    first = head[0].decode().split()
    row = sequences[sequences["user_id"] == first[0]].iloc[0]
    assert list(row["item_ids"]) == first[1:]
