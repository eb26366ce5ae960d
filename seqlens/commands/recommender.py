"""`seqlens train recommender` and `seqlens evaluate recommender`.

The training flags are derived from `RecommenderConfig`'s dataclass fields (their types, defaults
and `metadata` help text), so flag `--num-blocks` sets field `num_blocks`, as the batch settings
and the Airflow Params do. The work itself is `seqlens.jobs.recommender`; heavy imports (Keras)
happen inside the handlers, so `seqlens --help` stays fast.
"""

from __future__ import annotations

import argparse
import dataclasses
from typing import Any

from models.recommender.config import RecommenderConfig

# Fields typed `bool | None` or `bool | str` take one of three words on the command line.
TRI_STATE_WORDS = ("auto", "on", "off")


def _optional_int(text: str) -> int | None:
    return None if text.lower() in ("none", "0", "") else int(text)


def _optional_float(text: str) -> float | None:
    return None if text.lower() in ("none", "") else float(text)


def _tri_state_word(value: Any) -> str:
    return "auto" if value in (None, "auto") else "on" if value else "off"


def _tri_state_value(field: dataclasses.Field, word: str) -> bool | str | None:
    """`auto` is `None` for a `bool | None` field and `"auto"` for a `bool | str` one."""
    if word == "auto":
        return "auto" if field.type == "bool | str" else None
    return word == "on"


def config_flag(name: str) -> str:
    """The flag of a `RecommenderConfig` field: `num_blocks` -> `--num-blocks`."""
    return "--" + name.replace("_", "-")


def add_config_arguments(parser: argparse.ArgumentParser) -> None:
    """One flag per `RecommenderConfig` field, with the field's default and help text."""
    for field in dataclasses.fields(RecommenderConfig):
        flags = [config_flag(field.name), *field.metadata.get("aliases", ())]
        help_text = field.metadata["help"].replace("%", "%%")
        options: dict[str, Any] = {"dest": field.name, "default": field.default, "help": help_text}
        if field.type == "bool":
            options["action"] = argparse.BooleanOptionalAction
        elif field.type in ("bool | None", "bool | str"):
            options.update(choices=TRI_STATE_WORDS, default=_tri_state_word(field.default))
        elif "choices" in field.metadata:
            options["choices"] = field.metadata["choices"]
        else:
            options["type"] = {
                "int": int,
                "float": float,
                "str": str,
                "int | None": _optional_int,
                "float | None": _optional_float,
            }[field.type]
        parser.add_argument(*flags, **options)


def config_from_args(args: argparse.Namespace) -> RecommenderConfig:
    """The `RecommenderConfig` the parsed flags describe."""
    values = {}
    for field in dataclasses.fields(RecommenderConfig):
        value = getattr(args, field.name)
        if field.type in ("bool | None", "bool | str"):
            value = _tri_state_value(field, value)
        values[field.name] = value
    return RecommenderConfig(**values)


def register(commands) -> None:
    """Add `train recommender` and `evaluate recommender` (see `seqlens.cli.CommandGroups`)."""
    train = commands.group("train").add_parser(
        "recommender",
        help="train the attention sequential recommender (SASRec family) or a GRU4Rec baseline",
        description="Train on an events run folder (sequences/ + vocab/) or a SASRec user-item "
        "text file.",
    )
    train.add_argument(
        "--data", required=True, help="events run folder, or a SASRec `user item` .txt file"
    )
    train.add_argument("--output", required=True, help="model folder to write")
    add_config_arguments(train)
    train.add_argument(
        "--resume", action="store_true", help="continue from the folder's checkpoint"
    )
    train.set_defaults(handler=run_train)

    evaluate = commands.group("evaluate").add_parser(
        "recommender",
        help="rank the test targets (full and sampled100 protocols) for the model and the "
        "baselines",
        description="Writes metrics.json: HR@{1,5,10,20}, NDCG@{5,10,20}, MRR per protocol and "
        "model.",
    )
    evaluate.add_argument("--model", required=True, help="trained recommender folder")
    evaluate.add_argument(
        "--data", required=True, help="events run folder, or a SASRec `user item` .txt file"
    )
    evaluate.add_argument("--output", help="metrics file (default: MODEL/metrics.json)")
    evaluate.add_argument(
        "--compare",
        nargs="*",
        default=[],
        help="other trained model folders to report beside (e.g. a GRU4Rec or BCE run)",
    )
    evaluate.add_argument("--split", choices=("test", "valid"), default="test")
    evaluate.add_argument("--k", type=int, default=10, help="cut-off of the headline metrics")
    evaluate.add_argument("--seed", type=int, default=0, help="seed of the sampled100 negatives")
    evaluate.set_defaults(handler=run_evaluate)


def run_train(args: argparse.Namespace) -> int:
    from seqlens.jobs.recommender import train_recommender_run

    summary = train_recommender_run(
        args.data, args.output, config_from_args(args), resume=args.resume
    )
    if summary:
        print(summary)
    return 0


def run_evaluate(args: argparse.Namespace) -> int:
    from seqlens.jobs.recommender import evaluate_recommender_run

    _, summary = evaluate_recommender_run(
        args.model,
        args.data,
        output=args.output,
        compare=args.compare,
        split=args.split,
        k=args.k,
        seed=args.seed,
    )
    print(summary)
    return 0
