import pytest

from pipeline import dead_letter
from pipeline.delimited import DelimitedSpec, parse_block

SPEC = DelimitedSpec(",", 3, (("user_id", 0), ("item_id", 1), ("timestamp", 2)))


def _rows(parsed):
    return sorted(parsed.rows.to_pylist(), key=lambda row: row["line_number"])


def test_fast_path_crlf_and_blank_lines():
    parsed = parse_block(b"u,i,1\r\n\r\nv,j,2\r\n", 5, SPEC, "f")
    assert _rows(parsed) == [
        {"user_id": "u", "item_id": "i", "timestamp": "1", "line_number": 5},
        {"user_id": "v", "item_id": "j", "timestamp": "2", "line_number": 7},
    ]
    assert parsed.rows_in == 2 and parsed.dead_letters.num_rows == 0


def test_every_line_is_a_row_or_a_dead_letter():
    block = b'u,i,1\nshort,1\nu,"a,b",2\nu,\xff,3\n"broken,1,2\nv,j,3,4\n'
    parsed = parse_block(block, 1, SPEC, "f")
    assert [row["item_id"] for row in _rows(parsed)] == ["i", "a,b"]
    dead = {row["line_number"]: row["reason"] for row in parsed.dead_letters.to_pylist()}
    assert dead == {
        2: dead_letter.WRONG_COLUMN_COUNT,
        4: dead_letter.INVALID_UTF8,
        5: dead_letter.MALFORMED_RECORD,
        6: dead_letter.WRONG_COLUMN_COUNT,
    }
    assert parsed.rows_in == parsed.rows.num_rows + parsed.dead_letters.num_rows
    assert parsed.raw_lines([2]) == ["short,1"]


def test_unquoted_formats_split_on_spaces():
    spec = DelimitedSpec(" ", 2, (("user_id", 0), ("item_id", 1)), quoting=False)
    parsed = parse_block(b'1 "2\n3 4 5\n', 1, spec, "f")
    assert [row["item_id"] for row in parsed.rows.to_pylist()] == ['"2']
    assert parsed.dead_letters.column("reason").to_pylist() == [dead_letter.WRONG_COLUMN_COUNT]


def test_spec_validation():
    with pytest.raises(ValueError, match="Received: delimiter='::'"):
        DelimitedSpec("::", 2, ())
    with pytest.raises(ValueError, match="Received: index=3"):
        DelimitedSpec(",", 2, (("user_id", 3),))
    with pytest.raises(ValueError, match="Received: num_columns=0"):
        DelimitedSpec(",", 0, ())
