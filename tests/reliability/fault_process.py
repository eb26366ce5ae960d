"""A real process for the fault-injection tests: trains, runs the events pipeline, or alerts.

Not a test module. Usage:
`python -m tests.reliability.fault_process KIND PAUSE_AT ARGS...` with KIND `training`,
`pipeline` or `alerts`. It prints `STEP <name>` (flushed) at each step its run reports, and at
the `PAUSE_AT`-th step (1-based; 0: never) prints `PAUSED <name>` and waits for a line on stdin:
the parent kills it there (SIGKILL). Ends with `DONE`.

- `training OUTPUT`: `train_recommender` on the reliability data and config; steps are its
  `progress` reports (each epoch's fit and each step of each checkpoint).
- `pipeline INPUT OUTPUT`: `run_events_pipeline(INPUT, OUTPUT)`; the pipeline has no progress
  hook, so the steps are its file-system actions seen through a Python audit hook
  (`sys.addaudithook`): each file opened for writing, folder made, rename and tree removal
  below OUTPUT's parent. The hook only watches; the pipeline runs unchanged.
- `alerts SCORED OUTPUT URL`: `run_alerts` with a webhook sink; steps are its `progress`
  reports (stages, then `queued`, `sending:<key>`, `answered:<key>`, `recorded:<key>`).
"""

from __future__ import annotations

import os
import re
import sys
import threading

_lock = threading.Lock()
_count = 0


def make_reporter(pause_at: int):
    def report(step: str) -> None:
        global _count
        with _lock:  # Beam may write from worker threads: one step at a time
            _count += 1
            print(f"STEP {step}", flush=True)
            if _count == pause_at:
                print(f"PAUSED {step}", flush=True)
                sys.stdin.readline()

    return report


def watch_files(root: str, report) -> None:
    """Report each write, mkdir, rename and rmtree below `root` (run ids made stable)."""
    root = os.path.realpath(root)

    def name(path) -> str | None:
        try:
            path = os.path.realpath(os.fsdecode(path))
        except (TypeError, ValueError):
            return None
        if not path.startswith(root + os.sep):
            return None
        relative = os.path.relpath(path, root)
        return re.sub(r"-\d+-[0-9a-f]{8}", "-<run>", relative)

    def hook(event: str, args: tuple) -> None:
        if event == "open" and len(args) >= 2 and isinstance(args[1], str):
            if any(flag in args[1] for flag in "wax+") and (target := name(args[0])):
                report(f"write {target}")
        elif event == "open" and len(args) >= 3 and isinstance(args[2], int):
            if args[2] & (os.O_WRONLY | os.O_RDWR) and (target := name(args[0])):
                report(f"write {target}")
        elif event in ("os.rename", "os.replace") and (source := name(args[0])):
            report(f"rename {source} -> {name(args[1])}")
        elif event == "os.mkdir" and (target := name(args[0])):
            report(f"mkdir {target}")
        elif event == "shutil.rmtree" and (target := name(args[0])):
            report(f"rmtree {target}")

    sys.addaudithook(hook)


def main(argv: list[str]) -> int:
    kind, pause_at, arguments = argv[0], int(argv[1]), argv[2:]
    report = make_reporter(pause_at)
    if kind == "training":
        from models.recommender.training import train_recommender
        from tests.reliability.test_fault_injection import training_case

        data, config = training_case()
        train_recommender(data, arguments[0], config, verbose=0, progress=report)
    elif kind == "pipeline":
        from pipeline.events import run_events_pipeline

        input_path, output = arguments
        watch_files(os.path.dirname(os.path.abspath(output)), report)
        run_events_pipeline(input_path, output)
    elif kind == "alerts":
        from seqlens.alerts.monitor import run_alerts
        from tests.reliability.test_fault_injection import alert_settings

        scored, output, url = arguments
        run_alerts(None, None, output, alert_settings(scored, url), progress=report)
    else:
        raise ValueError(f"Expected training, pipeline or alerts. Received: kind={kind!r}")
    print("DONE", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
