"""Time SavedModel signatures with one intra-op thread (`--tensorflow_intra_op_parallelism=1`).

TensorFlow fixes its thread pools when it starts, so `bench/serving.py` runs this in a child
process for the side-by-side rows. Single requests: `--warmup` untimed calls per model, then
`--requests` timed calls per model in `--rounds` rounds (alternating order), each round started by
a `go` line on stdin and answered by `done` (so the parent interleaves its own paths with ours);
throughput: one warm-up batch, then `--batches` timed batches of all the histories given.

    python bench/serving_one_thread.py --savedmodel NAME=DIR [...] --histories FILE.json

Prints `ready`, a `done` per round, then JSON: `{NAME: {"single_request_ms": [...],
"users_per_second": float}}`.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(PROJECT_ROOT))


def parse_savedmodel(value: str) -> tuple[str, str]:
    name, separator, folder = value.partition("=")
    if not separator or not name or not folder:
        raise argparse.ArgumentTypeError(f"Expected NAME=DIR. Received: {value!r}")
    return name, folder


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--savedmodel",
        type=parse_savedmodel,
        action="append",
        required=True,
        help="NAME=DIR of a SavedModel with the recommender's serving_default signature",
    )
    parser.add_argument(
        "--histories", required=True, help="JSON list of histories (lists of item ids)"
    )
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=200)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--batches", type=int, default=20)
    parser.add_argument(
        "--rounds",
        type=int,
        default=10,
        help="rounds of --requests / rounds calls per model, each started by a 'go' line on stdin",
    )
    args = parser.parse_args(argv)

    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(1)
    from bench.serving import time_round, users_per_second
    from models.serving.recommender_signature import pad_histories

    histories = json.loads(Path(args.histories).read_text())
    signatures = {
        name: tf.saved_model.load(folder).signatures["serving_default"]
        for name, folder in args.savedmodel
    }
    single_k = tf.constant([args.k], tf.int32)

    def caller(signature):
        return lambda batch, k_tensor: signature(
            history=tf.constant(pad_histories(batch)), k=k_tensor
        )

    calls = {name: caller(signature) for name, signature in signatures.items()}
    for call in calls.values():
        for index in range(args.warmup):
            call([histories[index % len(histories)]], single_k)
    timings: dict[str, list[float]] = {name: [] for name in signatures}
    per_round = {name: max(1, args.requests // args.rounds) for name in signatures}
    print("ready", flush=True)
    for round_index in range(args.rounds):
        if sys.stdin.readline().strip() != "go":
            raise SystemExit("Expected a 'go' line on stdin for every round.")
        time_round(calls, per_round, round_index, histories, single_k, timings)
        print("done", flush=True)
    batch_k = tf.fill([len(histories)], tf.constant(args.k, tf.int32))
    results = {
        name: {
            "single_request_ms": timings[name],
            "users_per_second": users_per_second(calls[name], histories, batch_k, args.batches),
        }
        for name in signatures
    }
    print(json.dumps(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
