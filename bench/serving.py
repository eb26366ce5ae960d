"""Serving latency and throughput: the exported SavedModel signature vs the Keras model.

Protocol (written to bench/results/serving.json with every figure):
- catalogue: the Amazon Games item vocabulary (23,715 items, from `sasrec-games/Games.txt`,
  sorted by count); model: the trained recommender folder given with `--model`, else an
  untrained `SASRecModel` of the default `RecommenderConfig` (hidden 64, 2 blocks, 2 heads,
  max_length 50): latency does not depend on the weights.
- requests: histories of 50 item-id strings drawn (seeded) from the catalogue with probability
  proportional to their count, k = 10, top-k excluding the history.
- single-request latency: one user per call; `--warmup` calls, then `--requests` timed calls per
  path, interleaved in rounds (SavedModel, Keras, Keras, SavedModel, ...) so both see the same
  machine load; p50 / p90 / p99 / mean in milliseconds.
- throughput: batches of 256 users, `--batches` timed batches per path after one warm-up batch.
- paths: `savedmodel_signature` = `tf.saved_model.load(dir).signatures["serving_default"]` (what
  TF Serving runs, minus its RPC layer); `keras_recommend` = `Recommender.recommend` (the Python
  API the dashboard uses: eager Keras forward + NumPy top-k); `keras_score_last_eager` = the
  eager Keras forward alone (`model.score_last`), no top-k.

Usage: .venv/bin/python bench/serving.py [--data ../shared/data] [--model DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import numpy as np

PROJECT_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(PROJECT_ROOT))

from bench.machine_state import StealMeter, reference_loop_seconds  # noqa: E402

HISTORY_LENGTH = 50
TOP_K = 10
BATCH_SIZE = 256


def games_vocabulary(data: Path) -> tuple[list[str], np.ndarray]:
    """Item ids of Games.txt sorted by count (then id), and their counts."""
    counts: Counter[str] = Counter()
    with open(data / "sasrec-games" / "Games.txt", encoding="utf-8") as handle:
        for line in handle:
            parts = line.split()
            if len(parts) == 2:
                counts[parts[1]] += 1
    ranked = sorted(counts.items(), key=lambda pair: (-pair[1], pair[0]))
    return [item for item, _ in ranked], np.array([count for _, count in ranked], dtype="float64")


def load_or_build_recommender(model_dir: str | None, item_ids: list[str]):
    from models.recommender.inference import Recommender, load_recommender

    if model_dir:
        return load_recommender(model_dir), f"trained model {model_dir}"
    from models.recommender.config import RecommenderConfig
    from models.recommender.model import SASRecModel
    from models.recommender.sequence_data import ITEM_INDEX_OFFSET

    config = RecommenderConfig()
    model = SASRecModel(
        len(item_ids) + ITEM_INDEX_OFFSET,
        hidden_dim=config.hidden_dim,
        max_length=config.max_length,
        num_blocks=config.num_blocks,
        num_heads=config.num_heads,
        dropout=config.dropout,
    )
    model(np.zeros((1, config.max_length), dtype="int32"))
    return Recommender(
        model, item_ids, config.to_dict()
    ), "untrained SASRecModel, default RecommenderConfig"


class OneIntraOpThreadChild:
    """bench/serving_one_thread.py in a child process, timing its round when the parent says so.

    TensorFlow fixes its thread pools at start-up, so the one-thread configuration needs its own
    process; stepping it round by round keeps it interleaved with the parent's paths.
    """

    def __init__(
        self,
        export_dirs: dict[str, Path],
        histories: list[list[str]],
        folder: Path,
        args: argparse.Namespace,
        rounds: int,
    ) -> None:
        histories_path = folder / "histories.json"
        histories_path.write_text(json.dumps(histories))
        command = [
            sys.executable,
            str(PROJECT_ROOT / "bench" / "serving_one_thread.py"),
            "--histories",
            str(histories_path),
            "--k",
            str(TOP_K),
            "--warmup",
            str(args.warmup),
            "--requests",
            str(args.requests),
            "--batches",
            str(args.batches),
            "--rounds",
            str(rounds),
            *(
                argument
                for name, path in export_dirs.items()
                for argument in ("--savedmodel", f"{name}={path}")
            ),
        ]
        self.process = subprocess.Popen(
            command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )
        self._expect("ready")

    def _expect(self, word: str) -> None:
        """Read the child's output up to a line `word` (other lines, e.g. notices, are skipped)."""
        for line in self.process.stdout:
            if line.strip() == word:
                return
        self.process.kill()
        raise RuntimeError(
            f"Expected {word!r} from bench/serving_one_thread.py. Received: end of output "
            f"(exit code {self.process.wait()})"
        )

    def run_round(self) -> None:
        self.process.stdin.write("go\n")
        self.process.stdin.flush()
        self._expect("done")

    def finish(self) -> dict[str, dict]:
        """Close the rounds: `{name: {"single_request_ms": [...], "users_per_second": x}}`."""
        output, _ = self.process.communicate()
        if self.process.returncode != 0:
            raise RuntimeError(f"bench/serving_one_thread.py exited with {self.process.returncode}")
        return json.loads(output.strip().splitlines()[-1])


def time_round(
    calls: dict,
    per_round: dict[str, int],
    round_index: int,
    histories: list[list[str]],
    k_tensor,
    timings: dict[str, list[float]],
) -> None:
    """One round of single-request calls per path (alternating order), added to `timings` in ms."""
    order = list(calls) if round_index % 2 == 0 else list(reversed(calls))
    for name in order:
        for index in range(per_round[name]):
            history = [histories[(round_index * per_round[name] + index) % len(histories)]]
            start = time.perf_counter()
            calls[name](history, k_tensor)
            timings[name].append((time.perf_counter() - start) * 1000.0)


def users_per_second(call, batch: list[list[str]], k_tensor, batches: int) -> float:
    """Throughput of `call` on `batch`: one warm-up call, then `batches` timed calls."""
    call(batch, k_tensor)
    start = time.perf_counter()
    for _ in range(batches):
        call(batch, k_tensor)
    return round(len(batch) * batches / (time.perf_counter() - start), 1)


def percentiles(timings_ms: list[float]) -> dict[str, float]:
    values = np.asarray(timings_ms)
    return {
        "p50_ms": round(float(np.percentile(values, 50)), 3),
        "p90_ms": round(float(np.percentile(values, 90)), 3),
        "p99_ms": round(float(np.percentile(values, 99)), 3),
        "mean_ms": round(float(values.mean()), 3),
        "requests": int(values.size),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(PROJECT_ROOT.parent / "shared" / "data"))
    parser.add_argument(
        "--model", help="trained recommender folder (default: untrained default config)"
    )
    parser.add_argument(
        "--requests", type=int, default=2000, help="timed single requests, SavedModel"
    )
    parser.add_argument(
        "--keras-requests",
        type=int,
        default=300,
        help="timed single requests per Keras path (eager Keras is ~100x slower)",
    )
    parser.add_argument(
        "--warmup", type=int, default=200, help="untimed single requests per path first"
    )
    parser.add_argument("--batches", type=int, default=20, help="timed batches of 256 per path")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--machine-note",
        default="",
        help="what else ran on the machine (the load average is recorded anyway)",
    )
    parser.add_argument(
        "--output", default=str(PROJECT_ROOT / "bench" / "results" / "serving.json")
    )
    parser.add_argument(
        "--section", default=str(PROJECT_ROOT / "bench" / "sections" / "serving.md")
    )
    args = parser.parse_args(argv)

    import tensorflow as tf

    from models.serving.recommender_candidate import recommender_spec
    from models.serving.recommender_signature import export_recommender_savedmodel, pad_histories

    item_ids, counts = games_vocabulary(Path(args.data))
    recommender, model_label = load_or_build_recommender(args.model, item_ids)
    rng = np.random.default_rng(args.seed)
    probabilities = counts / counts.sum()

    def draw_histories(users: int) -> list[list[str]]:
        return [
            [item_ids[i] for i in rng.choice(len(item_ids), HISTORY_LENGTH, p=probabilities)]
            for _ in range(users)
        ]

    with tempfile.TemporaryDirectory(prefix="seqlens-bench-serving-") as folder:
        started = time.perf_counter()
        export_dir = export_recommender_savedmodel(
            recommender.model, recommender_spec(recommender), Path(folder) / "1", "recommender"
        )
        export_seconds = time.perf_counter() - started
        started = time.perf_counter()
        signature = tf.saved_model.load(str(export_dir)).signatures["serving_default"]
        load_seconds = time.perf_counter() - started
        xla_dir = export_recommender_savedmodel(
            recommender.model,
            recommender_spec(recommender),
            Path(folder) / "2",
            "recommender",
            jit_compile=True,
        )
        xla_signature = tf.saved_model.load(str(xla_dir)).signatures["serving_default"]

        single_k = tf.constant([TOP_K], tf.int32)
        paths = {
            "savedmodel_signature": lambda histories, k_tensor: signature(
                history=tf.constant(pad_histories(histories)), k=k_tensor
            ),
            "savedmodel_signature_xla": lambda histories, k_tensor: xla_signature(
                history=tf.constant(pad_histories(histories)), k=k_tensor
            ),
            "keras_recommend": lambda histories, k_tensor: recommender.recommend(
                histories, k=TOP_K
            ),
            "keras_score_last_eager": lambda histories, k_tensor: recommender.model.score_last(
                np.stack([recommender.encode(history) for history in histories])
            ),
        }
        requests = draw_histories(256)
        for call in paths.values():  # warm-up (tracing, allocation)
            for index in range(args.warmup):
                call([requests[index % len(requests)]], single_k)
        # The same SavedModels with one intra-op thread (TF Serving's
        # --tensorflow_intra_op_parallelism=1), in a child process that takes part in every round.
        rounds = 10
        one_thread = OneIntraOpThreadChild(
            {"savedmodel_signature": export_dir, "savedmodel_signature_xla": xla_dir},
            requests,
            Path(folder),
            args,
            rounds,
        )
        steal = StealMeter()
        timings: dict[str, list[float]] = {name: [] for name in paths}
        per_round = {
            name: max(
                1,
                (args.requests if name.startswith("savedmodel") else args.keras_requests) // rounds,
            )
            for name in paths
        }
        for round_index in range(rounds):
            time_round(paths, per_round, round_index, requests, single_k, timings)
            one_thread.run_round()
        one_thread_results = one_thread.finish()  # after its throughput batches

        batch = draw_histories(BATCH_SIZE)
        batch_k = tf.fill([BATCH_SIZE], tf.constant(TOP_K, tf.int32))
        throughput = {
            name: {
                "users_per_second": users_per_second(call, batch, batch_k, args.batches),
                "batches": args.batches,
                "batch_size": BATCH_SIZE,
            }
            for name, call in paths.items()
        }
        for name, figures in one_thread_results.items():
            timings[f"{name}_one_intra_op_thread"] = figures["single_request_ms"]
            throughput[f"{name}_one_intra_op_thread"] = {
                "users_per_second": figures["users_per_second"],
                "batches": args.batches,
                "batch_size": BATCH_SIZE,
            }

    stolen = steal.fraction()
    single = {name: percentiles(values) for name, values in timings.items()}
    savedmodel = single["savedmodel_signature"]
    result = {
        "benchmark": "serving",
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "command": " ".join([".venv/bin/python", "bench/serving.py", *(argv or sys.argv[1:])]),
        "machine": {
            "description": "2-core CPU, 24 GiB"
            + (f", {args.machine_note}" if args.machine_note else ""),
            "cpu_count": os.cpu_count(),
            "platform": platform.platform(),
            "python": platform.python_version(),
            "tensorflow": tf.__version__,
            "load_average_at_end": list(os.getloadavg()),
            "reference_python_loop_seconds_at_end": reference_loop_seconds(),
            "cpu_time_stolen_by_hypervisor_fraction_while_timing": stolen,
        },
        "protocol": {
            "catalogue": "Amazon Games (sasrec-games/Games.txt) item ids sorted by count",
            "catalogue_items": len(item_ids),
            "model": model_label,
            "max_length": recommender.max_length,
            "history_length": HISTORY_LENGTH,
            "k": TOP_K,
            "histories": "50 item ids drawn with probability proportional to their count, seed "
            f"{args.seed}",
            "single_request": f"batch of 1; {args.warmup} warm-up calls per path, then "
            f"{per_round['savedmodel_signature'] * rounds} timed calls through the "
            f"SavedModel and {per_round['keras_recommend'] * rounds} per Keras path "
            f"(eager Keras is far slower), interleaved in {rounds} rounds "
            "(alternating order)",
            "throughput": (
                f"batch of {BATCH_SIZE} users, one warm-up batch, {args.batches} timed batches"
            ),
            "paths": {
                "savedmodel_signature": "tf.saved_model.load(...).signatures['serving_default'] "
                "(string ids in, top-k + attention out; what TF Serving runs)",
                "savedmodel_signature_xla": "the same, exported with `--xla`: the model's forward "
                "pass and the catalogue scoring compiled by XLA as one cluster, history exclusion "
                "and top-k as ordinary ops (TF Serving needs --xla_cpu_compilation_enabled=true to "
                "run it)",
                "savedmodel_signature_one_intra_op_thread": "savedmodel_signature in a process "
                "with one intra-op thread (TF Serving's --tensorflow_intra_op_parallelism=1; a "
                "child process taking part in every round, same requests)",
                "savedmodel_signature_xla_one_intra_op_thread": (
                    "savedmodel_signature_xla, one intra-op thread"
                ),
                "keras_recommend": "models.recommender.inference.Recommender.recommend "
                "(eager Keras forward + NumPy top-k)",
                "keras_score_last_eager": "model.score_last eager forward only, no top-k",
            },
            "targets": {"p50_ms": 2.0, "p99_ms": 5.0},
        },
        "export_seconds": round(export_seconds, 2),
        "savedmodel_load_seconds": round(load_seconds, 2),
        "single_request_latency": single,
        "throughput_batch_256": throughput,
        "targets_met_per_savedmodel_path": {
            name: {"p50_le_2ms": figures["p50_ms"] <= 2.0, "p99_le_5ms": figures["p99_ms"] <= 5.0}
            for name, figures in single.items()
            if name.startswith("savedmodel")
        },
        "speedup_savedmodel_vs_keras_recommend_p50": round(
            single["keras_recommend"]["p50_ms"] / savedmodel["p50_ms"], 2
        ),
    }
    earlier = previous_run_summary(Path(args.output))
    if earlier:
        result["earlier_run_same_command"] = earlier
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    Path(args.output).write_text(json.dumps(result, indent=2) + "\n")
    Path(args.section).parent.mkdir(parents=True, exist_ok=True)
    Path(args.section).write_text(markdown_section(result))
    print(
        json.dumps({"single_request_latency": single, "throughput_batch_256": throughput}, indent=2)
    )
    return 0


def previous_run_summary(path: Path) -> dict | None:
    """The SavedModel figures of the run recorded at `path` (before this one overwrites it)."""
    if not path.exists():
        return None
    previous = json.loads(path.read_text())
    machine = previous["machine"]
    notes = [machine["description"]]
    if (stolen := machine.get("cpu_time_stolen_by_hypervisor_fraction_while_timing")) is not None:
        notes.append(f"{stolen:.1%} of the CPU stolen while timing")
    if (loop := machine.get("reference_python_loop_seconds_at_end")) is not None:
        notes.append(f"reference Python loop {loop} s")
    latency = {
        name: figures
        for name, figures in previous["single_request_latency"].items()
        if name in ("savedmodel_signature", "savedmodel_signature_xla")
    }
    return {
        "date": previous["date"],
        "note": "; ".join(notes),
        "p50_ms": {name: figures["p50_ms"] for name, figures in latency.items()},
        "p99_ms": {name: figures["p99_ms"] for name, figures in latency.items()},
    }


def earlier_run_lines(earlier: dict | None) -> list[str]:
    """A line for an earlier run of the same command in the JSON (`earlier_run_same_command`)."""
    if not earlier:
        return []
    figures = " / ".join(f"{earlier['p50_ms'][name]:.2f}" for name in earlier["p50_ms"])
    tails = " / ".join(f"{earlier['p99_ms'][name]:.2f}" for name in earlier["p99_ms"])
    return [
        f"An earlier run of the same command ({earlier['date']}, {earlier['note']}) measured p50 "
        f"{figures} ms "
        f"and p99 {tails} ms ({' / '.join(earlier['p50_ms'])})."
    ]


def markdown_section(result: dict) -> str:
    protocol = result["protocol"]
    lines = [
        "## Serving: SavedModel signature vs Keras",
        "",
        f"Command: `{result['command']}`  ",
        f"Machine: {result['machine']['description']}; TensorFlow "
        f"{result['machine']['tensorflow']}; "
        "load average at the end "
        + ", ".join(f"{value:.1f}" for value in result["machine"]["load_average_at_end"])
        + (
            f"; CPU time stolen by the hypervisor while timing: {stolen:.1%}"
            if (
                stolen := result["machine"].get(
                    "cpu_time_stolen_by_hypervisor_fraction_while_timing"
                )
            )
            is not None
            else ""
        )
        + (
            f"; reference pure-Python loop (bench/machine_state.py, lower = faster host) {loop} s  "
            if (loop := result["machine"].get("reference_python_loop_seconds_at_end")) is not None
            else "  "
        ),
        f"Date: {result['date']}",
        "",
        f"Catalogue {protocol['catalogue_items']:,} items (Games), {protocol['model']}, history of "
        f"{protocol['history_length']} ids, k = {protocol['k']}. {protocol['single_request']}. "
        "Targets for the SavedModel: p50 <= 2 ms, p99 <= 5 ms.",
        "",
        "| path | p50 ms | p90 ms | p99 ms | mean ms | users/s at batch 256 |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for name, figures in result["single_request_latency"].items():
        users = result["throughput_batch_256"][name]["users_per_second"]
        lines.append(
            f"| {name} | {figures['p50_ms']:.2f} | {figures['p90_ms']:.2f} | "
            f"{figures['p99_ms']:.2f} | {figures['mean_ms']:.2f} | {users:,.0f} |"
        )
    per_path = result.get("targets_met_per_savedmodel_path") or {
        "savedmodel_signature": result["savedmodel_meets_targets"],
        "savedmodel_signature_xla": result["savedmodel_xla_meets_targets"],
    }
    lines += [
        "",
        "Targets met (p50 <= 2 ms; p99 <= 5 ms): "
        + "; ".join(
            f"`{name}` {'yes' if met['p50_le_2ms'] else 'no'}; "
            f"{'yes' if met['p99_le_5ms'] else 'no'}"
            for name, met in per_path.items()
        )
        + ". "
        "Default SavedModel p50 is "
        f"{result['speedup_savedmodel_vs_keras_recommend_p50']}x faster than "
        "`Recommender.recommend`. "
        f"Export took {result['export_seconds']} s, loading {result['savedmodel_load_seconds']} s.",
        "",
        "Paths: "
        + "; ".join(f"`{name}` = {text}" for name, text in protocol["paths"].items())
        + ".",
        "Paths are interleaved in rounds so they see the same machine load; compare paths within "
        "this table first.",
        *earlier_run_lines(result.get("earlier_run_same_command")),
        *(f"- {note}" for note in result.get("notes", [])),
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
