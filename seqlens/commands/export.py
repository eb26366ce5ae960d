"""`seqlens export recommender|sentiment|intent` and `seqlens publish` (gated, atomic; rollback).

- `export KIND --model DIR --serving-root DIR --name NAME [--version N]`: write the SavedModel
  as the next version (staged and renamed atomically), without the gate.
- `publish --model DIR --serving-root DIR --name NAME [--data DIR] [--tolerance] [--keep N]
  [--latency-p99-ms MS]`: export to a staging folder, run the validation gate, publish only if
  every check passes. Exit code 0 when published, 1 with one line of reasons when rejected.
- `publish --rollback --serving-root DIR --name NAME`: take the newest version out of service.

Every publish decision goes to `<serving-root>/publish_log.jsonl`; `<serving-root>/models.config`
is rewritten for TF Serving's `--model_config_file` after each change.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from models.serving.gate import (
    DEFAULT_GATE_REQUESTS,
    DEFAULT_KEEP,
    DEFAULT_LATENCY_P99_MS,
    DEFAULT_METRIC_TOLERANCE,
    DEFAULT_SCORE_TOLERANCE,
    TEXT_TASKS,
)

EXPORT_KINDS = ("recommender", *TEXT_TASKS)


def register(commands) -> None:
    """Add `export recommender|sentiment|intent` and the top-level `publish`."""
    from seqlens.layout import ArtifactLayout, default_artifacts_root

    default_serving_root = ArtifactLayout(default_artifacts_root()).serving_root
    export_group = commands.group("export")
    for kind in EXPORT_KINDS:
        parser = export_group.add_parser(
            kind,
            help=f"write the {kind} model as a TF Serving SavedModel version (no gate)",
            description=(
                f"Export a trained {kind} model folder as <serving-root>/<name>/<version>/."
            ),
        )
        _common_options(parser, default_serving_root, model_required=True)
        parser.add_argument("--version", type=int, help="version number (default: next free one)")
        if kind == "recommender":
            _xla_option(parser)
        parser.set_defaults(handler=_export_handler, kind=kind, xla=False)

    publish = commands.top.add_parser(
        "publish",
        help="validate a trained model against the served one and publish it atomically",
        description="Export to a staging folder, reload it, check it against the Keras model, the "
        "served version's metric and a latency limit, then rename it into place. "
        "With --rollback: retire the newest version so TF Serving serves the previous one.",
    )
    _common_options(publish, default_serving_root, model_required=False)
    publish.add_argument(
        "--rollback", action="store_true", help="retire the newest version instead"
    )
    publish.add_argument(
        "--data",
        help="held-out data: an events run (recommender) or a news/chats "
        "run or text file (text models); default: the model's data run",
    )
    publish.add_argument(
        "--tolerance",
        type=float,
        default=DEFAULT_METRIC_TOLERANCE,
        help="allowed absolute drop of the headline metric (NDCG@10 for the "
        "recommender) against the served version (default %(default)g)",
    )
    publish.add_argument(
        "--score-tolerance",
        type=float,
        default=DEFAULT_SCORE_TOLERANCE,
        help="allowed absolute difference SavedModel vs Keras (default %(default)g)",
    )
    publish.add_argument(
        "--keep",
        type=int,
        default=DEFAULT_KEEP,
        help="published versions to keep (default %(default)d)",
    )
    publish.add_argument(
        "--latency-p99-ms",
        type=float,
        default=DEFAULT_LATENCY_P99_MS,
        help="p99 limit of single requests through the reloaded signature "
        "(default %(default)g: a sanity limit on a shared CPU; set your SLO)",
    )
    publish.add_argument(
        "--requests",
        type=int,
        default=DEFAULT_GATE_REQUESTS,
        help="held-out users / texts the gate runs (default %(default)d)",
    )
    publish.add_argument("--version", type=int, help="version number (default: next free one)")
    publish.add_argument("--seed", type=int, default=0, help="seed of the held-out sample")
    _xla_option(publish)
    publish.set_defaults(handler=_publish_handler)


def _xla_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--xla",
        action="store_true",
        help="recommender: compile the model's forward pass with XLA "
        "(about a third lower single-request latency on CPU, measured; TF Serving must then run "
        "with --xla_cpu_compilation_enabled=true)",
    )


def _common_options(
    parser: argparse.ArgumentParser, default_serving_root: Path, model_required: bool
) -> None:
    parser.add_argument("--model", required=model_required, help="trained model folder")
    parser.add_argument(
        "--serving-root",
        default=str(default_serving_root),
        help=f"TF Serving model root (default {default_serving_root})",
    )
    parser.add_argument("--name", help="servable name (default: the model folder's name)")


def _name(args: argparse.Namespace) -> str:
    """The servable name, checked against TF Serving's rule before any work is done."""
    from models.serving.versions import validate_servable_name

    if args.name is not None:
        return validate_servable_name(args.name)
    if not args.model:
        from seqlens.errors import UsageError

        raise UsageError("Expected --name (or --model to take the name from). Received: neither")
    return validate_servable_name(Path(args.model).resolve().name)


def _export_handler(args: argparse.Namespace) -> int:
    from models.serving.candidates import savedmodel_writer
    from models.serving.publish import export_version

    name = _name(args)
    _, write = savedmodel_writer(_existing(args.model), kind=args.kind, jit_compile=args.xla)
    path = export_version(write, args.serving_root, name, version=args.version)  # + models.config
    print(f"exported {args.kind} {name} version {path.name} to {path}")
    return 0


def _publish_handler(args: argparse.Namespace) -> int:
    from models.serving.publish import publish_model, roll_back_model

    name = _name(args)
    if args.rollback:
        decision = roll_back_model(args.serving_root, name)  # rewrites models.config
        print(decision.summary())
        return 0
    if not args.model:
        from seqlens.errors import UsageError

        raise UsageError("Expected --model (the trained model folder to publish). Received: none")
    for option in ("tolerance", "score_tolerance"):
        if getattr(args, option) < 0:
            raise ValueError(
                f"Expected --{option.replace('_', '-')} >= 0. "
                f"Received: {option}={getattr(args, option)}"
            )
    if args.requests < 1:
        raise ValueError(f"Expected --requests >= 1. Received: requests={args.requests}")
    decision = publish_model(
        _existing(args.model),
        args.serving_root,
        name,
        data=args.data,
        metric_tolerance=args.tolerance,
        keep=args.keep,
        latency_p99_ms=args.latency_p99_ms,
        version=args.version,
        num_requests=args.requests,
        seed=args.seed,
        score_tolerance=args.score_tolerance,
        jit_compile=args.xla,
    )
    if decision.published:
        print(decision.summary())
        return 0
    print(f"seqlens publish: {decision.summary()}", file=sys.stderr)
    return 1


def _existing(folder: str) -> Path:
    path = Path(folder)
    if not path.is_dir():
        raise FileNotFoundError(f"Expected a trained model folder. Received: model={folder!r}")
    return path
