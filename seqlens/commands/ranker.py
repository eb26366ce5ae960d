"""`seqlens train|evaluate|export ranker`: the cross-attention ranker.

`train ranker` re-ranks a trained retriever's top N with a target-attention ranker (each
candidate attends over the history; docs/ranker.md), trains it on the retriever's candidates for
the validation targets it did not train on, and prints retriever alone vs retriever + ranker on
the test targets. The work is `seqlens.jobs.ranker`; Keras is imported inside the handlers.
"""

from __future__ import annotations

import argparse

from models.recommender.ranker_config import BLENDS, RankerConfig


def _units(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated widths such as 64,32, got {text!r}"
        ) from None


def register(commands) -> None:
    """Add `train ranker` and `evaluate ranker` (see `seqlens.cli.CommandGroups`)."""
    defaults = RankerConfig()
    train = commands.group("train").add_parser(
        "ranker",
        help="train the cross-attention ranker on a trained retriever's top-N candidates",
        description="Each candidate item (id + features) attends over the user's history; "
        "prints retriever alone vs retriever + ranker (full and sampled100, test targets).",
    )
    train.add_argument("--retriever", required=True, help="trained recommender folder")
    train.add_argument("--data", required=True, help="events run folder, or a sequence text file")
    train.add_argument("--output", required=True, help="ranker folder to write")
    train.add_argument(
        "--item-features",
        default=None,
        metavar="FILE",
        help="item feature file (S3-Rec JSON, movies.csv, item CSV); default: the run "
        "folder's vocab/item_features.parquet",
    )
    train.add_argument(
        "--candidates",
        type=int,
        default=defaults.num_candidates,
        dest="num_candidates",
        help="retriever top N re-ranked",
    )
    train.add_argument("--hidden-dim", type=int, default=defaults.hidden_dim)
    train.add_argument("--num-heads", type=int, default=defaults.num_heads)
    train.add_argument(
        "--hidden-units", type=_units, default=defaults.hidden_units, help="MLP widths, e.g. 64,32"
    )
    train.add_argument("--dropout", type=float, default=defaults.dropout)
    train.add_argument(
        "--id-dropout",
        type=float,
        default=defaults.id_dropout,
        help="share of ids read as OOV in training",
    )
    train.add_argument("--max-features", type=int, default=defaults.max_features)
    train.add_argument(
        "--max-length", type=int, default=None, help="history length (default: the retriever's)"
    )
    train.add_argument(
        "--features",
        action=argparse.BooleanOptionalAction,
        default=True,
        dest="use_features",
        help="use item features",
    )
    train.add_argument(
        "--item-ids",
        action=argparse.BooleanOptionalAction,
        default=True,
        dest="use_item_ids",
        help="embed item ids",
    )
    train.add_argument(
        "--retriever-rank",
        action=argparse.BooleanOptionalAction,
        default=True,
        dest="use_retriever_rank",
        help="combine the score with the retriever rank",
    )
    train.add_argument(
        "--blend",
        choices=BLENDS,
        default=defaults.blend,
        help="stacked: train the attention model blind to the rank on the training positions, "
        "then fit score and rank weights on held-out validation targets; joint: the scorer reads "
        "the rank and trains on the held-out validation targets",
    )
    train.add_argument(
        "--extra-positions",
        type=int,
        default=defaults.extra_positions,
        help="each user's last training positions used as examples",
    )
    train.add_argument("--validation-share", type=float, default=defaults.validation_share)
    train.add_argument("--epochs", type=int, default=defaults.epochs)
    train.add_argument("--batch-size", type=int, default=defaults.batch_size)
    train.add_argument("--learning-rate", type=float, default=defaults.learning_rate)
    train.add_argument("--seed", type=int, default=defaults.seed)
    train.set_defaults(handler=run_train)

    evaluate = commands.group("evaluate").add_parser(
        "ranker",
        help="retriever alone vs retriever + ranker on the test targets (full, sampled100)",
        description="Writes metrics.json and prints the side-by-side table.",
    )
    evaluate.add_argument("--model", required=True, help="trained ranker folder")
    evaluate.add_argument(
        "--data", required=True, help="events run folder, or a sequence text file"
    )
    evaluate.add_argument("--output", help="metrics file (default: MODEL/metrics.json)")
    evaluate.add_argument("--seed", type=int, default=0, help="seed of the sampled100 negatives")
    evaluate.set_defaults(handler=run_evaluate)

    export = commands.group("export").add_parser(
        "ranker",
        help="write retriever + ranker as one TF Serving SavedModel version (no gate)",
        description="serving_default: history strings + k in; item_ids, scores and each "
        "recommendation's attention over the history [B, k, W] out.",
    )
    export.add_argument("--model", required=True, help="trained ranker folder")
    export.add_argument("--serving-root", required=True, help="TF Serving model root")
    export.add_argument("--name", help="servable name (default: the ranker folder's name)")
    export.set_defaults(handler=run_export)


def config_from_args(args: argparse.Namespace) -> RankerConfig:
    """The `RankerConfig` the parsed flags describe."""
    import dataclasses

    return RankerConfig(
        **{field.name: getattr(args, field.name) for field in dataclasses.fields(RankerConfig)}
    )


def run_train(args: argparse.Namespace) -> int:
    from seqlens.jobs.ranker import train_ranker_run

    _, summary = train_ranker_run(
        args.data, args.retriever, args.output, config_from_args(args), args.item_features
    )
    print(summary)
    return 0


def run_evaluate(args: argparse.Namespace) -> int:
    from seqlens.jobs.ranker import evaluate_ranker_run

    _, summary = evaluate_ranker_run(args.model, args.data, output=args.output, seed=args.seed)
    print(summary)
    return 0


def run_export(args: argparse.Namespace) -> int:
    from pathlib import Path

    from seqlens.jobs.ranker import export_ranker_run

    name = args.name or Path(args.model).resolve().name
    print(f"exported {export_ranker_run(args.model, args.serving_root, name)}")
    return 0
