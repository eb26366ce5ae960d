"""What the fault-injection tests share: run a real process and SIGKILL it at its k-th step.

The process is `tests/reliability/fault_process.py`; it reports each step of its run and pauses
at the k-th until killed, so kill moments come from the run's own progress, never a clock. The
cases (the data and settings both the killed process and its test use) live here too.
"""

from __future__ import annotations

import atexit
import json
import os
import signal
import subprocess
import sys

from tests.paths import REPO_ROOT

MIN_KILL_POINTS = 10


class ForkServer:
    """A `fault_process zygote KIND` process: each run is a fresh child forked from it.

    The zygote imports KIND's libraries once, so a killed run costs its own work, not another
    TensorFlow import; the child it forks is a separate process, killed with a real SIGKILL.
    """

    def __init__(self, kind: str):
        self.kind = kind
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tests.reliability.fault_process", "zygote", kind],
            cwd=REPO_ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        line = self.process.stdout.readline()
        assert line.strip() == "READY", f"the {kind} fork server did not start: {line!r}"

    def start(self, pause_at: int, arguments: list) -> int:
        """Fork a child that runs KIND with `arguments`, pausing at its `pause_at`-th step."""
        command = {"pause_at": pause_at, "arguments": [str(argument) for argument in arguments]}
        self.process.stdin.write(json.dumps(command) + "\n")
        self.process.stdin.flush()
        line = self.process.stdout.readline()
        assert line.startswith("PID "), f"{self.kind}: expected the child's pid, got {line!r}"
        return int(line[4:])

    def lines(self):
        """The child's output lines up to (not including) its `EXIT <code>` line."""
        for line in self.process.stdout:
            if line.startswith("EXIT "):
                self.exit_code = int(line[5:])
                return
            yield line.rstrip("\n")
        raise AssertionError(f"the {self.kind} fork server ended")

    def close(self) -> None:
        self.process.stdin.close()
        self.process.wait(timeout=60)
        self.process.stdout.close()


_servers: dict[str, ForkServer] = {}


def fork_server(kind: str) -> ForkServer:
    """The fork server of `kind` (started on first use, closed when the tests end)."""
    if kind not in _servers:
        _servers[kind] = ForkServer(kind)
    return _servers[kind]


@atexit.register
def _close_servers() -> None:
    for server in _servers.values():
        server.close()


def kill_at(kind: str, pause_at: int, arguments: list) -> list[str]:
    """Run KIND in a fresh process, SIGKILL it at its `pause_at`-th step; return the steps seen.

    `pause_at=0` lets the run finish (it must succeed).
    """
    server = fork_server(kind)
    pid = server.start(pause_at, arguments)
    steps = []
    for line in server.lines():
        if line.startswith("STEP "):
            steps.append(line[5:])
        if line.startswith("PAUSED "):
            os.kill(pid, signal.SIGKILL)
    if pause_at:
        assert server.exit_code == -signal.SIGKILL, (
            f"{kind} ended with {server.exit_code} before step {pause_at}"
        )
    else:
        assert server.exit_code == 0, f"{kind} failed with {server.exit_code}"
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
