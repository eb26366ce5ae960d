import pyarrow as pa
import pytest

from pipeline import spill

SCHEMA = pa.schema([("user_id", pa.string()), ("timestamp", pa.int64())])


def _table(users, timestamps):
    return pa.table({"user_id": users, "timestamp": timestamps}, schema=SCHEMA)


def test_spilled_tables_read_back_whole_in_path_order(tmp_path):
    folder = spill.spill_folder(str(tmp_path))
    second = spill.write_spilled(_table(["b"], [2]), folder, "b00001-k00001")
    first = spill.write_spilled(_table(["a", "c"], [1, 3]), folder, "b00001-k00000")

    table = spill.read_spilled([second, first], SCHEMA)

    assert table.to_pydict() == {"user_id": ["a", "c", "b"], "timestamp": [1, 3, 2]}
    assert sorted(path.name for path in (tmp_path / "_spill").iterdir()) == [
        "b00001-k00000.arrow",
        "b00001-k00001.arrow",
    ], "no partial file is left beside the spilled ones"


def test_a_retry_rewrites_the_same_file(tmp_path):
    folder = spill.spill_folder(str(tmp_path))
    spill.write_spilled(_table(["a"], [1]), folder, "part")
    path = spill.write_spilled(_table(["a"], [1]), folder, "part")

    assert spill.read_spilled([path], SCHEMA).num_rows == 1
    assert len(list((tmp_path / "_spill").iterdir())) == 1


def test_no_paths_give_an_empty_table_of_the_schema():
    table = spill.read_spilled([], SCHEMA)

    assert table.num_rows == 0 and table.schema == SCHEMA


def test_remove_deletes_the_folder_and_accepts_a_missing_one(tmp_path):
    folder = spill.spill_folder(str(tmp_path))
    spill.write_spilled(_table(["a"], [1]), folder, "part")
    (tmp_path / "_spill" / ".part.dead.partial").write_bytes(b"a killed writer's leftover")

    spill.remove_spilled(folder)
    spill.remove_spilled(folder)

    assert not (tmp_path / "_spill").exists()


@pytest.mark.parametrize("name", ["", "a/b"])
def test_bad_names_are_refused(tmp_path, name):
    with pytest.raises(ValueError, match="Expected a file name without '/'"):
        spill.write_spilled(_table(["a"], [1]), str(tmp_path), name)


def test_an_empty_output_folder_is_refused():
    with pytest.raises(ValueError, match="Expected an output folder"):
        spill.spill_folder("")
