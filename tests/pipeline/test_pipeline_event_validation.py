import pyarrow as pa

from pipeline import dead_letter
from pipeline.delimited import DelimitedSpec, parse_block
from pipeline.event_validation import EVENT_SCHEMA, validate_events
from pipeline.timestamps import TimestampRange

SPEC = DelimitedSpec(",", 3, (("user_id", 0), ("item_id", 1), ("timestamp", 2)))


def test_first_problem_wins_and_raw_lines_are_kept():
    block = b"u, i ,1700000000\n,i,bad\nu,i,\nu,i,later\nu,i,1\n"
    parsed = parse_block(block, 1, SPEC, "log")
    parsed.rows = parsed.rows.append_column(
        "event_type", pa.nulls(parsed.rows.num_rows, pa.string())
    )
    parsed.rows = parsed.rows.append_column("value", pa.nulls(parsed.rows.num_rows, pa.string()))
    events, dead = validate_events(parsed, TimestampRange(631_152_000, 2_000_000_000), 0, "log")
    assert events.schema == EVENT_SCHEMA
    assert events.to_pylist() == [
        {
            "user_id": "u",
            "item_id": "i",
            "timestamp": 1700000000,
            "event_type": None,
            "value": None,
            "file_index": 0,
            "line_number": 1,
        }
    ]
    assert [(row["line_number"], row["reason"], row["raw"]) for row in dead.to_pylist()] == [
        (2, dead_letter.EMPTY_ID, ",i,bad"),
        (3, dead_letter.MISSING_FIELD, "u,i,"),
        (4, dead_letter.UNPARSABLE_TIMESTAMP, "u,i,later"),
        (5, dead_letter.ABSURD_TIMESTAMP, "u,i,1"),
    ]
