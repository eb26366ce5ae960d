"""Run folders are written beside the output, swapped in whole, and locked against a 2nd run."""

import json

import pytest

from pipeline import staging
from pipeline.event_transforms import EventsConfig
from pipeline.events import run_events_pipeline
from pipeline.timestamps import TimestampRange

CONFIG = EventsConfig(plausible=TimestampRange(631_152_000, 2_000_000_000), num_buckets=2)


def _log(path, rows):
    lines = ["user_id,item_id,timestamp"]
    lines += [f"u{i % 5},i{i % 7},{1_600_000_000 + i}" for i in range(rows)]
    path.write_text("\n".join(lines) + "\n")
    return path


def test_a_failed_run_leaves_the_previous_output_untouched(tmp_path):
    output = tmp_path / "out"
    output.mkdir()
    (output / "stats.json").write_text('{"old": true}')
    with pytest.raises(RuntimeError, match="killed"):
        with staging.staged_output(str(output)) as target:
            (tmp_path / "staged").write_text(target)
            (output.parent / target.rsplit("/", 1)[-1] / "stats.json").write_text("{}")
            raise RuntimeError("killed")
    assert json.loads((output / "stats.json").read_text()) == {"old": True}
    assert sorted(entry.name for entry in tmp_path.iterdir()) == [".out.lock", "out", "staged"]


def test_swap_replaces_the_run_entries_and_keeps_the_others(tmp_path):
    output = tmp_path / "out"
    (output / "sequences").mkdir(parents=True)
    (output / "sequences" / "old.parquet").write_text("stale")
    (output / "notes.txt").write_text("mine")
    with staging.staged_output(str(output)) as target:
        assert not target.startswith(str(output) + "/")  # beside the output, not inside
        (tmp_path / target.rsplit("/", 1)[-1] / "sequences").mkdir()
        (tmp_path / target.rsplit("/", 1)[-1] / "sequences" / "new.parquet").write_text("new")
        assert (output / "sequences" / "old.parquet").exists()  # untouched until complete
    assert [path.name for path in (output / "sequences").iterdir()] == ["new.parquet"]
    assert (output / "notes.txt").read_text() == "mine"
    assert sorted(entry.name for entry in tmp_path.iterdir()) == [".out.lock", "out"]


def test_leftovers_of_a_killed_run_are_recovered(tmp_path):
    output = tmp_path / "out"
    previous = tmp_path / ".out.previous-1-abc"  # killed between the two renames of a swap
    previous.mkdir()
    (previous / "stats.json").write_text("{}")
    (tmp_path / ".out.staging-2-def").mkdir()  # killed while writing
    with staging.staged_output(str(output)):
        assert (output / "stats.json").exists()
        assert not previous.exists() and not (tmp_path / ".out.staging-2-def").exists()


def test_a_second_run_on_a_locked_output_is_refused(tmp_path):
    log = _log(tmp_path / "log.csv", 40)
    output = tmp_path / "out"
    first = run_events_pipeline(log, output, config=CONFIG)
    with staging.output_lock(output):  # another pipeline is writing `out`
        with pytest.raises(ValueError, match="another run holds") as raised:
            run_events_pipeline(_log(tmp_path / "other.csv", 10), output, config=CONFIG)
    assert str(raised.value).endswith(f"Received: output={str(output)!r}")
    assert json.loads((output / "stats.json").read_text()) == first
    second = run_events_pipeline(_log(tmp_path / "other.csv", 10), output, config=CONFIG)
    assert second["rows_in"] == 10 and not list(output.rglob("beam-temp-*"))


def test_output_that_is_a_file_is_refused(tmp_path):
    (tmp_path / "out").write_text("x")
    with pytest.raises(ValueError, match="Expected the output to be a folder"):
        with staging.staged_output(str(tmp_path / "out")):
            pass
