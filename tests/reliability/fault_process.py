"""A real process for the fault-injection tests: trains, runs the events pipeline, or alerts.

Not a test module. Usage:
`python -m tests.reliability.fault_process KIND PAUSE_AT ARGS...` with KIND `training`,
`pipeline` or `alerts`. It prints `STEP <name>` (flushed) at each step its run reports, and at
the `PAUSE_AT`-th step (1-based; 0: never) prints `PAUSED <name>` and waits for a line on stdin:
the parent kills it there (SIGKILL). Ends with `DONE`.

`python -m tests.reliability.fault_process zygote KIND` is the same run as a *fork server*: it
imports what KIND needs once (TensorFlow alone takes 10-20 s here), prints `READY`, then for
each JSON line `{"pause_at": k, "arguments": [...]}` on stdin forks a fresh child that prints
`PID <pid>` and runs KIND as above (pausing until killed, without reading stdin), waits for it
and prints `EXIT <code>` (`-9` when the test killed it with SIGKILL). Each killed run is still a
separate real process killed mid-run; only the imports are shared.

- `training OUTPUT`: `train_recommender` on the reliability data and config; steps are its
  `progress` reports (each epoch's fit and each step of each checkpoint).
- `pipeline INPUT OUTPUT`: `run_events_pipeline(INPUT, OUTPUT)`; the pipeline has no progress
  hook, so the steps are its file-system actions seen through a Python audit hook
  (`sys.addaudithook`): each file opened for writing, folder made, rename and tree removal
  below OUTPUT's parent. The hook only watches; the pipeline runs unchanged.
- `alerts SCORED OUTPUT URL`: `run_alerts` with a webhook sink; steps are its `progress`
  reports (stages, then `queued`, `sending:<key>`, `answered:<key>`, `recorded:<key>`).
- `publish ROOT NAME NDCG KEEP`: `publish_candidate` of the tiny test recommender with that
  metric; steps are its `progress` reports (`models.serving.publish.PUBLISH_STEPS`).
"""

from __future__ import annotations

import os
import re
import sys
import threading

_lock = threading.Lock()
_count = 0


def make_reporter(pause_at: int, wait_for_stdin: bool = True):
    def report(step: str) -> None:
        global _count
        with _lock:  # Beam may write from worker threads: one step at a time
            _count += 1
            print(f"STEP {step}", flush=True)
            if _count == pause_at:
                print(f"PAUSED {step}", flush=True)
                if wait_for_stdin:
                    sys.stdin.readline()
                else:  # a forked child: the zygote's stdin is not ours; wait to be killed
                    threading.Event().wait()

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


def run(kind: str, pause_at: int, arguments: list[str], wait_for_stdin: bool = True) -> None:
    """Run KIND's job, reporting each step (and pausing at the `pause_at`-th)."""
    report = make_reporter(pause_at, wait_for_stdin)
    if kind == "training":
        from models.recommender.training import train_recommender
        from tests.reliability.support import training_case

        data, config = training_case()
        train_recommender(data, arguments[0], config, verbose=0, progress=report)
    elif kind == "pipeline":
        from pipeline.events import run_events_pipeline

        input_path, output = arguments
        watch_files(os.path.dirname(os.path.abspath(output)), report)
        run_events_pipeline(input_path, output)
    elif kind == "alerts":
        from seqlens.alerts.monitor import run_alerts
        from tests.reliability.support import alert_settings

        scored, output, url = arguments
        run_alerts(None, None, output, alert_settings(scored, url), progress=report)
    elif kind == "publish":
        from models.serving.publish import publish_candidate
        from tests.models.serving.test_publish import (
            MAX_LENGTH,
            VOCABULARY,
            TinyAttentionRecommender,
            _candidate,
        )

        root, name, ndcg, keep = arguments
        model = TinyAttentionRecommender(len(VOCABULARY), MAX_LENGTH)
        candidate = _candidate(model, float(ndcg))
        publish_candidate(
            candidate, root, name, keep=int(keep), latency_requests=5, progress=report
        )
    else:
        raise ValueError(f"Expected training, pipeline, alerts or publish. Received: kind={kind!r}")
    print("DONE", flush=True)


PRELOAD = {
    "training": ("models.recommender.training", "tests.reliability.support"),
    "pipeline": ("pipeline.events",),
    "alerts": ("seqlens.alerts.monitor", "tests.reliability.support"),
    "publish": ("models.serving.publish", "tests.models.serving.test_publish"),
}


def serve_forks(kind: str) -> int:
    """The fork server: import KIND's modules once, then fork one child per command line."""
    import importlib
    import json
    import traceback

    for module in PRELOAD[kind]:
        importlib.import_module(module)
    print("READY", flush=True)
    for line in sys.stdin:
        command = json.loads(line)
        sys.stdout.flush()
        pid = os.fork()
        if pid == 0:
            code = 0
            try:
                print(f"PID {os.getpid()}", flush=True)
                run(kind, int(command["pause_at"]), command["arguments"], wait_for_stdin=False)
            except BaseException:  # a child reports any failure as its exit code
                traceback.print_exc()
                code = 1
            finally:
                sys.stdout.flush()
                sys.stderr.flush()
                os._exit(code)
        _, status = os.waitpid(pid, 0)
        print(f"EXIT {os.waitstatus_to_exitcode(status)}", flush=True)
    return 0


def main(argv: list[str]) -> int:
    if argv[0] == "zygote":
        return serve_forks(argv[1])
    run(argv[0], int(argv[1]), argv[2:])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
