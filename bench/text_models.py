"""Benchmark: the served wide-and-deep text models vs the TF-IDF linear baseline on real data.

Run: `.venv/bin/python bench/text_models.py [--data ../shared/data]`; a smoke test of the
script on a few hundred texts per set: `--limit 300 --epochs 1 --results /tmp/text_models.json
--section /tmp/text_models.md`.

Protocol (fixed splits and seeds):
- Financial PhraseBank AllAgree and 50Agree: stratified 80/20 (`sklearn.model_selection.
  train_test_split(test_size=0.2, stratify=label, random_state=42)`).
- twitter-financial-news: `sent_train.csv` -> `sent_valid.csv`.
- Banking77: `train.csv` -> `test.csv`; out-of-scope: 10 intents drawn with seed 42 held out of
  training (their test texts are the OOS examples), threshold calibrated on validation.
- Every model is trained with `models.text.training.train_text_model` (what `seqlens train`
  runs), which holds out a stratified 10% of its training data (seed 42) for early stopping and
  the OOS thresholds; test data is never seen. Every figure of a trained model is measured
  through its exported SavedModel (`export_text_savedmodel`, reloaded with
  `tf.saved_model.load`, signature `serving_default` on raw strings): what TF Serving answers.
- Ablation: wide branch only, deep branch only, wide + deep trained jointly (`--wide-fit
  joint`) and stacked (the default: SVM first, deep branch alone, blend weights fitted on
  validation, SVM refitted on training + validation), on PhraseBank AllAgree (own split)
  and Banking77; `--tasks pretraining` adds wide + deep with masked-token pretraining of the
  deep branch on StockNet tweets.
- Out of scope: AUROC and the figures at the validation threshold for each score (max-softmax,
  energy, Mahalanobis on the deep branch's pooled embedding), all read from the served signature.
- Served latency: one text per request (p50 / p99 over 200 requests after 20 warm-up calls) and
  throughput at batch 256, in-process `signature(text=...)` calls (no HTTP).
- Joint finance training: one model on the union of the PhraseBank 50Agree and AllAgree
  *training* splits and the twitter training set, with every sentence of either PhraseBank
  *test* split removed (AllAgree is a subset of 50Agree), evaluated on each test set.
- Baseline on every data set, same split, same run: TF-IDF word 1-2-grams + char 2-5-grams,
  LinearSVC (`models.text.linear.build_linear_text_classifier`).
Figures go to bench/results/text_models.json (updated after every row) and
bench/sections/text_models.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from models.text.datasets import (  # noqa: E402
    read_banking77,
    read_phrasebank,
    read_twitter_financial_news,
)
from models.text.evaluation import classification_metrics, json_safe, oos_metrics  # noqa: E402
from models.text.linear import build_linear_text_classifier  # noqa: E402
from pipeline.text_normalization import normalize_text  # noqa: E402

RESULTS = ROOT / "bench" / "results" / "text_models.json"
SECTION = ROOT / "bench" / "sections" / "text_models.md"
TARGETS = {
    "phrasebank_allagree": {"accuracy": 0.95, "macro_f1": 0.93},
    "phrasebank_50agree": {"accuracy": 0.84, "macro_f1": 0.80},
    "twitter_financial_news": {"accuracy": 0.88, "macro_f1": 0.84},
    "banking77": {"accuracy": 0.93},
}


def load_splits(data: Path) -> dict:
    from sklearn.model_selection import train_test_split

    splits = {}
    for name, file in (
        ("phrasebank_allagree", "Sentences_AllAgree.txt"),
        ("phrasebank_50agree", "Sentences_50Agree.txt"),
    ):
        table = read_phrasebank(data / "financial-phrasebank" / file)
        train, test = train_test_split(
            table, test_size=0.2, stratify=table["label"], random_state=42
        )
        splits[name] = (train.reset_index(drop=True), test.reset_index(drop=True))
    splits["twitter_financial_news"] = (
        read_twitter_financial_news(data / "twitter-financial-news" / "sent_train.csv"),
        read_twitter_financial_news(data / "twitter-financial-news" / "sent_valid.csv"),
    )
    splits["banking77"] = (
        read_banking77(data / "banking77" / "train.csv"),
        read_banking77(data / "banking77" / "test.csv"),
    )
    return splits


class Recorder:
    """Collects rows and saves after each one (a crash keeps what was measured).

    `results` and `save` replace the default (a new results file written to `RESULTS`), e.g. to
    record a later run inside an existing file.
    """

    def __init__(
        self,
        command: str,
        data: Path,
        results: dict | None = None,
        save=None,
        machine_note: str = "",
    ):
        self.results = (
            results
            if results is not None
            else {
                "benchmark": "text_models",
                "machine": (
                    f"2-core CPU, 24 GiB ({platform.processor() or platform.machine()})"
                    + (f", {machine_note}" if machine_note else "")
                    + "; load average at the start "
                    + ", ".join(f"{value:.2f}" for value in os.getloadavg())
                ),
                "date": datetime.now(UTC).isoformat(timespec="seconds"),
                "command": command,
                "data": str(data),
                "protocol": __doc__.split("Protocol (fixed splits and seeds):")[1]
                .split("Figures go to")[0]
                .strip(),
                "targets": TARGETS,
                "rows": [],
            }
        )
        self.save = save or self._write_results

    def _write_results(self) -> None:
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        RESULTS.write_text(json.dumps(self.results, indent=2))

    def add(self, dataset: str, model: str, metrics: dict, seconds: float, **extra) -> None:
        row = {
            "dataset": dataset,
            "model": model,
            **metrics,
            "training_seconds": round(seconds, 1),
            **extra,
        }
        self.results["rows"].append(row)
        print(json.dumps(row), flush=True)
        self.save()


def linear_row(recorder: Recorder, dataset: str, train, test, name="tfidf_linear_baseline"):
    started = time.perf_counter()
    pipeline = build_linear_text_classifier(seed=42).fit(train["text"].tolist(), train["label"])
    seconds = time.perf_counter() - started
    predicted = pipeline.predict(test["text"].tolist())
    recorder.add(
        dataset,
        name,
        classification_metrics(test["label"].tolist(), list(predicted)),
        seconds,
        train_count=len(train),
    )


def export_and_load(folder: Path):
    """Export the model folder as a SavedModel next to it, reload it; return the signature."""
    import tensorflow as tf

    from models.serving.text_signature import export_text_savedmodel, text_spec_from_model
    from models.text.inference import load_text_model

    text_model = load_text_model(folder)
    export_dir = folder.parent / f"{folder.name}_savedmodel" / "1"
    if export_dir.exists():
        import shutil

        shutil.rmtree(export_dir.parent)
    export_text_savedmodel(
        text_model.model, text_spec_from_model(text_model), export_dir, folder.name
    )
    return tf.saved_model.load(str(export_dir)).signatures["serving_default"]


def served_answers(signature, texts: list[str], batch_size: int = 256) -> dict:
    """The signature's outputs for `texts` (batches of `batch_size`), as NumPy arrays."""
    import tensorflow as tf

    parts: dict[str, list] = {}
    for start in range(0, len(texts), batch_size):
        batch = tf.constant([str(text) for text in texts[start : start + batch_size]])
        for name, value in signature(text=batch).items():
            if name in ("tokens", "token_attention", "wide_contributions", "classes"):
                continue
            parts.setdefault(name, []).append(value.numpy())
    answers = {name: np.concatenate(values) for name, values in parts.items()}
    answers["label"] = [label.decode("utf-8") for label in answers["label"]]
    return answers


def served_latency(signature, texts: list[str]) -> dict:
    """p50 / p99 milliseconds of one-text requests and texts per second at batch 256."""
    import tensorflow as tf

    singles = [tf.constant([str(text)]) for text in texts[:220]]
    timings = []
    for index, text in enumerate(singles):
        started = time.perf_counter()
        signature(text=text)
        if index >= 20:  # after warm-up
            timings.append((time.perf_counter() - started) * 1000)
    batch = tf.constant([str(text) for text in (texts * 256)[:256]])
    signature(text=batch)
    started, repeats = time.perf_counter(), 5
    for _ in range(repeats):
        signature(text=batch)
    seconds = (time.perf_counter() - started) / repeats
    return {
        "latency_p50_ms_one_text": round(float(np.percentile(timings, 50)), 2),
        "latency_p99_ms_one_text": round(float(np.percentile(timings, 99)), 2),
        "throughput_texts_per_second_batch_256": round(256 / seconds, 1),
    }


def served_rows(
    recorder,
    datasets_and_tests,
    name,
    config,
    train_texts,
    train_labels,
    folder,
    auxiliary=None,
    unlabelled=None,
    latency=False,
):
    """Train once with `train_text_model`, export and reload the SavedModel, record each test
    set's accuracy / macro-F1 through the served signature (and its latency when asked)."""
    from models.text.training import train_text_model

    started = time.perf_counter()
    metrics = train_text_model(
        train_texts, train_labels, config, folder, auxiliary=auxiliary, unlabelled=unlabelled
    )
    seconds = time.perf_counter() - started
    signature = export_and_load(folder)
    for index, (dataset, test) in enumerate(datasets_and_tests):
        texts = test["text"].tolist()
        predicted = served_answers(signature, texts)["label"]
        extra = served_latency(signature, texts) if latency and index == 0 else {}
        recorder.add(
            dataset,
            f"{name} [served SavedModel]",
            classification_metrics(test["label"].tolist(), predicted),
            seconds,
            train_count=metrics["train_count"],
            branches=config.branches,
            pretraining_text_count=metrics.get("pretraining_text_count", 0),
            validation=json_safe({key: metrics.get(key) for key in VALIDATION_KEYS}),
            **extra,
        )
    return metrics, signature


VALIDATION_KEYS = ("served_model", "wide_branch", "deep_branch", "wide_feature_count")


def run_sentiment(
    recorder, splits, work: Path, epochs: int, ablation: bool, main_rows: bool = True
) -> None:
    from models.text.training_config import TextTrainingConfig

    names = ("phrasebank_allagree", "phrasebank_50agree", "twitter_financial_news")
    for name in names if main_rows else ():
        linear_row(recorder, name, *splits[name])
    base = dict(task="sentiment", epochs=epochs, sequence_length=64, seed=42)
    allagree_train, allagree_test = splits["phrasebank_allagree"]
    test_sentences = {
        normalize_text(text) for name in names[:2] for text in splits[name][1]["text"]
    }
    pool = []
    for name in names:
        train = splits[name][0]
        keep = ~train["text"].map(normalize_text).isin(test_sentences)
        pool.append(train[keep])
    import pandas as pd

    pool = pd.concat(pool, ignore_index=True).drop_duplicates(["text", "label"])
    tests = [(name, splits[name][1]) for name in names]
    if main_rows:
        for name, test in tests:
            linear_row(recorder, name, pool, test, name="tfidf_linear, joint finance data")
        served_rows(
            recorder,
            tests,
            "wide + deep, joint finance data",
            TextTrainingConfig(**base),
            pool["text"].tolist(),
            pool["label"].tolist(),
            work / "joint",
            latency=True,
        )
        for name in names[1:]:  # each set's own training data too
            train, test = splits[name]
            served_rows(
                recorder,
                [(name, test)],
                "wide + deep, own data",
                TextTrainingConfig(**base),
                train["text"].tolist(),
                train["label"].tolist(),
                work / f"{name}_own",
            )
    if ablation:
        for branches, wide_fit, label in ABLATION:
            served_rows(
                recorder,
                [("phrasebank_allagree", allagree_test)],
                f"{label}, own data",
                TextTrainingConfig(**base, branches=branches, wide_fit=wide_fit),
                allagree_train["text"].tolist(),
                allagree_train["label"].tolist(),
                work / f"allagree_{branches}_{wide_fit}",
            )


ABLATION = (  # (branches, wide_fit, label); the default last
    ("wide", "stacked", "wide only (SVM in the graph)"),
    ("deep", "stacked", "deep only"),
    ("wide_and_deep", "joint", "wide + deep (joint)"),
    ("wide_and_deep", "stacked", "wide + deep (stacked, default)"),
)
DEFAULT_LABEL = ABLATION[-1][2]


def run_intent(recorder, splits, work: Path, epochs: int, ablation: bool) -> None:
    from models.text.training_config import TextTrainingConfig

    train, test = splits["banking77"]
    linear_row(recorder, "banking77", train, test)
    base = dict(task="intent", epochs=epochs, sequence_length=48, seed=42)
    for branches, wide_fit, label in ABLATION if ablation else ABLATION[-1:]:
        served_rows(
            recorder,
            [("banking77", test)],
            label,
            TextTrainingConfig(**base, branches=branches, wide_fit=wide_fit),
            train["text"].tolist(),
            train["label"].tolist(),
            work / f"banking_{branches}_{wide_fit}",
            latency=label == DEFAULT_LABEL,
        )
    # out of scope: 10 intents held out of training
    intents = sorted(set(train["label"]))
    held_out = set(np.random.default_rng(42).choice(intents, size=10, replace=False).tolist())
    in_train = train[~train["label"].isin(held_out)]
    inside = test[~test["label"].isin(held_out)]
    outside = test[test["label"].isin(held_out)]
    linear_row(recorder, "banking77_in_scope_intents", in_train, inside)
    folder = work / "banking_oos"
    metrics, signature = served_rows(
        recorder,
        [("banking77_in_scope_intents", inside)],
        DEFAULT_LABEL,
        TextTrainingConfig(**base),
        in_train["text"].tolist(),
        in_train["label"].tolist(),
        folder,
    )
    inside_answers = served_answers(signature, inside["text"].tolist())
    outside_answers = served_answers(signature, outside["text"].tolist())
    correct = np.array(inside_answers["label"]) == inside["label"].to_numpy()
    for score, threshold in metrics["oos_thresholds"].items():
        # oos_metrics reads "confidences" (low = out of scope): the negated scores
        figures = oos_metrics(
            -inside_answers[f"oos_{score}"],
            correct,
            -outside_answers[f"oos_{score}"],
            -threshold,
        )
        figures["threshold"] = threshold
        figures["in_scope_accuracy_without_threshold"] = float(correct.mean())
        recorder.add(
            "banking77_out_of_scope",
            f"{DEFAULT_LABEL} [served SavedModel], {score} score"
            + (" (default)" if score == metrics["oos_score"] else ""),
            figures,
            metrics["training_seconds"],
            oos_score=score,
            held_out_intents=sorted(held_out),
            in_scope_test=len(inside),
            out_of_scope_test=len(outside),
            threshold_rule="keeps 95% of in-scope validation texts "
            "(10% stratified split of training, seed 42)",
            train_count=metrics["train_count"],
        )


PRETRAINING_DATASETS = ("phrasebank_allagree", "phrasebank_50agree", "twitter_financial_news")


def run_pretraining(
    recorder,
    splits,
    work: Path,
    epochs: int,
    datasets,
    stocknet_texts: list[str],
    pretraining_epochs: int,
) -> None:
    """Own-data served models with and without masked-token pretraining of the deep branch on
    StockNet, same split, seed."""
    from models.text.training_config import TextTrainingConfig

    base = dict(task="sentiment", epochs=epochs, sequence_length=64, seed=42)
    for name in datasets:
        train, test = splits[name]
        linear_row(recorder, name, train, test)
        texts, labels = train["text"].tolist(), train["label"].tolist()
        served_rows(
            recorder,
            [(name, test)],
            f"{DEFAULT_LABEL}, own data, no pretraining",
            TextTrainingConfig(**base),
            texts,
            labels,
            work / f"{name}_plain",
        )
        served_rows(
            recorder,
            [(name, test)],
            f"{DEFAULT_LABEL}, own data, + masked-token pretraining of the deep branch "
            f"({pretraining_epochs} passes, training texts + {len(stocknet_texts):,} StockNet "
            "tweets)",
            TextTrainingConfig(**base, pretraining_epochs=pretraining_epochs),
            texts,
            labels,
            work / f"{name}_pretrained",
            unlabelled=stocknet_texts,
        )


def later_run_section(run: dict) -> list[str]:
    """A later run's own table, with deltas against that run's own baseline rows."""
    host = []
    if (stolen := run.get("cpu_time_stolen_by_hypervisor_fraction")) is not None:
        host.append(f"CPU time stolen by the hypervisor during the run: {stolen:.1%}")
    if (loop := run.get("reference_loop_seconds")) is not None:
        host.append(
            f"reference pure-Python loop (bench/machine_state.py, lower = faster host) {loop} s"
        )
    if (load := run.get("load_average_1_5_15_min_at_start")) is not None:
        host.append(f"load average at the start {', '.join(f'{value:.1f}' for value in load)}")
    lines = [
        "",
        f"### {run['title']}",
        "",
        f"Command: `{run['command']}`  ",
        f"Machine: {run['machine']}{'; ' + '; '.join(host) if host else ''}. Date: {run['date']}.",
        "",
    ]
    lines += [" ".join(run["protocol"].split()), ""] if run.get("protocol") else []
    rows = [row for row in run["rows"] if "accuracy" in row]
    baselines = {row["dataset"]: row for row in rows if row["model"] == "tfidf_linear_baseline"}
    lines += [
        "| data set | model | accuracy (delta) | macro-F1 (delta) | train s | pretraining texts | "
        "target met |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        base = baselines.get(row["dataset"])
        deltas = {
            key: f" ({row[key] - base[key]:+.4f})" if base is not None and row is not base else ""
            for key in ("accuracy", "macro_f1")
        }
        met = all(row[key] >= value for key, value in TARGETS.get(row["dataset"], {}).items())
        lines.append(
            f"| {row['dataset']} | {row['model']} | {row['accuracy']:.4f}{deltas['accuracy']} | "
            f"{row['macro_f1']:.4f}{deltas['macro_f1']} | {row['training_seconds']} | "
            f"{row.get('pretraining_text_count', 0):,} | {'yes' if met else 'no'} |"
        )
    lines += out_of_scope_table(run["rows"])
    lines += latency_table(run["rows"])
    lines += [""] + [f"- {note}" for note in run.get("notes", [])]
    return lines


def out_of_scope_table(rows: list[dict]) -> list[str]:
    """The Banking77 out-of-scope rows among `rows` as a table (nothing without such rows)."""
    rows = [row for row in rows if row["dataset"] == "banking77_out_of_scope"]
    if not rows:
        return []
    lines = [
        "",
        "Banking77 out-of-scope (10 intents held out of training; threshold keeps 95% of in-scope "
        "validation texts):",
        "",
        "| model | AUROC | in-scope acc. (kept & right) | in-scope kept | OOS recall | OOS "
        "precision | threshold | acc. without threshold | train s |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        lines.append(
            f"| {row['model']} | {row['auroc']:.4f} | {row['in_scope_accuracy']:.4f} | "
            f"{row['in_scope_kept']:.4f} | {row['oos_recall']:.4f} | "
            f"{row['oos_precision']:.4f} | {row['threshold']:.3f} | "
            f"{row['in_scope_accuracy_without_threshold']:.4f} | {row['training_seconds']} |"
        )
    return lines


def latency_table(rows: list[dict]) -> list[str]:
    """Served latency / throughput of the rows that measured it (nothing without such rows)."""
    rows = [row for row in rows if "latency_p50_ms_one_text" in row]
    if not rows:
        return []
    lines = [
        "",
        "Served SavedModel, in-process signature calls on raw strings (one text per request after "
        "20 warm-up calls; batch 256 averaged over 5 calls):",
        "",
        "| model | data set texts | p50 ms, 1 text | p99 ms, 1 text | texts/s at batch 256 |",
        "|---|---|---|---|---|",
    ]
    for row in rows:
        lines.append(
            f"| {row['model']} | {row['dataset']} | {row['latency_p50_ms_one_text']} | "
            f"{row['latency_p99_ms_one_text']} | {row['throughput_texts_per_second_batch_256']} |"
        )
    return lines


def write_section(results: dict) -> None:
    lines = [
        "## Text models: finance sentiment and banking intent",
        "",
        f"Command: `{results['command']}`  ",
        f"Machine: {results['machine']}. Date: {results['date']}. Training times are wall-clock.",
        "",
        "Protocol: " + " ".join(results["protocol"].split()),
        "",
        "| data set | model | accuracy | macro-F1 | train s | train texts |",
        "|---|---|---|---|---|---|",
    ]
    for row in results["rows"]:
        if "accuracy" not in row:
            continue
        lines.append(
            f"| {row['dataset']} | {row['model']} | {row['accuracy']:.4f} | "
            f"{row['macro_f1']:.4f} | {row['training_seconds']} | "
            f"{row.get('train_count', '')} |"
        )
    lines += out_of_scope_table(results["rows"])
    lines += [
        "",
        "Against the baseline and the targets (accuracy / macro-F1; delta = minus the same run's "
        "`tfidf_linear_baseline`):",
        "",
        "| data set | model | accuracy (delta) | macro-F1 (delta) | target met |",
        "|---|---|---|---|---|",
    ]
    baselines = {
        row["dataset"]: row for row in results["rows"] if row["model"] == "tfidf_linear_baseline"
    }
    for row in results["rows"]:
        base = baselines.get(row["dataset"])
        if base is None or row is base or "accuracy" not in row:
            continue
        target = TARGETS.get(row["dataset"], {})
        met = all(row[key] >= value for key, value in target.items())
        lines.append(
            f"| {row['dataset']} | {row['model']} | {row['accuracy']:.4f} "
            f"({row['accuracy'] - base['accuracy']:+.4f}) | {row['macro_f1']:.4f} "
            f"({row['macro_f1'] - base['macro_f1']:+.4f}) | "
            f"{('yes' if met else 'no') if target else '-'} |"
        )
    lines += latency_table(results["rows"])
    lines += ["", "Targets: " + json.dumps(TARGETS), ""]
    lines += [f"- {note}" for note in results.get("notes", [])]
    for run in results.get("later_runs", []):
        lines += later_run_section(run)
    lines.append("")
    SECTION.parent.mkdir(parents=True, exist_ok=True)
    SECTION.write_text("\n".join(lines))


def later_run_recorder(args, command: str, data: Path, title: str, protocol: str) -> Recorder:
    """A recorder whose rows go to a run under `later_runs` of the existing results (by title).

    The run records the machine state beside its rows (load averages, CPU stolen by the
    hypervisor, the reference pure-Python loop), so its training times can be read against the
    host that measured them. A later run of the same title replaces the earlier one.
    """
    from bench.machine_state import StealMeter, reference_loop_seconds

    existing = json.loads(RESULTS.read_text()) if RESULTS.exists() else {"rows": [], "protocol": ""}
    steal = StealMeter()
    started_load = [round(value, 2) for value in os.getloadavg()]
    reference = reference_loop_seconds()
    run: dict = {
        "title": title,
        "command": command,
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "rows": [],
        "machine": "2-core CPU, 24 GiB" + (f", {args.machine_note}" if args.machine_note else ""),
        "protocol": protocol,
    }

    def save() -> None:
        run.update(
            load_average_1_5_15_min_at_start=started_load,
            load_average_1_5_15_min_now=[round(value, 2) for value in os.getloadavg()],
            cpu_time_stolen_by_hypervisor_fraction=steal.fraction(),
            reference_loop_seconds=reference,
        )
        runs = [r for r in existing.get("later_runs", []) if r.get("title") != run["title"]]
        RESULTS.write_text(json.dumps({**existing, "later_runs": runs + [run]}, indent=2))

    return Recorder(command, data, results=run, save=save)


def run_pretraining_benchmark(args, command: str, data: Path, splits: dict, work: Path) -> int:
    """`--tasks pretraining`: a later run added to the existing results under `later_runs`."""
    from models.text.datasets import read_stocknet_texts

    stocknet = read_stocknet_texts(
        data / "stocknet" / "tweets.jsonl.gz", limit=args.stocknet_texts, seed=42
    )
    recorder = later_run_recorder(
        args,
        command,
        data,
        "Masked-token pretraining on StockNet (ablation)",
        (
            "Same splits, seed and settings as the table above (own training data, "
            f"{args.epochs} epochs, wide + deep trained jointly, measured through the served "
            "SavedModel). With pretraining, the deep branch's encoder is first trained to predict "
            "masked tokens "
            "(`models/text/pretraining.py`) on the training texts plus a seeded sample of distinct "
            "StockNet tweets (retweets dropped); the vocabulary stays the labelled texts', so the "
            "two rows of a data set differ in the pretraining only. Train seconds include the "
            "pretraining."
        ),
    )
    run_pretraining(
        recorder,
        splits,
        work,
        args.epochs,
        args.pretraining_datasets,
        stocknet,
        args.pretraining_epochs,
    )
    write_section(json.loads(RESULTS.read_text()))
    print(f"wrote {RESULTS} and {SECTION}")
    return 0


def main() -> int:
    global RESULTS, SECTION
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(ROOT.parent / "shared" / "data"))
    parser.add_argument("--tasks", default="sentiment,intent")
    parser.add_argument("--epochs", type=int, default=12)
    parser.add_argument("--no-ablation", action="store_true")
    parser.add_argument(
        "--ablation-only",
        action="store_true",
        help="sentiment: only the ablation rows (to run them in parallel)",
    )
    parser.add_argument("--results", default=str(RESULTS), help="JSON to write")
    parser.add_argument("--section", default=str(SECTION), help="Markdown section to write")
    parser.add_argument(
        "--pretraining-datasets",
        nargs="+",
        choices=PRETRAINING_DATASETS,
        default=list(PRETRAINING_DATASETS),
        help="--tasks pretraining: the finance sets to train with and without pretraining",
    )
    parser.add_argument("--pretraining-epochs", type=int, default=3, help="masked-token passes")
    parser.add_argument(
        "--stocknet-texts",
        type=int,
        default=20_000,
        help="StockNet tweets (distinct, no retweets, seeded sample) to pretrain on",
    )
    parser.add_argument("--machine-note", default="", help="what else ran on the machine")
    parser.add_argument(
        "--limit",
        type=int,
        default=0,
        help="smoke test: keep this many training and test texts per data set (seeded; 0 = all)",
    )
    parser.add_argument(
        "--later-run",
        default=None,
        metavar="TITLE",
        help="sentiment/intent: record this run under `later_runs` of the existing "
        "results with this title (its own table), instead of replacing them",
    )
    parser.add_argument(
        "--merge",
        nargs="*",
        default=None,
        help="merge these result JSONs into --results and write the section",
    )
    args = parser.parse_args()
    data = Path(args.data)
    RESULTS = Path(args.results)
    SECTION = Path(args.section)
    if args.merge is not None:
        merged = None
        for path in args.merge:
            part = json.loads(Path(path).read_text())
            if merged is None:
                merged = part
                merged["command"] = [part["command"]]
            else:
                merged["rows"] += part["rows"]
                merged["command"].append(part["command"])
        merged["command"] = " ; ".join(merged["command"])
        seen, rows = set(), []
        for row in merged["rows"]:  # a row measured by two partial runs is kept once
            if (row["dataset"], row["model"]) not in seen:
                seen.add((row["dataset"], row["model"]))
                rows.append(row)
        merged["rows"] = rows
        RESULTS.write_text(json.dumps(merged, indent=2))
        write_section(merged)
        return 0
    command = "python bench/text_models.py " + shlex.join(sys.argv[1:])
    splits = load_splits(data)
    if args.limit:
        splits = {
            name: tuple(
                part.sample(min(args.limit, len(part)), random_state=42).reset_index(drop=True)
                for part in parts
            )
            for name, parts in splits.items()
        }
    work = Path(tempfile.mkdtemp(prefix="seqlens-bench-text-"))
    if args.tasks == "pretraining":
        return run_pretraining_benchmark(args, command, data, splits, work)
    if args.later_run:
        recorder = later_run_recorder(
            args,
            command,
            data,
            args.later_run,
            (
                f"The protocol of the table above, {args.epochs} epochs; this run's rows only "
                "(its own `tfidf_linear_baseline` rows are the deltas' reference)."
            ),
        )
    else:
        recorder = Recorder(command, data, machine_note=args.machine_note)
    if "sentiment" in args.tasks:
        run_sentiment(
            recorder,
            splits,
            work,
            args.epochs,
            not args.no_ablation,
            main_rows=not args.ablation_only,
        )
    if "intent" in args.tasks:
        run_intent(recorder, splits, work, args.epochs, not args.no_ablation)
    write_section(json.loads(RESULTS.read_text()) if args.later_run else recorder.results)
    print(f"wrote {RESULTS} and {SECTION}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
