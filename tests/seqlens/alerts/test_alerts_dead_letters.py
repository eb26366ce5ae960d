"""The alerts' dead letters: the pipeline's schema plus `id`, written as one Parquet file."""

import pandas as pd
import pyarrow.parquet as pq
import pytest

from pipeline.dead_letter import DEAD_LETTER_SCHEMA, REASONS
from seqlens.alerts.dead_letters import (
    BAD_SCORE,
    DEAD_LETTER_COLUMNS,
    dead_letter_frame,
    dead_letters_from_records,
    empty_dead_letter_frame,
    write_dead_letters,
)


def test_frames_have_the_pipeline_columns_and_are_written_with_its_schema(tmp_path):
    news = dead_letter_frame(["empty_text"], ["news.csv"], [3], ["n1,1704067200,A,"], ["n1"])
    scored = dead_letters_from_records(
        [{"reason": BAD_SCORE, "source": "scored", "line_number": None, "raw": "{}", "id": "x"}]
    )
    assert list(news.columns) == DEAD_LETTER_COLUMNS == [*DEAD_LETTER_SCHEMA.names, "id"]
    assert str(scored["line_number"].dtype) == "Int64" and scored["line_number"].isna().all()
    written = write_dead_letters([news, empty_dead_letter_frame(), scored], tmp_path / "dead.pq")
    table = pq.read_table(tmp_path / "dead.pq")
    assert table.schema.names == DEAD_LETTER_COLUMNS
    assert table.schema.field("line_number").type == DEAD_LETTER_SCHEMA.field("line_number").type
    assert table.column("reason").to_pylist() == ["empty_text", BAD_SCORE] == list(written.reason)
    assert table.column("line_number").to_pylist() == [3, None]
    assert BAD_SCORE not in REASONS  # the one reason the pipeline has no name for


def test_no_dead_letters_still_writes_the_columns(tmp_path):
    frame = write_dead_letters([], tmp_path / "dead.parquet")
    assert frame.empty and list(pd.read_parquet(tmp_path / "dead.parquet").columns) == (
        DEAD_LETTER_COLUMNS
    )


def test_lengths_must_agree():
    with pytest.raises(ValueError, match=r"Received: lengths=1, 1, 0, 1, 1"):
        dead_letter_frame(["duplicate"], ["a"], [], ["raw"], ["id"])
