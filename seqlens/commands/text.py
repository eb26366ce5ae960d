"""`seqlens train sentiment|intent`, `seqlens evaluate sentiment|intent`, `seqlens score`.

The inputs each command reads are described in `seqlens.jobs.text`, which also does the training
work (shared with the batch path). Heavy libraries are imported in handlers only.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from models.text.training_config import WIDE_FITS, TextTrainingConfig
from seqlens.jobs.text import read_labelled_texts
from seqlens.layout import ArtifactLayout, default_artifacts_root

DEFAULT_INPUT_KIND = {"sentiment": "news", "intent": "chats"}


def _default_input(task: str) -> Path:
    layout = ArtifactLayout(default_artifacts_root())
    run = layout.data_run(DEFAULT_INPUT_KIND[task])
    if (run / "texts").is_dir():
        return run
    return layout.raw_news if task == "sentiment" else layout.raw_chats


def _add_input_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--text-column", default="text", help="column with the raw text")
    parser.add_argument(
        "--label-column", default=None, help="label column (default: label, intent or category)"
    )


def register(commands) -> None:
    """Add the text-model subcommands."""
    train = commands.group("train")
    evaluate = commands.group("evaluate")
    for task in ("sentiment", "intent"):
        what = "finance sentiment" if task == "sentiment" else "customer-service intent"
        parser = train.add_parser(
            task,
            help=f"train the {what} wide-and-deep model",
            description=f"Train the {what} text model (wide TF-IDF n-grams + deep attention, "
            "one Keras graph) from raw labelled texts.",
        )
        parser.add_argument(
            "--input",
            default=None,
            help=f"labelled texts (default: the {DEFAULT_INPUT_KIND[task]} "
            "pipeline run, else the raw generated log)",
        )
        parser.add_argument(
            "--validation",
            default=None,
            help="labelled validation texts (default: stratified split)",
        )
        parser.add_argument(
            "--extra-train",
            action="append",
            default=[],
            help="auxiliary labelled texts for joint training (repeatable)",
        )
        parser.add_argument(
            "--output", default=None, help=f"model folder (default: <artifacts>/models/{task})"
        )
        _add_input_arguments(parser)
        parser.add_argument("--epochs", type=int, default=12)
        parser.add_argument("--batch-size", type=int, default=64)
        parser.add_argument("--embedding-dim", type=int, default=96)
        parser.add_argument("--num-blocks", type=int, default=1)
        parser.add_argument("--sequence-length", type=int, default=64)
        parser.add_argument("--learning-rate", type=float, default=2e-3)
        parser.add_argument(
            "--no-ngrams", action="store_true", help="disable character n-gram (sub-word) features"
        )
        parser.add_argument(
            "--branches",
            choices=("wide_and_deep", "wide", "deep"),
            default="wide_and_deep",
            help="the model's branches: wide (TF-IDF n-grams) and deep (attention), trained "
            "jointly (default); one alone for an ablation",
        )
        parser.add_argument(
            "--wide-fit",
            choices=WIDE_FITS,
            default=TextTrainingConfig.wide_fit,
            help="how the branches are fitted: stacked (default): the wide branch first as a "
            "linear SVM, the deep branch alone, their weights fitted on validation, the SVM "
            "refitted on all texts; joint: both by the optimiser together; svm_first: the SVM "
            "frozen, the deep branch trained beside its out-of-fold margins "
            "(docs/text-models.md)",
        )
        parser.add_argument(
            "--oos-score",
            choices=("max_softmax", "energy", "mahalanobis"),
            default="energy",
            help="intent: the out-of-scope score that decides out_of_scope (all three are "
            "calibrated and written to config.json)",
        )
        parser.add_argument(
            "--oos-keep-rate",
            type=float,
            default=0.95,
            help="intent: share of in-scope validation texts the OOS threshold keeps",
        )
        parser.add_argument(
            "--pretraining-epochs",
            type=int,
            default=0,
            help="masked-token pretraining passes of the encoder over the training "
            "texts and --unlabelled texts before fitting the labels (0 = off)",
        )
        parser.add_argument(
            "--unlabelled",
            action="append",
            default=[],
            help="unlabelled texts for the pretraining, e.g. StockNet's tweets.jsonl.gz "
            "(repeatable; needs --pretraining-epochs)",
        )
        parser.add_argument("--seed", type=int, default=42)
        parser.set_defaults(handler=run_train, task=task)

        parser = evaluate.add_parser(
            task,
            help=f"evaluate a {what} model on labelled texts",
            description=f"Evaluate a trained {what} model; adds `evaluation` to its metrics.json.",
        )
        parser.add_argument(
            "--model", default=None, help=f"model folder (default: <artifacts>/models/{task})"
        )
        parser.add_argument("--input", required=True, help="labelled texts")
        _add_input_arguments(parser)
        parser.set_defaults(handler=run_evaluate, task=task)

    parser = commands.top.add_parser(
        "score",
        help="batch-score a news or chat log with a text model",
        description="Score every text of a CSV / JSONL(.gz) / Parquet log or pipeline run folder "
        "and write label, confidence, probabilities, score, out_of_scope, out_of_scope_score, "
        "tokens, token_attention and wide_contributions next to the input columns (.parquet, "
        ".csv or .jsonl output).",
    )
    parser.add_argument("--model", required=True, help="text model folder")
    parser.add_argument("--input", required=True, help="texts to score")
    parser.add_argument("--output", required=True, help="output file (.parquet, .csv, .jsonl)")
    parser.add_argument("--text-column", default="text", help="column with the raw text")
    parser.set_defaults(handler=run_score)


def run_train(args: argparse.Namespace) -> int:
    from seqlens.jobs.text import text_training_config, train_text_run

    source = Path(args.input) if args.input else _default_input(args.task)
    config = text_training_config(
        args.task,
        embedding_dim=args.embedding_dim,
        epochs=args.epochs,
        batch_size=args.batch_size,
        num_blocks=args.num_blocks,
        sequence_length=args.sequence_length,
        learning_rate=args.learning_rate,
        max_ngrams=0 if args.no_ngrams else 20_000,
        branches=args.branches,
        wide_fit=args.wide_fit,
        oos_keep_rate=args.oos_keep_rate,
        oos_score=args.oos_score,
        pretraining_epochs=args.pretraining_epochs,
        seed=args.seed,
    )
    output = (
        Path(args.output)
        if args.output
        else ArtifactLayout(default_artifacts_root()).model_dir(args.task)
    )
    _, summary = train_text_run(
        source,
        output,
        config,
        validation=args.validation,
        extra_train=args.extra_train,
        unlabelled=args.unlabelled,
        text_column=args.text_column,
        label_column=args.label_column,
    )
    print(summary)
    return 0


def run_evaluate(args: argparse.Namespace) -> int:
    from models.text.evaluation import evaluate_text_model

    model_dir = (
        Path(args.model)
        if args.model
        else ArtifactLayout(default_artifacts_root()).model_dir(args.task)
    )
    table = read_labelled_texts(args.input, args.task, args.text_column, args.label_column)
    result = evaluate_text_model(model_dir, table["text"].tolist(), table["label"].tolist())
    result["input"] = str(args.input)
    metrics_path = model_dir / "metrics.json"
    metrics = json.loads(metrics_path.read_text()) if metrics_path.exists() else {}
    metrics["evaluation"] = result
    metrics_path.write_text(json.dumps(metrics, indent=2))
    print(json.dumps(result, indent=2))
    return 0


def run_score(args: argparse.Namespace) -> int:
    from models.text.datasets import read_text_table
    from models.text.inference import load_text_model

    output = Path(args.output)
    suffix = "".join(output.suffixes[-2:]).lower()
    if not suffix.endswith((".parquet", ".csv", ".jsonl", ".jsonl.gz")):
        raise ValueError(
            f"Expected an output ending in .parquet, .csv or .jsonl. Received: output={output}"
        )
    table = read_text_table(args.input, text_column=args.text_column)
    model = load_text_model(args.model)
    predictions = model.predict(table["text"].tolist())
    overlapping = [c for c in predictions.columns if c in table.columns]
    scored = table.drop(columns=overlapping).reset_index(drop=True)
    if "label" in overlapping:
        scored["true_label"] = table["label"].to_numpy()
    for column in predictions.columns:
        scored[column] = predictions[column].to_numpy()
    output.parent.mkdir(parents=True, exist_ok=True)
    if suffix.endswith(".parquet"):
        scored.to_parquet(output, index=False)
    elif suffix.endswith(".csv"):
        from seqlens.jobs.spreadsheet_safety import write_safe_csv

        for column in ("probabilities", "tokens", "token_attention", "wide_contributions"):
            scored[column] = scored[column].map(json.dumps)
        write_safe_csv(scored, output)  # string cells never start a spreadsheet formula
    else:
        scored.to_json(output, orient="records", lines=True, force_ascii=False)
    print(f"scored {len(scored)} texts -> {output}")
    return 0
