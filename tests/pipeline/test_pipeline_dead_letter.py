import pyarrow as pa
import pytest

from pipeline import dead_letter


def test_rows_and_arrays_build_the_same_schema():
    from_rows = dead_letter.dead_letters_from_rows(["duplicate"], "a.csv", [3], ["x,y"])
    from_arrays = dead_letter.dead_letters_from_arrays(
        "duplicate", pa.array(["a.csv"]), pa.array([3]), pa.array(["x,y"])
    )
    assert from_rows.equals(from_arrays)
    assert from_rows.schema == dead_letter.DEAD_LETTER_SCHEMA


def test_count_by_reason():
    table = dead_letter.dead_letters_from_rows(["a", "b", "a"], "f", [1, 2, 3], ["", "", ""])
    assert dead_letter.count_by_reason(table) == {"a": 2, "b": 1}
    assert dead_letter.count_by_reason(dead_letter.empty_dead_letters()) == {}


def test_decode_raw_escapes_invalid_utf8():
    assert dead_letter.decode_raw(b"ok\xff\r\n") == "ok\\xff"


def test_lengths_must_match():
    with pytest.raises(ValueError, match="Received: lengths=1, 0, 1"):
        dead_letter.dead_letters_from_rows(["a"], "f", [], ["x"])
