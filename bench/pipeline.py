"""Benchmark: the Beam events pipeline vs a plain pandas implementation, side by side.

Measures events per second end to end (file in -> Parquet out) and the peak RSS of each
implementation, each run in a fresh subprocess (so imports and memory do not leak between
runs; the clock starts after the imports and covers reading, transforming and writing), on:

- MovieLens `ratings.csv` (`../shared/data/movielens-latest-small/`),
- the SASRec `Games.txt` (also checks the 31,013 / 23,715 / 287,107 users/items/actions),
- a generated 5-million-event CSV (written under `bench/work/`, git-ignored).

Runs: `pandas` (the single-machine baseline), `beam` (FnApiRunner, one process), and
`beam-2proc` (`--runner=DirectRunner --direct_num_workers=2
--direct_running_mode=multi_processing`).

Usage: `.venv/bin/python bench/pipeline.py [--data ../shared/data] [--events 5000000]`
Writes `bench/results/pipeline.json` and `bench/sections/pipeline.md`.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# This script is `bench/pipeline.py`: keep its folder off the path so that `import pipeline`
# finds the project's package, and load the baseline module by file name.
sys.path[:] = [entry for entry in sys.path if Path(entry or ".").resolve() != ROOT / "bench"]
sys.path.insert(0, str(ROOT))


def _baseline():
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "pipeline_baseline", ROOT / "bench" / "pipeline_baseline.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


GAMES_EXPECTED = {"users": 31_013, "items": 23_715, "actions": 287_107}
MULTIPROCESS_ARGS = ["--direct_num_workers=2", "--direct_running_mode=multi_processing"]


def _measure(kind: str, input_path: str, input_format: str, output: str) -> dict:
    """Run one implementation in this process; returns seconds, stats and peak RSS."""
    if kind == "pandas":
        run_pandas_events = _baseline().run_pandas_events
        options = {
            "movielens": {"names": {"userId": "user_id", "movieId": "item_id", "rating": "value"}},
            "sasrec": {
                "sep": " ",
                "header": None,
                "names": ["user_id", "item_id"],
                "position_as_time": True,
            },
        }.get(input_format, {})
        started = time.perf_counter()
        stats = run_pandas_events(input_path, output, **options)
    else:
        from pipeline.events import run_events_pipeline

        runner, args = (
            ("DirectRunner", MULTIPROCESS_ARGS) if kind == "beam-2proc" else ("FnApiRunner", [])
        )
        started = time.perf_counter()
        stats = run_events_pipeline(
            input_path, output, input_format=input_format, runner=runner, pipeline_args=args
        )
    seconds = time.perf_counter() - started
    return {
        "seconds": round(seconds, 3),
        "peak_rss_mib": _peak_rss_mib(),
        "peak_rss_children_mib": round(
            resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, 1
        ),
        "stats": {
            key: stats.get(key)
            for key in ("rows_in", "rows_out", "rows_dead", "users", "items", "dead_by_reason")
        },
    }


def _peak_rss_mib() -> float:
    """This process's peak resident set size (`VmHWM`; unlike `ru_maxrss` it is not inherited
    from the parent across `exec`)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return round(int(line.split()[1]) / 1024, 1)
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def _run_subprocess(kind: str, input_path: str, input_format: str, output: Path) -> dict:
    command = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--measure",
        kind,
        "--input",
        input_path,
        "--format",
        input_format,
        "--output",
        str(output),
    ]
    result = subprocess.run(command, capture_output=True, text=True, check=False, cwd=ROOT)
    if result.returncode != 0:
        raise RuntimeError(f"{kind} on {input_path} failed:\n{result.stderr[-3000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def _dataset_rows(name: str, path: str, input_format: str, work: Path, kinds: list[str]) -> dict:
    runs = {}
    for kind in kinds:
        measured = _run_subprocess(kind, path, input_format, work / f"out-{name}-{kind}")
        measured["events_per_second"] = round(measured["stats"]["rows_in"] / measured["seconds"])
        runs[kind] = measured
        print(
            f"{name:10s} {kind:10s} {measured['seconds']:8.2f} s  "
            f"{measured['events_per_second']:>10,} ev/s  peak RSS {measured['peak_rss_mib']:.0f} "
            "MiB",
            flush=True,
        )
    _compare_to_pandas(runs)
    return runs


def _compare_to_pandas(runs: dict) -> None:
    """Add each Beam run's throughput ratio to pandas and whether their counts agree."""
    if "pandas" not in runs:
        return
    keys = ("rows_in", "rows_out", "rows_dead", "users", "items")
    for kind, run in runs.items():
        if kind == "pandas":
            continue
        run["throughput_ratio_to_pandas"] = round(
            run["events_per_second"] / runs["pandas"]["events_per_second"], 3
        )
        run["counts_agree_with_pandas"] = (
            all(run["stats"][key] == runs["pandas"]["stats"][key] for key in keys)
            and run["stats"]["dead_by_reason"] == runs["pandas"]["stats"]["dead_by_reason"]
        )


def rewrite_report(results_path: Path) -> None:
    """Recompute the derived figures and the Markdown section from an existing results file."""
    results = json.loads(results_path.read_text())
    for runs in results["datasets"].values():
        _compare_to_pandas(runs)
    results_path.write_text(json.dumps(results, indent=2) + "\n")
    (ROOT / "bench" / "sections" / "pipeline.md").write_text(_markdown(results))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", default=str(ROOT / ".." / "shared" / "data"))
    parser.add_argument("--events", type=int, default=5_000_000, help="size of the generated log")
    parser.add_argument("--work", default=str(ROOT / "bench" / "work" / "pipeline"))
    parser.add_argument("--kinds", default="pandas,beam,beam-2proc")
    parser.add_argument("--measure", help=argparse.SUPPRESS)
    parser.add_argument("--input", help=argparse.SUPPRESS)
    parser.add_argument("--format", help=argparse.SUPPRESS)
    parser.add_argument("--output", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(_measure(args.measure, args.input, args.format, args.output)))
        return 0

    generate_event_csv = _baseline().generate_event_csv
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    kinds = args.kinds.split(",")
    data = Path(args.data)
    generated = work / f"events_{args.events}.csv"
    generation = None
    if not generated.exists():
        started = time.perf_counter()
        generation = generate_event_csv(generated, args.events)
        generation["seconds"] = round(time.perf_counter() - started, 2)
    load_before = os.getloadavg()
    datasets = {}
    movielens = data / "movielens-latest-small" / "ratings.csv"
    games = data / "sasrec-games" / "Games.txt"
    if movielens.exists():
        datasets["movielens"] = _dataset_rows("movielens", str(movielens), "movielens", work, kinds)
    if games.exists():
        datasets["games"] = _dataset_rows("games", str(games), "sasrec", work, kinds)
    datasets[f"generated_{args.events}"] = _dataset_rows(
        f"generated_{args.events}", str(generated), "csv", work, kinds
    )
    games_check = None
    if "games" in datasets and "beam" in datasets["games"]:
        stats = datasets["games"]["beam"]["stats"]
        measured = {"users": stats["users"], "items": stats["items"], "actions": stats["rows_out"]}
        games_check = {
            "expected": GAMES_EXPECTED,
            "measured": measured,
            "exact_match": measured == GAMES_EXPECTED,
        }
    results = {
        "benchmark": "pipeline",
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "command": " ".join([".venv/bin/python", "bench/pipeline.py"] + sys.argv[1:]),
        "machine": {
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "python": platform.python_version(),
            "note": "2-core CPU, 24 GiB, shared with other jobs",
            "load_average_before": [round(value, 2) for value in load_before],
            "load_average_after": [round(value, 2) for value in os.getloadavg()],
        },
        "protocol": (
            "Each run in a fresh subprocess, one run each, in the order pandas, beam, beam-2proc "
            "per data set. Wall clock from just before the pipeline call (after imports) to its "
            "return: reading the file, validating, dead-lettering, deduplicating, ordering, "
            "leave-one-out positions, item vocabulary, stats and writing Parquet. "
            "events_per_second = rows_in / seconds. peak_rss_mib = VmHWM of the measuring process "
            "(beam-2proc: the largest of its SDK worker processes is in peak_rss_children_mib, "
            "ru_maxrss of the waited-for children). Filtering and truncation off (defaults)."
        ),
        "generated_log": {
            "path": str(generated.relative_to(ROOT))
            if generated.is_relative_to(ROOT)
            else str(generated),
            "events": args.events,
            "generation": generation,
        },
        "games_counts_check": games_check,
        "datasets": datasets,
    }
    (ROOT / "bench" / "results").mkdir(parents=True, exist_ok=True)
    (ROOT / "bench" / "results" / "pipeline.json").write_text(json.dumps(results, indent=2) + "\n")
    (ROOT / "bench" / "sections" / "pipeline.md").write_text(_markdown(results))
    return 0


def _markdown(results: dict) -> str:
    lines = [
        "## Pipeline: Beam vs pandas, events per second end to end",
        "",
        f"Command: `{results['command']}`  ",
        f"Machine: {results['machine']['note']} (load average before/after: "
        f"{results['machine']['load_average_before']} / "
        f"{results['machine']['load_average_after']}).  ",
        f"Date: {results['date']}.",
        "",
        f"Protocol: {results['protocol']}",
        "",
        "| data set | implementation | rows in | seconds | events/s | Beam / pandas | peak RSS MiB "
        "|",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for name, runs in results["datasets"].items():
        for kind, run in runs.items():
            ratio = run.get("throughput_ratio_to_pandas")
            rss = run["peak_rss_mib"]
            if kind == "beam-2proc":
                rss = f"{rss} (+ workers {run['peak_rss_children_mib']})"
            lines.append(
                f"| {name} | {kind} | {run['stats']['rows_in']:,} | {run['seconds']:.2f} | "
                f"{run['events_per_second']:,} | {'' if ratio is None else ratio} | {rss} |"
            )
    check = results.get("games_counts_check")
    if check:
        lines += [
            "",
            f"SASRec Games counts (filtering off): measured {check['measured']}, expected "
            f"{check['expected']}: {'exact match' if check['exact_match'] else 'MISMATCH'}.",
        ]
    agree = all(
        run.get("counts_agree_with_pandas", True)
        for runs in results["datasets"].values()
        for run in runs.values()
    )
    lines += [
        "",
        f"Beam and pandas produce the same counts on every data set (rows in/out/dead, dead "
        f"letters by reason, users, items): {'yes' if agree else 'NO'}.",
        "",
        "Target (issue 2): Beam >= 1/3 of the pandas throughput at 5M events. `beam-2proc` pays "
        "for starting two SDK worker processes (each imports Beam, pyarrow and pandas) and for "
        "moving every element through the Fn API data plane; on a machine this loaded that fixed "
        "cost dominates the small logs. Inside a DoFn the CSV block is parsed by Arrow's reader, "
        "which may use both cores; pandas' `read_csv` (C engine) and `groupby().agg(list)` use "
        "one.",
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
