"""A real `publish_candidate` process for the concurrency and fault-injection tests.

Not a test module. Usage: `python -m tests.models.serving.publish_process ROOT NAME NDCG KEEP
[PAUSE_AT]`. Prints `STEP <step>` (flushed) at each step the publish reports through its
`progress` hook, and at `PAUSE_AT` prints `PAUSED <step>` and waits for a line on stdin: the
parent then kills it (SIGKILL) or lets it go on. Ends with `DECISION <json>`.
"""

from __future__ import annotations

import json
import sys


def main(argv: list[str]) -> int:
    root, name, ndcg, keep = argv[0], argv[1], float(argv[2]), int(argv[3])
    pause_at = argv[4] if len(argv) > 4 else None

    def progress(step: str) -> None:
        print(f"STEP {step}", flush=True)
        if step == pause_at:
            print(f"PAUSED {step}", flush=True)
            sys.stdin.readline()

    from models.serving.publish import publish_candidate
    from tests.models.serving.test_publish import (
        MAX_LENGTH,
        VOCABULARY,
        TinyAttentionRecommender,
        _candidate,
    )

    model = TinyAttentionRecommender(len(VOCABULARY), MAX_LENGTH)
    decision = publish_candidate(
        _candidate(model, ndcg), root, name, keep=keep, latency_requests=5, progress=progress
    )
    print("DECISION " + json.dumps(decision.log_entry(), default=str), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
