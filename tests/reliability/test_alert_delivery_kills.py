"""Alert delivery killed (SIGKILL) at evenly spread moments: every alert reaches the receiver at
least once, and once per receiver that honours its idempotency key."""

from __future__ import annotations

import json
import os
import shutil
import signal

import pytest

from tests.reliability.support import (
    MIN_KILL_POINTS,
    alert_settings,
    fork_server,
    kill_at,
    report,
    spread,
)

pytestmark = pytest.mark.slow  # a minute or more


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
                server = fork_server("alerts")
                pid = server.start(0, [full, output, receiver.url])
                while len(receiver.keys) < target:  # the process's n-th POST, not a clock
                    if not receiver.arrived.wait(0.5):
                        assert _alive(pid), f"{k}: the sender ended first"
                    receiver.arrived.clear()
                os.kill(pid, signal.SIGKILL)
                for _ in server.lines():  # drain the child's output up to its exit
                    pass
                assert server.exit_code == -signal.SIGKILL
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


def _alive(pid: int) -> bool:
    """Whether the forked sender still runs (not yet reaped by its fork server)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True
