"""Render `bench/results/recommender_defaults.json` as BENCHMARKS.md's defaults section.

    .venv/bin/python bench/recommender_defaults_report.py

Reads the results `bench/recommender_defaults.py` wrote (one entry per data set and mode), plots
each data set's validation NDCG@10 against seconds for the default model and GRU4Rec (from the
model folders' `history.json`, when the work folder is still there) into
`docs/recommender_defaults_<name>.png`, and writes `bench/sections/recommender_defaults.md`.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

METRICS = (
    ("full", "NDCG@10"),
    ("full", "HR@10"),
    ("sampled100", "NDCG@10"),
    ("sampled100", "HR@10"),
)
MODEL_ORDER = ("recommender", "gru4rec", "markov", "most_popular")
INTRODUCTION = """## The recommender's defaults on catalogues nobody tuned them on

Every model below was trained from scratch with **no flag but the default 15-minute budget**
(`seqlens train recommender --time-budget 15m`, the loss `--loss auto` chose; GRU4Rec with only
`--model gru4rec`, same budget), one data set at a time, each command its own process (its wall
seconds and peak RSS are its own). Most-popular and first-order Markov are fitted by
`seqlens evaluate recommender` on the same training targets. Written by
`bench/recommender_defaults.py`, rendered by `bench/recommender_defaults_report.py`."""

# What a reader should know beside each data set's figures (published figures: the S3-Rec
# repository's all-items table, as quoted in ../shared/data/README.md).
NOTES = {
    "games": (
        "The data set the defaults were chosen on, now under the budget: the 15-minute budget "
        "bound (22 of 30 epochs, the cosine horizon sized to end with them). Full NDCG@10 0.0739 "
        "against the 0.074 target: **missed by 0.0001**; sampled100 met. The unbudgeted "
        "24-epoch run of session 10 measured 0.0742 (on 30,901 users as here)."
    ),
    "sports": (
        "Published on this exact split (S3-Rec repository, all items ranked, leave-one-out): "
        "SASRec 0.0192 NDCG@10 / 0.0350 HR@10, S3-Rec 0.0204 / 0.0385, GRU4Rec 0.0110 / 0.0204, "
        "most-popular 0.0053 / 0.0094 (ours 0.0052 / 0.0091: the protocols agree). Later papers "
        "on these splits (DuoRec, FEARec, BSARec) report higher figures; their tables are not in "
        "the stored copies this session could search, so they are not quoted here."
    ),
    "toys": (
        "Published on this exact split (S3-Rec repository, all items ranked): SASRec 0.0374 "
        "NDCG@10 / 0.0675 HR@10, S3-Rec 0.0376 / 0.0700, GRU4Rec 0.0084 / 0.0176, most-popular "
        "0.0061 / 0.0113. The 1-minute load average at the start (1.53) is the previous data "
        "set's evaluation decaying: the runs were back to back, nothing else ran."
    ),
    "movielens": (
        "**Missed: the default loses to first-order Markov and ties GRU4Rec on the test targets "
        "under full ranking.** The Games learning rate (5e-3) peaks at epoch 7 here and early "
        "stopping ends the run after 109 s. Session 10 measured 1e-3 as better on this data "
        "set's validation (0.0685 against 0.0565) but still below Markov on test (0.0443 "
        "against 0.0521), so no learning-rate rule derived from one data set was adopted. "
        "610 test users: one hit moves HR@10 by 0.0016; 16% of the events share their "
        "predecessor's timestamp and the pipeline orders ties by item id, an order a "
        "transition table can learn."
    ),
}


def _number(value, digits: int = 4) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def _seconds(value) -> str:
    return "-" if value is None else f"{value:,.0f}"


def metrics_table(result: dict) -> list[str]:
    """One row per model: full and sampled100 NDCG@10 / HR@10, best first."""
    header = " | ".join(f"{protocol} {metric}" for protocol, metric in METRICS)
    lines = [f"| model | {header} |", "|---|" + "---:|" * len(METRICS)]
    models = result["metrics"]
    for name in [*MODEL_ORDER, *sorted(set(models) - set(MODEL_ORDER))]:
        if name not in models:
            continue
        values = " | ".join(_number(models[name][protocol][metric]) for protocol, metric in METRICS)
        lines.append(f"| {result['labels'].get(name, name)} | {values} |")
    return lines


def training_table(result: dict) -> list[str]:
    """What each budgeted run did: epochs, stop reason, budget use, speed, memory."""
    lines = [
        "| training | stop reason | epochs run (planned) | best epoch | s to best epoch "
        "| wall s (process) | budget used | positions/s | peak RSS MiB |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, run in result["training"].items():
        budget = run.get("time_budget") or {}
        used = budget.get("fraction_used")
        lines.append(
            f"| {name} | {run['stop_reason']} | {run['epochs_run']} "
            f"({budget.get('planned_epochs', '-')}) | {run['best_epoch']} "
            f"| {_seconds(run['seconds_to_best_epoch'])} | {_seconds(run['wall_seconds'])} "
            f"| {'-' if used is None else f'{used:.0%}'} "
            f"| {_seconds(run['positions_per_second'])} | {_seconds(run['peak_rss_mib'])} |"
        )
    return lines


def checks(result: dict) -> list[str]:
    """The issue's checks: the margin over every baseline and the data set's targets."""
    comparisons = result["comparisons"]
    key = next(name for name in comparisons if name.startswith("beats_every_baseline"))
    ratios = comparisons["ratios"]
    lines = [
        "- Full NDCG@10 of the default over "
        + ", ".join(
            f"{other} {ratios[f'full/NDCG@10 recommender over {other}']:.2f}x"
            for other in comparisons["baselines"]
        )
        + f"; beats every baseline by at least 10%: **{'yes' if comparisons[key] else 'NO'}**."
    ]
    for target, check in result.get("targets", {}).items():
        lines.append(
            f"- Target {target} >= {check['target']}: measured {check['measured']:.4f}, "
            f"**{'met' if check['met'] else 'missed'}**."
        )
    return lines


def dataset_section(name: str, result: dict, plot: str | None) -> list[str]:
    loss = result["chosen_loss"]
    load_start = result.get("load_average_1_5_15_min_at_start")
    lines = [
        f"### {name}: {result['users']:,} users, {result['items']:,} items, "
        f"{result['actions']:,} actions, {result['test_users']:,} test users",
        "",
        f"Command: `{result['command']}`  ",
        f"Machine: {result['machine']}; load average (1/5/15 min) at start {load_start}, at end "
        f"{result.get('load_average_1_5_15_min_at_end')}; CPU time stolen by the hypervisor "
        f"{result.get('cpu_time_stolen_by_hypervisor_fraction', 0) or 0:.1%}  ",
        f"Date: {result['date']}  ",
        f"Protocol: {result['protocol']}.  ",
        f"Loss chosen: `{loss['chosen']}` ({loss['reason']}).",
        "",
        *metrics_table(result),
        "",
        *training_table(result),
        "",
        *checks(result),
    ]
    if name in NOTES:
        lines.append(f"- {NOTES[name]}")
    if plot:
        lines += ["", f"![validation NDCG@10 against seconds, {name}]({plot})"]
    return lines


def plot_dataset(name: str, work: Path, docs: Path) -> str | None:
    """The validation curves of the default model and GRU4Rec, if their folders remain."""
    from bench.training_curves import plot_validation_curves, read_history

    runs = {}
    for label, folder in (("default (attention)", "sasrec"), ("GRU4Rec", "gru4rec")):
        if (work / name / folder / "history.json").exists():
            runs[label] = read_history(work / name / folder)
    if not runs:
        return None
    path = docs / f"recommender_defaults_{name}.png"
    plot_validation_curves(runs, path, f"{name}: default settings, 15-minute budget")
    return str(path.relative_to(ROOT))


def markdown(results: dict, plots: dict[str, str | None]) -> str:
    """The section: the introduction, then each data set's `defaults` run."""
    lines = [INTRODUCTION]
    for key, result in results["runs"].items():
        name, mode = key.split("/")
        if mode != "defaults":
            continue
        lines += ["", *dataset_section(name, result, plots.get(name))]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    default_results = ROOT / "bench" / "results" / "recommender_defaults.json"
    parser.add_argument("--results", default=str(default_results))
    parser.add_argument("--work", default=str(ROOT / "bench" / "work" / "recommender_defaults"))
    parser.add_argument(
        "--output", default=str(ROOT / "bench" / "sections" / "recommender_defaults.md")
    )
    arguments = parser.parse_args(argv)
    results = json.loads(Path(arguments.results).read_text())
    names = [key.split("/")[0] for key in results["runs"] if key.endswith("/defaults")]
    plots = {name: plot_dataset(name, Path(arguments.work), ROOT / "docs") for name in names}
    Path(arguments.output).write_text(markdown(results, plots), encoding="utf-8")
    print(f"wrote {arguments.output} ({len(names)} data sets)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
