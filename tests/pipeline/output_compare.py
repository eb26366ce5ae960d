"""Comparing two pipeline run folders output by output, row for row (parts and order may differ)."""

import json

import pyarrow.parquet as pq


def rows(folder):
    """Every row of a Parquet folder, in a canonical order (part files and order may differ)."""
    table = pq.read_table(folder)
    return sorted(json.dumps(row, sort_keys=True, default=str) for row in table.to_pylist())


def assert_same_output(expected, actual):
    """The run folders `expected` and `actual` hold the same files, rows, stats and counters."""
    leftovers = [path for path in actual.rglob(".*")]  # temp files of a rerun task, say
    assert not leftovers, leftovers
    expected_files = sorted(p.relative_to(expected).parts[0] for p in expected.iterdir())
    assert sorted(p.relative_to(actual).parts[0] for p in actual.iterdir()) == expected_files
    for name in expected_files:
        if name in ("run.json",):
            continue
        if (expected / name).is_dir() and name != "vocab":
            assert rows(actual / name) == rows(expected / name), name
    for path in sorted((expected / "vocab").iterdir()):
        if path.suffix == ".parquet":  # row order matters: the vocabulary is sorted
            assert pq.read_table(actual / "vocab" / path.name).equals(pq.read_table(path))
        else:
            assert (actual / "vocab" / path.name).read_bytes() == path.read_bytes()
    assert json.loads((actual / "stats.json").read_text()) == json.loads(
        (expected / "stats.json").read_text()
    )
    expected_run = json.loads((expected / "run.json").read_text())
    actual_run = json.loads((actual / "run.json").read_text())
    assert actual_run["metrics"] == expected_run["metrics"] and actual_run["metrics"]
