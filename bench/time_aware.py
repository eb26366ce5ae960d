"""Benchmark time-aware self-attention (`--time-intervals`) against the plain SASRec model.

On MovieLens latest-small (`ratings.csv`, real Unix timestamps) and on the demo's generated
events (`seqlens generate`, timestamps planted by the generator), both through `seqlens pipeline
events`: train the default SASRec configuration twice, plain and with `time_intervals=True` (a
learned bias per head and log2-bucketed time interval, `models/layers/time_interval_attention.py`),
everything else equal, then rank the same test targets under `full` (every item) and
`sampled100`, side by side in one run.

    .venv/bin/python bench/time_aware.py [--data ../shared/data] [--datasets movielens demo]
        [--work /tmp/seqlens-bench-time-aware] [--epochs N] [--demo-users N]

Writes `bench/results/time_aware.json` (the figures, the configs, the machine, the command) and
prints a Markdown table to stdout for the lead to place in BENCHMARKS.md. Model folders and the
pipeline's outputs go to `--work` (a re-run reuses a finished pipeline run and resumes training).
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import json
import platform
import shlex
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SEQLENS = [sys.executable, "-m", "seqlens.cli"]  # the same interpreter as this script
VARIANTS = {"plain": {}, "time_intervals": {"time_intervals": True}}
METRICS = ("full/NDCG@10", "full/HR@10", "sampled100/NDCG@10", "sampled100/HR@10")


def events_run(arguments: argparse.Namespace, name: str, work: Path) -> Path:
    """The `seqlens pipeline events` run folder of a data set (made once, then reused)."""
    output = work / "events"
    if (output / "vocab" / "items.txt").exists():
        return output
    if name == "movielens":
        source, input_format = (
            Path(arguments.data) / "movielens-latest-small/ratings.csv",
            "movielens",
        )
    else:
        raw = work / "raw"
        if not (raw / "events.csv").exists():
            command = [*SEQLENS, "generate", "--output", str(raw), "--seed", "0"]
            if arguments.demo_users:
                command += ["--users", str(arguments.demo_users)]
            subprocess.run(command, check=True)
        source, input_format = raw / "events.csv", "csv"
    subprocess.run(
        [*SEQLENS, "pipeline", "events", "--input", str(source), "--format", input_format,
         "--output", str(output)],
        check=True,
    )  # fmt: skip
    return output


def run_dataset(name: str, arguments: argparse.Namespace) -> dict:
    from models.recommender.config import RecommenderConfig
    from models.recommender.evaluation import evaluate_recommender_folder
    from models.recommender.sequence_data import load_sequence_data
    from models.recommender.training import train_recommender

    work = Path(arguments.work) / name
    run = events_run(arguments, name, work)
    data = load_sequence_data(run)
    if not data.has_timestamps:
        raise ValueError(f"Expected sequences with timestamps. Received: events run {run}")
    result: dict = {"events_run": str(run), "users": len(data.sequences), "variants": {}}
    for variant, overrides in VARIANTS.items():
        settings = {"seed": arguments.seed, **overrides}
        if arguments.epochs is not None:
            settings["epochs"] = arguments.epochs
        config = RecommenderConfig(**settings)
        folder = work / variant
        started = time.perf_counter()
        _, history = train_recommender(data, folder, config, resume=True, verbose=0)
        seconds = time.perf_counter() - started
        document = evaluate_recommender_folder(folder, data, seed=arguments.seed)
        result["variants"][variant] = {
            "metrics": {key: document["flat"][f"recommender/{key}"] for key in METRICS},
            "epochs_run": len(history),
            "best_valid_full_ndcg_at_10": max(e["valid/full/NDCG@10"] for e in history),
            "training_seconds_this_invocation": seconds,
            "config": dataclasses.asdict(config),
        }
    plain = result["variants"]["plain"]["metrics"]["full/NDCG@10"]
    timed = result["variants"]["time_intervals"]["metrics"]["full/NDCG@10"]
    result["full_ndcg_at_10_ratio_time_over_plain"] = timed / plain if plain else None
    return result


def markdown(results: dict) -> str:
    lines = [
        "| data | model | full NDCG@10 | full HR@10 | sampled100 NDCG@10 | sampled100 HR@10 |",
        "|---|---|---|---|---|---|",
    ]
    for name, result in results.items():
        for variant, figures in result["variants"].items():
            values = " | ".join(f"{figures['metrics'][key]:.4f}" for key in METRICS)
            lines.append(f"| {name} | {variant} | {values} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(ROOT.parent / "shared" / "data"))
    parser.add_argument("--datasets", nargs="+", default=["movielens", "demo"],
                        choices=["movielens", "demo"])  # fmt: skip
    parser.add_argument("--work", default="/tmp/seqlens-bench-time-aware")
    parser.add_argument("--epochs", type=int, default=None, help="override (smoke tests)")
    parser.add_argument("--demo-users", type=int, default=None, help="override (smoke tests)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--output", default=str(ROOT / "bench" / "results" / "time_aware.json"))
    arguments = parser.parse_args(argv)
    started = time.perf_counter()
    results = {name: run_dataset(name, arguments) for name in arguments.datasets}
    document = {
        "benchmark": "time-aware self-attention vs plain SASRec",
        "command": shlex.join([sys.executable, *sys.argv]),
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "machine": f"{platform.machine()}, {platform.processor() or 'cpu'}",
        "protocols": "full: every item ranked, history excluded; sampled100: 100 seeded negatives",
        "wall_seconds": time.perf_counter() - started,
        "results": results,
    }
    Path(arguments.output).parent.mkdir(parents=True, exist_ok=True)
    Path(arguments.output).write_text(json.dumps(document, indent=2))
    print(markdown(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
