# Over 300 lines on purpose: one benchmark (two-stage figures, cold start, serving) and its section.
"""Benchmark the cross-attention ranker: retriever alone vs retriever + ranker, and cold start.

Sports and Toys (S3-Rec files, with their `item2attributes.json`), Games (SASRec's file, ids
only) and MovieLens latest-small (`ratings.csv`, genres from `movies.csv`), each through
`seqlens pipeline events [--item-features ...]`. For each: train the default retriever (SASRec
family), then two rankers on its top N (features + ids, and ids only), and rank the test targets
under `full` and `sampled100`, same users and negatives (`ranker_evaluation.evaluate_two_stage`).

Cold start (`--cold-start`, Sports by default): 5% of the items (seeded) are removed from every
training sequence (only test targets keep them), a retriever and the two rankers are trained on
the rest, and the test targets that are such items are ranked by the ranker among 100 other
held-out items (features vs ids only; chance HR@10 is about 0.1).

Serving (`--serving`, Sports by default): the features ranker exported as the two-stage SavedModel
(`models.serving.two_stage_signature`), p50 / p99 of one request (history 50, k 10, N 100) and
rows per second at batch 256.

    .venv/bin/python bench/ranker.py [--data ../shared/data] [--datasets sports toys games ...]

Writes `bench/results/ranker.json` and `bench/sections/ranker.md`; model folders and pipeline
outputs go to `--work` (finished retrievers are reused).
"""

from __future__ import annotations

import argparse
import datetime
import json
import logging
import os
import platform
import shlex
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

# name -> (events file, pipeline format, item feature file or None)
DATASETS = {
    "sports": (
        "s3rec/Sports_and_Outdoors.txt",
        "sequence-lines",
        "s3rec/Sports_and_Outdoors_item2attributes.json",
    ),
    "toys": (
        "s3rec/Toys_and_Games.txt",
        "sequence-lines",
        "s3rec/Toys_and_Games_item2attributes.json",
    ),
    "games": ("sasrec-games/Games.txt", "sasrec", None),
    "movielens": (
        "movielens-latest-small/ratings.csv",
        "movielens",
        "movielens-latest-small/movies.csv",
    ),
}
RANKERS = {"features": {"use_features": True}, "ids_only": {"use_features": False}}
TARGET_GAIN = {"sports": 0.05, "toys": 0.05}  # full NDCG@10, relative, ranker over retriever
MACHINE = "2-core CPU, 24 GiB"


def events_run(source: Path, input_format: str, features: Path | None, output: Path) -> Path:
    """Run `seqlens pipeline events` once (with `--item-features` when there are features)."""
    if (output / "vocab" / "items.txt").exists():
        return output
    command = [str(ROOT / ".venv" / "bin" / "seqlens"), "pipeline", "events", "--input",
               str(source), "--format", input_format, "--output", str(output)]  # fmt: skip
    if features is not None:
        command += ["--item-features", str(features)]
    subprocess.run(command, check=True)
    return output


def reuse_retriever(name: str, run: Path, folder: Path, arguments: argparse.Namespace) -> dict:
    """Copy the default retriever `bench/recommender_defaults.py` trained on the same data.

    Only when its item vocabulary equals this run's (same items, same order): the ranker reads
    the retriever's indices. Returns what was reused (folder, seconds it trained), or `{}`.
    """
    import shutil

    source = Path(arguments.reuse_retrievers) / name / "sasrec"
    if not arguments.reuse_retrievers or not (source / "model.keras").exists():
        return {}
    ours = (run / "vocab" / "items.txt").read_text().split()
    theirs = (source / "item_vocab.txt").read_text().split()
    if ours != theirs:
        logging.warning("not reusing %s: its item vocabulary differs from %s", source, run)
        return {}
    if not (folder / "model.keras").exists():
        shutil.copytree(source, folder, ignore=shutil.ignore_patterns("checkpoint"))
    history = json.loads((source / "history.json").read_text())
    return {
        "reused_from": str(source),
        "training_seconds": history.get("time_budget", {}).get("seconds_used"),
        "stop_reason": history.get("stop_reason"),
        "best_epoch": history.get("best_epoch"),
    }


def train_retriever(data, folder: Path, arguments: argparse.Namespace) -> float:
    from models.recommender.config import RecommenderConfig
    from models.recommender.training import train_recommender

    config = RecommenderConfig(epochs=arguments.retriever_epochs, seed=arguments.seed)
    if (folder / "model.keras").exists() and (folder / "history.json").exists():
        finished = json.loads((folder / "history.json").read_text())  # a finished run
        return float(finished.get("time_budget", {}).get("seconds_used") or 0.0)
    started = time.perf_counter()
    train_recommender(data, folder, config, resume=True, verbose=0)
    return time.perf_counter() - started


def ranker_config(arguments: argparse.Namespace, **settings):
    from models.recommender.ranker_config import RankerConfig

    return RankerConfig(
        num_candidates=arguments.candidates,
        epochs=arguments.ranker_epochs,
        seed=arguments.seed,
        **settings,
    )


def run_dataset(name: str, arguments: argparse.Namespace) -> dict:
    from models.recommender.ranker_evaluation import comparison_table, evaluate_two_stage
    from models.recommender.ranker_features import read_item_features
    from models.recommender.ranker_training import train_ranker
    from models.recommender.sequence_data import load_sequence_data

    relative, input_format, features_relative = DATASETS[name]
    data_root, work = Path(arguments.data), Path(arguments.work) / name
    features_file = data_root / features_relative if features_relative else None
    run = events_run(data_root / relative, input_format, features_file, work / "events")
    data = load_sequence_data(run)
    features = read_item_features(run)
    result: dict = {
        "data": str(data_root / relative),
        "item_features": str(features_file) if features_file else None,
        "users": len(data.sequences),
        "items": len(data.item_ids),
        "rankers": {},
    }
    reused = reuse_retriever(name, run, work / "retriever", arguments)
    if reused:
        result["retriever"] = reused
        result["retriever_training_seconds"] = reused["training_seconds"]
    else:
        result["retriever_training_seconds"] = train_retriever(data, work / "retriever", arguments)
    for ranker, settings in RANKERS.items():
        if ranker == "features" and features is None:
            continue
        folder = work / f"ranker_{ranker}"
        started = time.perf_counter()
        train_ranker(
            work / "retriever",
            data,
            folder,
            ranker_config(arguments, **settings),
            features,
            str(run),
        )
        seconds = time.perf_counter() - started
        document = evaluate_two_stage(folder, data, seed=arguments.seed, data_run=str(run))
        (folder / "metrics.json").write_text(json.dumps(document, indent=2))
        saved = json.loads((folder / "config.json").read_text())
        result["rankers"][ranker] = {
            "training_seconds": seconds,
            "training_examples": saved.get("training_examples"),
            "blend_fit": saved.get("blend_fit"),
            "epochs_run": len(json.loads((folder / "history.json").read_text())),
            "metrics": document["models"],
            "relative_gain_of_ranker": document["relative_gain_of_ranker"],
            f"candidate_recall@{arguments.candidates}": document[
                f"candidate_recall@{arguments.candidates}"
            ],
            "table": comparison_table(document),
        }
    if name in TARGET_GAIN and "features" in result["rankers"]:
        gain = result["rankers"]["features"]["relative_gain_of_ranker"]["full/NDCG@10"]
        result["target"] = {
            "full/NDCG@10 relative gain of retriever + ranker over retriever": TARGET_GAIN[name],
            "measured": gain,
            "met": gain is not None and gain >= TARGET_GAIN[name],
        }
    if name in arguments.serving and "features" in result["rankers"]:
        result["serving"] = serving_latency(work / "ranker_features", work / "serving", arguments)
    if name in arguments.cold_start and features is not None:
        result["cold_start"] = cold_start(
            data, features, work / f"cold_start_{arguments.cold_share}", arguments
        )
    return result


def hold_out_items(data, share: float, seed: int):
    """`(data without the held-out items before each test target, held-out item ids)`."""
    from models.recommender.sequence_data import (
        ITEM_INDEX_OFFSET,
        SequenceData,
        leave_one_out_positions,
    )

    rng = np.random.default_rng(seed)
    count = max(1, int(round(share * len(data.item_ids))))
    held = set(rng.choice(len(data.item_ids), count, replace=False) + ITEM_INDEX_OFFSET)
    names = np.array(["", "", *data.item_ids], dtype=object)
    kept_ids = [item for i, item in enumerate(data.item_ids) if i + ITEM_INDEX_OFFSET not in held]
    lookup = {item: i + ITEM_INDEX_OFFSET for i, item in enumerate(kept_ids)}
    sequences, user_ids, cold_targets = [], [], []
    for user, (sequence, test) in enumerate(zip(data.sequences, data.test_positions, strict=True)):
        before = [names[i] for i in sequence[: max(test, 0)] if i not in held]
        target = names[sequence[test]] if test > 0 else None
        items = before + ([target] if target is not None else [])
        if len(items) < 3:
            continue
        sequences.append(np.array([lookup.get(i, 1) for i in items], dtype=np.int32))
        user_ids.append(data.user_ids[user])
        cold_targets.append(target if sequence[test] in held else None)
    valid, test = leave_one_out_positions(np.array([len(s) for s in sequences]))
    filtered = SequenceData(kept_ids, sequences, valid, test, user_ids)
    return filtered, [names[i] for i in sorted(held)], cold_targets


def cold_start(data, features: dict, work: Path, arguments: argparse.Namespace) -> dict:
    """HR@10 / NDCG@10 of held-out (cold) test targets among 100 other held-out items."""
    from models.recommender.ranker_inference import load_two_stage
    from models.recommender.ranker_training import train_ranker
    from models.recommender.ranking_metrics import metrics_from_ranks

    filtered, held_ids, cold_targets = hold_out_items(data, arguments.cold_share, arguments.seed)
    train_retriever(filtered, work / "retriever", arguments)
    rng = np.random.default_rng(arguments.seed)
    rows = [row for row, target in enumerate(cold_targets) if target is not None]
    id_lookup = {i: item for i, item in enumerate(filtered.item_ids, start=2)}
    histories = [[id_lookup.get(int(i), "") for i in filtered.sequences[row][:-1]] for row in rows]
    candidate_lists = []
    for row in rows:
        pool = [item for item in held_ids if item != cold_targets[row]]
        others = rng.choice(pool, min(100, len(pool)), replace=False).tolist()
        # Shuffled: `rank` reads the list order as the retriever's rank.
        candidate_lists.append(rng.permutation([cold_targets[row], *others]).tolist())
    result = {"held_out_items": len(held_ids), "cold_test_targets": len(rows)}
    for ranker, settings in RANKERS.items():
        folder = work / f"ranker_{ranker}"
        train_ranker(
            work / "retriever", filtered, folder, ranker_config(arguments, **settings), features
        )
        system = load_two_stage(folder)
        if system.ranker.blend == "stacked" and system.ranker.use_retriever_rank:
            # Cold items have no retriever rank (the list is shuffled): the attention model's
            # score alone ranks them.
            system.ranker.set_blend(1.0, 0.0)
        ranks = []
        for start in range(0, len(rows), 256):
            ranked = system.rank(
                histories[start : start + 256], candidate_lists[start : start + 256]
            )
            for offset, items in enumerate(ranked.item_ids):
                scores = ranked.scores[offset]
                target_score = scores[items.index(cold_targets[rows[start + offset]])]
                ties = int(np.sum(scores == target_score)) - 1
                ranks.append(1 + int(np.sum(scores > target_score)) + ties // 2)
        metrics = metrics_from_ranks(np.array(ranks)) if ranks else {}
        result[ranker] = {key: metrics.get(key) for key in ("HR@10", "NDCG@10", "MRR")}
    result["protocol"] = (
        f"{arguments.cold_share:.0%} of items held out of every training sequence; each test "
        "target that is such an item ranked by the ranker among 100 other held-out items, by "
        "the attention model's score alone (a stacked ranker's blend set to (1, 0): cold items "
        "have no retriever rank)"
    )
    return result


def serving_latency(ranker_dir: Path, work: Path, arguments: argparse.Namespace) -> dict:
    """p50 / p99 of one two-stage request (history 50, k 10) and rows/s at batch 256."""
    import shutil

    import tensorflow as tf

    from models.recommender.ranker_inference import load_two_stage
    from models.serving.two_stage_signature import export_two_stage_savedmodel

    system = load_two_stage(ranker_dir)
    shutil.rmtree(work, ignore_errors=True)
    export_two_stage_savedmodel(system, work / "1", "ranker")
    serve = tf.saved_model.load(str(work / "1")).signatures["serving_default"]
    rng = np.random.default_rng(arguments.seed)
    items = np.array(system.retriever.item_ids, dtype=object)

    def request(batch: int) -> dict:
        history = rng.choice(items, size=(batch, 50))
        return {"history": tf.constant(history), "k": tf.constant([10] * batch, tf.int32)}

    for _ in range(20):
        serve(**request(1))
    single = []
    for _ in range(arguments.serving_requests):
        inputs = request(1)
        started = time.perf_counter()
        serve(**inputs)
        single.append(time.perf_counter() - started)
    batch = request(256)
    serve(**batch)
    started = time.perf_counter()
    for _ in range(10):
        serve(**batch)
    throughput = 2560 / (time.perf_counter() - started)
    milliseconds = np.array(single) * 1000
    return {
        "request": "history 50, k 10, N = the ranker's num_candidates, one row",
        "num_candidates": system.num_candidates,
        "p50_ms": float(np.percentile(milliseconds, 50)),
        "p99_ms": float(np.percentile(milliseconds, 99)),
        "target_p99_ms": 10.0,
        "rows_per_second_batch_256": float(throughput),
    }


def _gain(value: float | None) -> str:
    return "n/a" if value is None else f"{value:+.1%}"


def markdown(results: dict) -> str:
    """The BENCHMARKS.md section: one table of systems per data set, then the targets, cold start
    and serving figures."""
    lines = [
        "## Two-stage recommendation: the cross-attention ranker on the retriever's top N",
        "",
        "Retriever = the recommender's default model (`seqlens train recommender`, 15-minute "
        "budget); ranker = `seqlens train ranker` with its defaults (`--blend stacked`: the "
        "target-attention model trained on each user's last training position, blind to the "
        "retriever rank, then its score and the log retriever rank weighted by a fit on the "
        "validation targets the retriever did not train on), `features` = ids + item attributes, "
        "`ids_only` = ids alone. Protocols: `full` ranks the test target against the whole "
        "catalogue (history excluded; the ranked top N above every other item, the rest in "
        "retriever order); `sampled100` against 100 seeded uniform negatives. Same users, same "
        "negatives for every system.",
        "",
    ]
    for name, result in results["datasets"].items():
        lines += [
            f"### {name} ({result['users']:,} users, {result['items']:,} items)",
            "",
            f"`{result.get('command', results['command'])}`, {result.get('date', results['date'])}"
            f"; {results['machine']}."
            + (
                f" Retriever reused from `{result['retriever']['reused_from']}` (trained "
                f"{result['retriever']['training_seconds']:.0f} s)."
                if result.get("retriever")
                else ""
            ),
            "",
            "| system | full NDCG@10 | full HR@10 | sampled100 NDCG@10 | sampled100 HR@10 "
            "| gain, full NDCG@10 | candidate recall@N | blend (ranker, rank) | training |",
            "|---|---:|---:|---:|---:|---:|---:|---|---:|",
        ]
        rankers = result["rankers"]
        if rankers:
            retriever = next(iter(rankers.values()))["metrics"]["retriever"]
            lines.append(
                f"| retriever alone | {retriever['full']['NDCG@10']:.4f} | "
                f"{retriever['full']['HR@10']:.4f} | {retriever['sampled100']['NDCG@10']:.4f} | "
                f"{retriever['sampled100']['HR@10']:.4f} | | | | |"
            )
        for ranker, figures in rankers.items():
            two_stage = figures["metrics"]["retriever+ranker"]
            recall = next(v for k, v in figures.items() if k.startswith("candidate_recall"))
            blend = figures.get("blend_fit") or {}
            weights = (
                f"{blend['ranker_weight']:.2f}, {blend['rank_weight']:.2f}"
                if "ranker_weight" in blend
                else "joint"
            )
            lines.append(
                f"| retriever + ranker `{ranker}` | {two_stage['full']['NDCG@10']:.4f} | "
                f"{two_stage['full']['HR@10']:.4f} | {two_stage['sampled100']['NDCG@10']:.4f} | "
                f"{two_stage['sampled100']['HR@10']:.4f} | "
                f"{_gain(figures['relative_gain_of_ranker']['full/NDCG@10'])} | {recall:.4f} | "
                f"{weights} | {figures['training_seconds']:.0f} s |"
            )
        lines.append("")
        if "target" in result:
            target = result["target"]
            lines += [
                f"Target: the ranker (features) adds >= {TARGET_GAIN[name]:.0%} full NDCG@10 over "
                f"the retriever: measured {_gain(target['measured'])}, "
                f"**{'met' if target['met'] else 'missed'}**.",
                "",
            ]
        if "cold_start" in result:
            cold = result["cold_start"]
            lines += [
                f"Cold start: {cold['held_out_items']:,} items "
                f"({results.get('cold_share', 0.05):.0%}) removed from every training sequence; "
                f"{cold['cold_test_targets']:,} test targets are such items, each ranked by the "
                "ranker among 100 other held-out items, by the attention model's score alone "
                "(cold items have no retriever rank; chance HR@10 about 0.10):",
                "",
                "| ranker | HR@10 | NDCG@10 | MRR |",
                "|---|---:|---:|---:|",
            ]
            for ranker in RANKERS:
                if ranker in cold and cold[ranker].get("HR@10") is not None:
                    figures = cold[ranker]
                    lines.append(
                        f"| `{ranker}` | {figures['HR@10']:.4f} | {figures['NDCG@10']:.4f} | "
                        f"{figures['MRR']:.4f} |"
                    )
            lines.append("")
        if "serving" in result:
            serving = result["serving"]
            lines += [
                f"Two-stage SavedModel (`serving_default`, {serving['request']}): p50 "
                f"{serving['p50_ms']:.2f} ms, p99 {serving['p99_ms']:.2f} ms (target p99 <= "
                f"{serving['target_p99_ms']:.0f} ms: "
                f"**{'met' if serving['p99_ms'] <= serving['target_p99_ms'] else 'missed'}**); "
                f"{serving['rows_per_second_batch_256']:,.0f} rows/s at batch 256.",
                "",
            ]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(ROOT.parent / "shared" / "data"))
    parser.add_argument("--datasets", nargs="+", choices=sorted(DATASETS), default=list(DATASETS))
    parser.add_argument(
        "--cold-start", nargs="*", default=["sports"], help="datasets to hold out items on"
    )
    parser.add_argument("--cold-share", type=float, default=0.05)
    parser.add_argument(
        "--serving",
        nargs="*",
        default=["sports"],
        help="datasets to time the two-stage signature on",
    )
    parser.add_argument("--serving-requests", type=int, default=500)
    parser.add_argument("--candidates", type=int, default=100)
    parser.add_argument("--retriever-epochs", type=int, default=200)
    parser.add_argument(
        "--reuse-retrievers",
        default="",
        help="a bench/recommender_defaults.py work folder: reuse its default retrievers (DIR/NAME/"
        "sasrec) where their item vocabulary equals this run's",
    )
    parser.add_argument("--ranker-epochs", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--work", default=str(ROOT / "bench" / "work" / "ranker"))
    parser.add_argument("--results", default=str(ROOT / "bench" / "results" / "ranker.json"))
    parser.add_argument("--section", default=str(ROOT / "bench" / "sections" / "ranker.md"))
    arguments = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    results = {
        "benchmark": "ranker",
        "machine": MACHINE,
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "command": "python bench/ranker.py " + shlex.join(sys.argv[1:]),
        "cold_share": arguments.cold_share,
        "datasets": {},
    }
    results_path = Path(arguments.results)
    for name in arguments.datasets:
        logging.info("ranker benchmark: %s", name)
        result = run_dataset(name, arguments)
        result.update(command=results["command"], date=results["date"])
        if results_path.exists():  # keep the other data sets of an earlier run
            earlier = json.loads(results_path.read_text()).get("datasets", {})
            results["datasets"] = {**earlier, **results["datasets"]}
        results["datasets"][name] = result
        results_path.parent.mkdir(parents=True, exist_ok=True)
        results_path.write_text(json.dumps(results, indent=2))
        Path(arguments.section).parent.mkdir(parents=True, exist_ok=True)
        Path(arguments.section).write_text(markdown(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
