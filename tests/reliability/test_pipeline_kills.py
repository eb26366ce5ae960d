"""The events pipeline killed (SIGKILL) at evenly spread moments: the previous output untouched
or the new one complete, never a half-written folder."""

from __future__ import annotations

import hashlib
import json
import re
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.reliability.support import MIN_KILL_POINTS, kill_at, report, spread

pytestmark = pytest.mark.slow  # a minute or more


def _write_events(path: Path, users: int, seed: int) -> int:
    """An event log with a few bad rows; returns its number of data rows."""
    rng = np.random.default_rng(seed)
    lines = ["user_id,item_id,timestamp"]
    for user in range(users):
        for position in range(int(rng.integers(3, 9))):
            item = int(rng.integers(0, 25))
            lines.append(f"u{user},i{item},{1_600_000_000 + 3600 * position}")
    lines += [",i1,1600000000", "u1,i2,not-a-time", "u2,,1600000000"]
    path.write_text("\n".join(lines) + "\n")
    return len(lines) - 1


def _manifest(folder: Path) -> dict[str, str]:
    return {
        str(path.relative_to(folder)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


def _complete_run_problems(folder: Path, rows_in: int, expected_stats: dict) -> list[str]:
    """Why `folder` is not a complete events run of `rows_in` input rows ([] when it is)."""
    try:
        stats = json.loads((folder / "stats.json").read_text())
        json.loads((folder / "run.json").read_text())
        sequences = pd.read_parquet(folder / "sequences")
        dead = pd.read_parquet(folder / "dead_letter")
        vocabulary = pd.read_parquet(folder / "vocab" / "items.parquet")
    except Exception as error:  # noqa: BLE001 (anything unreadable is a problem)
        return [f"unreadable: {type(error).__name__}: {error}"]
    problems = []
    if stats["rows_in"] != stats["rows_out"] + stats["rows_dead"] or stats["rows_in"] != rows_in:
        problems.append(f"counts {stats['rows_in']} != {stats['rows_out']} + {stats['rows_dead']}")
    if len(sequences) != stats["users"] or len(dead) != stats["rows_dead"]:
        problems.append(f"tables disagree with stats.json: {len(sequences)}, {len(dead)}")
    if len(vocabulary) != stats["items"] or stats != expected_stats:
        problems.append("vocabulary or stats differ from an uninterrupted run")
    return problems


def test_events_pipeline_killed_anywhere_leaves_the_old_output_or_the_new_one(tmp_path):
    from pipeline.events import run_events_pipeline

    old_input, new_input = tmp_path / "old.csv", tmp_path / "new.csv"
    old_rows, new_rows = _write_events(old_input, 20, 1), _write_events(new_input, 30, 2)
    base = tmp_path / "base" / "events"
    run_events_pipeline(old_input, base)
    previous = _manifest(base)
    expected = run_events_pipeline(new_input, tmp_path / "reference" / "events")
    dry = tmp_path / "dry" / "events"
    shutil.copytree(base, dry)
    steps = kill_at("pipeline", 0, [new_input, dry])
    # evenly spread over the run, plus every step of the final swap (the riskiest moments)
    swap = [i + 1 for i, step in enumerate(steps) if re.match(r"(rename|rmtree) \.?events", step)]
    kill_points = sorted(set(spread(MIN_KILL_POINTS, len(steps))) | set(swap))
    violations, outcomes = [], {"previous": 0, "new": 0, "between the renames": 0}
    for k in kill_points:
        output = tmp_path / f"kill-{k}" / "events"
        shutil.copytree(base, output)
        seen = kill_at("pipeline", k, [new_input, output])
        step = seen[-1] if seen else "?"
        if output.exists() and _manifest(output) == previous:
            outcomes["previous"] += 1
        elif output.exists():
            problems = _complete_run_problems(output, new_rows, expected)
            outcomes["new"] += not problems
            violations += [f"{step}: half-written output: {problem}" for problem in problems]
        else:  # killed between the two renames of the swap: the next run renames it back
            parked = list(output.parent.glob(".events.previous-*"))
            if len(parked) == 1 and _manifest(parked[0]) == previous:
                outcomes["between the renames"] += 1
            else:
                violations.append(f"{step}: no output folder and no intact previous one")
        after = run_events_pipeline(new_input, output)
        problems = _complete_run_problems(output, new_rows, expected)
        if after != expected or problems:
            violations.append(f"{step}: the next run is not complete: {problems}")
        leftovers = [p.name for p in output.parent.iterdir() if p.name not in ("events",)]
        if set(leftovers) - {".events.lock"}:
            violations.append(f"{step}: leftovers after the next run: {leftovers}")
    report("events pipeline", len(kill_points), kill_points, violations)
    print(f"  after the kill: {outcomes}; old rows {old_rows}, new rows {new_rows}")
    assert len(kill_points) >= MIN_KILL_POINTS
    assert violations == []
    assert outcomes["previous"] > 0 and outcomes["new"] > 0  # both sides of the swap were hit
