from pipeline import dead_letter
from pipeline.jsonlines import parse_jsonl_block

FIELDS = (("user_id", "u"), ("timestamp", "t"), ("flag", "f"))


def test_types_become_strings_and_bad_lines_are_isolated():
    block = (
        b'{"u": 1, "t": "2014-01-01T00:00:00+00:00", "f": true}\n{"u": "a", "t": 5}\n\n'
        b'not json\n[1, 2]\n{"u": "\xff"}\n{"u": "b"}\n'
    )
    parsed = parse_jsonl_block(block, 10, FIELDS, "src")
    rows = sorted(parsed.rows.to_pylist(), key=lambda row: row["line_number"])
    assert [row["user_id"] for row in rows] == ["1", "a", "b"]
    assert rows[0]["flag"] == "true" and rows[2]["timestamp"] is None
    dead = {row["line_number"]: row["reason"] for row in parsed.dead_letters.to_pylist()}
    assert dead == {
        13: dead_letter.MALFORMED_RECORD,
        14: dead_letter.MALFORMED_RECORD,
        15: dead_letter.INVALID_UTF8,
    }
    assert parsed.rows_in == 6


def test_empty_block():
    parsed = parse_jsonl_block(b"\n\n", 1, FIELDS, "src")
    assert parsed.rows_in == 0 and parsed.rows.num_rows == 0
