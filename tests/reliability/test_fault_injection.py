"""Fault injection: real processes killed with SIGKILL at evenly spread moments of their run.

The kill moments come from each process's own progress (`tests/reliability/fault_process.py`
prints each step it reaches and pauses at the k-th until the test kills it), never from a
clock. After each kill the invariants are checked:

(a) recommender training: `--resume` works and the resumed run ends with the same weights as an
    uninterrupted run (same tolerance as the trainer's own resume test);
(b) events pipeline: the output folder is the previous run's, untouched, or the new run's,
    complete (`stats.json` parses, `rows_in == rows_out + rows_dead`, the tables agree with
    it); never a half-written folder; the next run succeeds and leaves nothing behind;
(c) alert delivery: after the next run every alert reached the receiver at least once, every
    POST carried the alert's dedup key as `Idempotency-Key` (so a receiver that honours it acts
    on each alert once), and the outbox is empty.

Each test prints `cases tried / kill points / invariant violations` (see BENCHMARKS.md).
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.paths import REPO_ROOT

MIN_KILL_POINTS = 10


def kill_at(kind: str, pause_at: int, arguments: list[str]) -> list[str]:
    """Run `fault_process KIND`, SIGKILL it at its `pause_at`-th step; return the steps seen."""
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.reliability.fault_process", kind, str(pause_at)]
        + [str(argument) for argument in arguments],
        cwd=REPO_ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    steps = []
    for line in process.stdout:
        if line.startswith("STEP "):
            steps.append(line[5:].rstrip("\n"))
        if line.startswith("PAUSED "):
            process.send_signal(signal.SIGKILL)
            break
    returncode = process.wait(timeout=600)
    process.stdin.close()
    process.stdout.close()
    if pause_at:
        assert returncode == -signal.SIGKILL, (
            f"{kind} ended with {returncode} before step {pause_at}"
        )
    else:
        assert returncode == 0, f"{kind} failed with {returncode}"
    return steps


def spread(count: int, total: int) -> list[int]:
    """`count` 1-based step numbers evenly spread over `1..total` (all of them if fewer)."""
    if total <= count:
        return list(range(1, total + 1))
    return sorted({1 + round(i * (total - 1) / (count - 1)) for i in range(count)})


def report(name: str, cases: int, kill_points: list, violations: list[str]) -> None:
    print(
        f"{name}: cases tried {cases}; kill points {len(kill_points)}; "
        f"invariant violations {len(violations)}"
    )
    for violation in violations:
        print(f"  {violation}")


# (a) recommender training with resume --------------------------------------------------------


def training_case():
    """The small data and tiny model both the killed process and the test train."""
    from models.recommender.config import RecommenderConfig
    from tests.recommender_fixtures import planted_data

    config = RecommenderConfig(
        hidden_dim=8,
        num_blocks=1,
        num_heads=1,
        max_length=8,
        dropout=0.2,
        batch_size=16,
        learning_rate=5e-3,
        epochs=3,
        patience=3,
        seed=7,
        jit_compile=False,
        validation_users=None,
    )
    return planted_data(num_users=60, num_items=30, seed=2), config


def _checkpoint_variables(folder: Path) -> dict[str, np.ndarray]:
    with np.load(folder / "checkpoint" / "variables.npz") as arrays:
        return {name: arrays[name] for name in arrays.files}


@pytest.mark.keras_backend
def test_training_killed_anywhere_resumes_to_the_uninterrupted_weights(tmp_path):
    from models.recommender.training import train_recommender

    data, config = training_case()
    steps: list[str] = []
    _, history = train_recommender(
        data, tmp_path / "straight", config, verbose=0, progress=steps.append
    )
    reference = _checkpoint_variables(tmp_path / "straight")
    kill_points = spread(len(steps), len(steps))  # every step: 3 epochs give 13
    violations = []
    for k in kill_points:
        folder = tmp_path / f"kill-{k}"
        seen = kill_at("training", k, [folder])
        if seen != steps[:k]:
            violations.append(f"step {k}: the killed run reported {seen[-1:]}, not {steps[k - 1]}")
            continue
        try:
            _, resumed = train_recommender(data, folder, config, resume=True, verbose=0)
        except Exception as error:  # noqa: BLE001 (any failure to resume is a violation)
            violations.append(f"{steps[k - 1]}: resume failed: {type(error).__name__}: {error}")
            continue
        weights = _checkpoint_variables(folder)
        if weights.keys() != reference.keys():
            violations.append(f"{steps[k - 1]}: other variables after resume")
        for name in reference:
            if name in weights and not np.allclose(
                weights[name], reference[name], rtol=1e-5, atol=1e-6
            ):
                violations.append(f"{steps[k - 1]}: {name} differs after resume")
                break
        if [entry["epoch"] for entry in resumed] != [entry["epoch"] for entry in history]:
            violations.append(f"{steps[k - 1]}: history {[e['epoch'] for e in resumed]}")
        leftovers = sorted(p.name for p in folder.iterdir() if p.name.startswith("checkpoint."))
        if leftovers or any(p.name.endswith(".partial.keras") for p in folder.iterdir()):
            violations.append(f"{steps[k - 1]}: leftovers {leftovers}")
    report("training", len(kill_points), kill_points, violations)
    assert len(kill_points) >= MIN_KILL_POINTS
    assert violations == []


# (b) the events pipeline ---------------------------------------------------------------------


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


# (c) alert delivery --------------------------------------------------------------------------


def alert_settings(scored: str, url: str):
    """Webhook settings of the killed runs: one attempt, a long timeout (a receiver that works)."""
    from seqlens.alerts.monitor import MonitorSettings

    return MonitorSettings(
        scored_path=str(scored),
        sink="webhook",
        webhook_url=url,
        webhook_timeout_seconds=120.0,
        webhook_max_attempts=1,
        webhook_backoff_seconds=0.0,
        top_texts=1,
    )


def test_alert_delivery_killed_anywhere_delivers_every_alert_once_per_honouring_receiver(
    tmp_path,
):
    from seqlens.alerts.alert_model import read_alerts
    from seqlens.alerts.monitor import run_alerts
    from seqlens.synthetic.planted_spikes import generate_planted
    from tests.seqlens.alerts.test_alerts_monitor import SMALL
    from tests.seqlens.alerts.test_alerts_sinks import AlertServer

    rows, _ = generate_planted(SMALL)
    full, early = tmp_path / "full.parquet", tmp_path / "early.parquet"
    rows.to_parquet(full, index=False)
    cutoff = rows["timestamp"].quantile(0.6)
    rows[rows["timestamp"] < cutoff].to_parquet(early, index=False)
    # the state before the killed run: an earlier run whose webhook was down (spooled alerts)
    base = tmp_path / "base"
    run_alerts(None, None, base, alert_settings(early, "http://127.0.0.1:9/down"))
    spooled = [
        json.loads(line)["alert"]["dedup_key"] for line in open(base / "webhook_spool.jsonl")
    ]
    with AlertServer() as receiver:
        dry = tmp_path / "dry"
        shutil.copytree(base, dry)
        steps = kill_at("alerts", 0, [full, dry, receiver.url])
    all_keys = {record["dedup_key"] for record in read_alerts(dry / "alerts.jsonl")}
    assert spooled and len(all_keys) > len(spooled)  # spooled ones and new ones
    kill_points = spread(9, len(steps)) + ["in flight: first POST", "in flight: last POST"]
    violations, resent = [], 0
    for k in kill_points:
        output = tmp_path / f"kill-{k}".replace(" ", "-").replace(":", "")
        shutil.copytree(base, output)
        in_flight = isinstance(k, str)
        target = 1 if "first" in str(k) else len(all_keys)
        with AlertServer(hold=in_flight, hold_at=target) as receiver:
            if in_flight:  # the receiver holds the n-th POST unanswered; kill the sender then
                step = k
                process = subprocess.Popen(
                    [sys.executable, "-m", "tests.reliability.fault_process", "alerts", "0"]
                    + [str(full), str(output), receiver.url],
                    cwd=REPO_ROOT,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
                while len(receiver.keys) < target:  # the process's n-th POST, not a clock
                    if not receiver.arrived.wait(0.5):
                        assert process.poll() is None, f"{k}: the sender ended first"
                    receiver.arrived.clear()
                process.send_signal(signal.SIGKILL)
                assert process.wait() == -signal.SIGKILL
                receiver.hold = False
                receiver.release.set()
            else:
                step = kill_at("alerts", k, [full, output, receiver.url])[-1]
            run_alerts(None, None, output, alert_settings(full, receiver.url))
            keys = {record["dedup_key"] for record in read_alerts(output / "alerts.jsonl")}
            if keys != all_keys:
                violations.append(f"{step}: alerts.jsonl holds {len(keys)} of {len(all_keys)}")
            missing = keys - set(receiver.processed)
            if missing:
                violations.append(f"{step}: {len(missing)} alerts never delivered")
            wrong = [
                key for key, body in receiver.processed.items() if key != body.get("dedup_key")
            ]
            if None in receiver.keys or wrong:
                violations.append(f"{step}: POSTs without the alert's Idempotency-Key")
            if set(receiver.keys) - keys:
                violations.append(f"{step}: POSTs of alerts not in alerts.jsonl")
            resent += len(receiver.keys) - len(set(receiver.keys))
        leftovers = [p.name for p in output.iterdir() if p.name.startswith((".", "webhook"))]
        if [name for name in leftovers if name != ".alerts.jsonl.tmp"]:
            violations.append(f"{step}: leftovers after the next run: {leftovers}")
    report("alert delivery", len(kill_points), kill_points, violations)
    print(
        f"  alerts {len(all_keys)} ({len(spooled)} spooled before); POSTs repeated after a kill "
        f"(dropped by the idempotency key): {resent}"
    )
    assert len(kill_points) >= MIN_KILL_POINTS
    assert violations == []
