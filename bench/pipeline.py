"""Benchmark: the Beam events pipeline against the engines users would pick instead, same job.

Over 300 lines on purpose: one script measures, merges and reports (the measuring subprocess is
this file run with `--measure`), so the protocol is written in one place.

Measures events per second end to end (CSV in -> Parquet out: validate with reasons, dead
letters, dedup, ordering, leave-one-out positions, vocabulary, stats) and the peak RSS of each
implementation, each run in a fresh subprocess (imports and memory do not leak between runs;
the clock starts after the imports -- and, for `beam-dask`, after the cluster has started --
and covers reading, transforming and writing). Runs (`--kinds`):

- `duckdb`, `polars`, `pandas` (vectorised): `bench/pipeline_engines.py`, all threads;
- `pandas-agg-list`: the first pandas script (`groupby().agg(list)`, a Python list per user;
  about 40x slower than vectorised pandas: a reference, not a baseline);
- `beam`: `seqlens pipeline events` on the FnApiRunner (one process);
- `beam-2proc`: `--runner=DirectRunner --direct_num_workers=2
  --direct_running_mode=multi_processing`;
- `beam-dask`: `--runner=DaskRunner` on a `distributed.LocalCluster` of `--dask-workers` worker
  processes (1 thread each); its peak RSS adds the workers' (`VmHWM` of each).

On generated CSV logs of `--events` sizes (comma-separated, e.g. `2000000,5000000,50000000`;
written once under `bench/work/pipeline/`, git-ignored, block by block above 5M events), and
on the real MovieLens `ratings.csv` and SASRec `Games.txt` for `--real-kinds` (their formats
are the pipeline's named readers; the engines here read the generated CSV only).

Every engine's counts (rows in / out / dead, dead letters by reason, users, items) are checked
against Beam's on the same input; each figure's ratio to DuckDB's events/s is recorded.

Usage: `.venv/bin/python bench/pipeline.py --events 2000000,5000000`, then
`.venv/bin/python bench/pipeline.py --events 50000000 --kinds duckdb,polars,beam
--real-kinds '' --merge` and the same with `--kinds beam-dask --dask-report` (adds the 50M
figures to the same results; a run that fails stops its invocation only).
Writes `bench/results/pipeline.json` and `bench/sections/pipeline.md` (`--results`,
`--section` to write elsewhere, e.g. for a smoke test).
"""

from __future__ import annotations

import argparse
import contextlib
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
# finds the project's package, and load the helper modules by file name.
sys.path[:] = [entry for entry in sys.path if Path(entry or ".").resolve() != ROOT / "bench"]
sys.path.insert(0, str(ROOT))


def _bench_module(name: str):
    import importlib.util

    spec = importlib.util.spec_from_file_location(name, ROOT / "bench" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


GAMES_EXPECTED = {"users": 31_013, "items": 23_715, "actions": 287_107}
MULTIPROCESS_ARGS = ["--direct_num_workers=2", "--direct_running_mode=multi_processing"]
ENGINE_KINDS = ("duckdb", "polars", "pandas")
DEFAULT_KINDS = "duckdb,polars,pandas,beam,beam-2proc,beam-dask"
STAT_KEYS = ("rows_in", "rows_out", "rows_dead", "users", "items", "dead_by_reason")


def _measure(
    kind: str, input_path: str, input_format: str, output: str, workers: int, report: bool
) -> dict:
    """Run one implementation in this process; returns seconds, stats and peak RSS.

    `report`: for `beam-dask`, write the seconds its tasks spent per Beam step and action
    (compute, transfer, disk) to `<output>-dask-profile.json`: where the Dask run's time goes."""
    extra: dict = {}
    if kind in ENGINE_KINDS:
        if input_format != "csv":
            raise ValueError(f"Expected a generated CSV log for {kind}. Received: {input_format}")
        import importlib

        importlib.import_module(kind)  # the engine's import stays off the clock
        run = _bench_module("pipeline_engines").ENGINES[kind]
        started = time.perf_counter()
        stats = run(input_path, output)
        seconds = time.perf_counter() - started
    elif kind == "pandas-agg-list":
        run_pandas_events = _bench_module("pipeline_baseline").run_pandas_events
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
        seconds = time.perf_counter() - started
    elif kind == "beam-dask":
        import distributed

        from pipeline.events import run_events_pipeline

        with distributed.LocalCluster(
            n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster:
            args = [f"--dask_client_address={cluster.scheduler_address}"]
            with distributed.Client(cluster.scheduler_address) as client:
                stream = distributed.get_task_stream(client=client)
                with stream if report else contextlib.nullcontext():
                    started = time.perf_counter()
                    stats = run_events_pipeline(
                        input_path,
                        output,
                        input_format=input_format,
                        runner="DaskRunner",
                        pipeline_args=args,
                    )
                    seconds = time.perf_counter() - started
                extra["workers_peak_rss_mib"] = sorted(client.run(_peak_rss_mib).values())
            if report:
                profile = _task_profile(stream.data)
                Path(f"{output}-dask-profile.json").write_text(json.dumps(profile, indent=2))
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
    peak = _peak_rss_mib()
    children = round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, 1)
    if kind == "beam-2proc":
        extra["workers_peak_rss_mib"] = [children]
    return {
        "seconds": round(seconds, 3),
        "peak_rss_mib": peak,
        **extra,
        "peak_rss_total_mib": round(peak + sum(extra.get("workers_peak_rss_mib", [])), 1),
        "stats": {key: stats.get(key) for key in STAT_KEYS},
    }


def _task_profile(tasks: list[dict]) -> dict:
    """Seconds per Beam step (task name) and action (compute, transfer, disk), summed over the
    Dask task stream of one run; the busiest first."""
    from dask.utils import key_split

    seconds: dict = {}
    for task in tasks:
        step = seconds.setdefault(key_split(task["key"]), {"tasks": 0})
        step["tasks"] += 1
        for part in task.get("startstops", ()):
            action = part["action"]
            step[action] = round(step.get(action, 0.0) + part["stop"] - part["start"], 3)
    return dict(
        sorted(
            seconds.items(), key=lambda item: -sum(v for k, v in item[1].items() if k != "tasks")
        )
    )


def _peak_rss_mib() -> float:
    """This process's peak resident set size (`VmHWM`; unlike `ru_maxrss` it is not inherited
    from the parent across `exec`)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return round(int(line.split()[1]) / 1024, 1)
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def _run_subprocess(
    kind: str, input_path: str, input_format: str, output: Path, workers: int, report: bool
) -> dict:
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
        "--dask-workers",
        str(workers),
    ] + (["--dask-report"] if report else [])
    result = subprocess.run(command, capture_output=True, text=True, check=False, cwd=ROOT)
    if result.returncode != 0:
        raise RuntimeError(f"{kind} on {input_path} failed:\n{result.stderr[-3000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def _dataset_rows(
    name: str,
    path: str,
    input_format: str,
    work: Path,
    kinds: list[str],
    workers: int,
    report: bool = False,
) -> dict:
    runs = {}
    for kind in kinds:
        output = work / f"out-{name}-{kind}"
        measured = _run_subprocess(kind, path, input_format, output, workers, report)
        measured["events_per_second"] = round(measured["stats"]["rows_in"] / measured["seconds"])
        runs[kind] = measured
        print(
            f"{name:18s} {kind:16s} {measured['seconds']:8.2f} s  "
            f"{measured['events_per_second']:>10,} ev/s  peak RSS "
            f"{measured['peak_rss_total_mib']:.0f} MiB",
            flush=True,
        )
    _compare(runs)
    return runs


def _compare(runs: dict) -> None:
    """Each run's throughput ratio to DuckDB, and whether its counts equal Beam's."""
    reference = runs.get("beam") or runs.get("duckdb")
    for run in runs.values():
        if "duckdb" in runs:
            run["ratio_to_duckdb"] = round(
                run["events_per_second"] / runs["duckdb"]["events_per_second"], 3
            )
        if reference is not None:
            run["counts_agree_with_beam"] = all(
                run["stats"][key] == reference["stats"][key] for key in STAT_KEYS
            )


def _figures(datasets: dict) -> list[dict]:
    """One flat row per (data set, engine): what the issue asks to record."""
    rows = []
    for name, runs in datasets.items():
        for kind, run in runs.items():
            rows.append(
                {
                    "dataset": name,
                    "engine": kind,
                    "events": run["stats"]["rows_in"],
                    "seconds": run["seconds"],
                    "events_per_second": run["events_per_second"],
                    "peak_rss_mib": run["peak_rss_total_mib"],
                    "ratio_to_duckdb": run.get("ratio_to_duckdb"),
                    "counts_agree_with_beam": run.get("counts_agree_with_beam"),
                }
            )
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", default=str(ROOT / ".." / "shared" / "data"))
    parser.add_argument("--events", default="5000000", help="generated log sizes, comma-separated")
    parser.add_argument("--work", default=str(ROOT / "bench" / "work" / "pipeline"))
    parser.add_argument("--kinds", default=DEFAULT_KINDS, help="runs on the generated logs")
    parser.add_argument(
        "--real-kinds",
        default="pandas-agg-list,beam",
        help="runs on MovieLens and SASRec Games ('' skips them)",
    )
    parser.add_argument("--dask-workers", type=int, default=2)
    parser.add_argument(
        "--dask-report",
        action="store_true",
        help="write where each beam-dask run's time goes (per Beam step) beside its output",
    )
    parser.add_argument("--results", default=str(ROOT / "bench" / "results" / "pipeline.json"))
    parser.add_argument("--section", default=str(ROOT / "bench" / "sections" / "pipeline.md"))
    parser.add_argument(
        "--merge",
        action="store_true",
        help="add this run's figures to the existing --results file (a data set and engine "
        "run again replaces its figure; e.g. 50M events engine by engine after 2M and 5M)",
    )
    parser.add_argument("--measure", help=argparse.SUPPRESS)
    parser.add_argument("--input", help=argparse.SUPPRESS)
    parser.add_argument("--format", help=argparse.SUPPRESS)
    parser.add_argument("--output", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        measured = _measure(
            args.measure, args.input, args.format, args.output, args.dask_workers, args.dask_report
        )
        print(json.dumps(measured))
        return 0

    baseline = _bench_module("pipeline_baseline")
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    sizes = [int(size) for size in args.events.split(",") if size]
    kinds = [kind for kind in args.kinds.split(",") if kind]
    real_kinds = [kind for kind in args.real_kinds.split(",") if kind]
    data = Path(args.data)
    generated_logs = {}
    for size in sizes:
        generated = work / f"events_{size}.csv"
        generation = None
        if not generated.exists():
            started = time.perf_counter()
            generation = baseline.generate_event_csv_in_blocks(generated, size)
            generation["seconds"] = round(time.perf_counter() - started, 2)
        generated_logs[size] = {
            "path": str(generated.relative_to(ROOT))
            if generated.is_relative_to(ROOT)
            else str(generated),
            "events": size,
            "generation": generation,
        }
    load_before = os.getloadavg()
    datasets = {}
    movielens = data / "movielens-latest-small" / "ratings.csv"
    games = data / "sasrec-games" / "Games.txt"
    if real_kinds and movielens.exists():
        datasets["movielens"] = _dataset_rows(
            "movielens", str(movielens), "movielens", work, real_kinds, args.dask_workers
        )
    if real_kinds and games.exists():
        datasets["games"] = _dataset_rows(
            "games", str(games), "sasrec", work, real_kinds, args.dask_workers
        )
    for size in sizes:
        path = str(work / f"events_{size}.csv")
        datasets[f"generated_{size}"] = _dataset_rows(
            f"generated_{size}", path, "csv", work, kinds, args.dask_workers, args.dask_report
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
            "note": "2-core CPU, 24 GiB; the load average before says if anything else ran",
            "load_average_before": [round(value, 2) for value in load_before],
            "load_average_after": [round(value, 2) for value in os.getloadavg()],
        },
        "protocol": (
            "Each run in a fresh subprocess, one run each, in the --kinds order per data set. "
            "Wall clock from just before the job's call (after imports; for beam-dask after the "
            "LocalCluster has started) to its return: reading the CSV, validating with reasons, "
            "dead-lettering, deduplicating, ordering, leave-one-out positions, item vocabulary, "
            "stats and writing Parquet. events_per_second = rows_in / seconds. peak_rss_mib = "
            "VmHWM of the measuring process plus, for beam-2proc, ru_maxrss of its largest SDK "
            "worker and, for beam-dask, the VmHWM of each Dask worker. DuckDB and Polars use "
            "all threads. Filtering and truncation off (defaults)."
        ),
        "generated_logs": list(generated_logs.values()),
        "games_counts_check": games_check,
        "figures": _figures(datasets),
        "datasets": datasets,
    }
    results_path, section_path = Path(args.results), Path(args.section)
    if args.merge and results_path.exists():
        results = _merged(json.loads(results_path.read_text()), results)
    results_path.parent.mkdir(parents=True, exist_ok=True)
    results_path.write_text(json.dumps(results, indent=2) + "\n")
    section_path.parent.mkdir(parents=True, exist_ok=True)
    section_path.write_text(_markdown(results))
    return 0


def _merged(previous: dict, current: dict) -> dict:
    """`previous` updated with `current`'s runs: a data set or an engine run again is replaced,
    the others kept (each run keeps its command and date); ratios and checks recomputed.

    A results file of the earlier format (no `figures`: its `pandas` was `pandas-agg-list`) is
    not merged."""
    if "figures" not in previous:
        return current
    for results in (previous, current):
        for runs in results["datasets"].values():
            for run in runs.values():
                run.setdefault("command", results.get("command"))
                run.setdefault("date", results.get("date"))
    datasets = {name: dict(runs) for name, runs in previous["datasets"].items()}
    for name, runs in current["datasets"].items():
        datasets.setdefault(name, {}).update(runs)
    for runs in datasets.values():
        _compare(runs)
    logs = {log["path"]: log for log in previous.get("generated_logs", [])}
    logs.update({log["path"]: log for log in current["generated_logs"]})
    return {
        **current,
        "command": f"{previous.get('command')} ; then {current['command']}",
        "generated_logs": list(logs.values()),
        "figures": _figures(datasets),
        "datasets": datasets,
    }


def _markdown(results: dict) -> str:
    lines = [
        "## Pipeline: Beam against DuckDB, Polars and pandas, events per second end to end",
        "",
        f"Command: `{results['command']}`  ",
        f"Machine: {results['machine']['note']} (load average before/after: "
        f"{results['machine']['load_average_before']} / "
        f"{results['machine']['load_average_after']}).  ",
        f"Date: {results['date']}.",
        "",
        f"Protocol: {results['protocol']}",
        "",
        "| data set | engine | rows in | seconds | events/s | / DuckDB | peak RSS MiB "
        "| counts = Beam |",
        "|---|---|---:|---:|---:|---:|---:|---|",
    ]
    for row in results["figures"]:
        ratio = row["ratio_to_duckdb"]
        agree = {True: "yes", False: "NO", None: ""}[row["counts_agree_with_beam"]]
        lines.append(
            f"| {row['dataset']} | {row['engine']} | {row['events']:,} | {row['seconds']:.2f} | "
            f"{row['events_per_second']:,} | {'' if ratio is None else ratio} | "
            f"{row['peak_rss_mib']:.0f} | {agree} |"
        )
    check = results.get("games_counts_check")
    if check:
        lines += [
            "",
            f"SASRec Games counts (filtering off): measured {check['measured']}, expected "
            f"{check['expected']}: {'exact match' if check['exact_match'] else 'MISMATCH'}.",
        ]
    lines += [
        "",
        "`pandas` is vectorised pandas; `pandas-agg-list` is the first pandas script "
        "(`groupby().agg(list)`, a Python list per user), kept as a reference only. Targets "
        "(issue 28): Beam >= 0.8x DuckDB's events/s at 5M; at 50M the Beam job's peak RSS under "
        "4 GiB and its events/s no lower than at 5M; beam-dask (2 workers) at least as fast as "
        "beam at 50M.",
        "",
        *_strongest_engine_lines(results["figures"]),
    ]
    return "\n".join(lines)


def _strongest_engine_lines(figures: list[dict]) -> list[str]:
    """Per generated data set, Beam against the fastest other engine of the run: the bar a
    user's alternative sets (the DuckDB job here keeps the order-preserving row numbers,
    `store_rejects` and window deduplication that row-for-row equal dead letters need, which a
    plain DuckDB query skips, so its ratio alone flatters Beam)."""
    lines = []
    for dataset in dict.fromkeys(row["dataset"] for row in figures):
        rows = {row["engine"]: row for row in figures if row["dataset"] == dataset}
        others = [row for engine, row in rows.items() if not engine.startswith("beam")]
        if "beam" not in rows or not others or not dataset.startswith("generated"):
            continue
        best = max(others, key=lambda row: row["events_per_second"])
        ratio = rows["beam"]["events_per_second"] / best["events_per_second"]
        lines.append(
            f"- {dataset}: the fastest other engine is {best['engine']} "
            f"({best['events_per_second']:,} events/s); Beam reaches {ratio:.2f}x of it."
        )
    return [*lines, ""] if lines else []


if __name__ == "__main__":
    sys.exit(main())
