"""`seqlens demo`: the whole batch path end to end on generated data (see `seqlens.demo`)."""

from __future__ import annotations

import argparse
from pathlib import Path

from seqlens.demo import echo_line, print_summary, run_demo
from seqlens.layout import ARTIFACTS_ENV_VAR, default_artifacts_root


def register(commands) -> None:
    """Add `seqlens demo` (see `seqlens.cli.CommandGroups`)."""
    parser = commands.top.add_parser(
        "demo",
        help="run the whole batch path end to end on generated data",
        description=(
            "Generate data, run the pipelines, train, evaluate, gate and publish the models, "
            "raise alerts, then print where everything is and how to open the dashboard."
        ),
    )
    parser.add_argument(
        "--output",
        default=None,
        help=f"artifacts root (default: ${ARTIFACTS_ENV_VAR} or ./{default_artifacts_root()})",
    )
    parser.add_argument("--seed", type=int, default=42, help="random seed")
    parser.add_argument(
        "--fast",
        action="store_true",
        help="tiny data and models: every step in seconds (for smoke tests)",
    )
    parser.add_argument(
        "--show-logs",
        action="store_true",
        help="let every step print to the terminal (default: <output>/logs/)",
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    output = Path(args.output) if args.output else default_artifacts_root()
    echo_line(f"seqlens demo -> {output} (seed {args.seed}{', fast' if args.fast else ''})")
    report = run_demo(output, seed=args.seed, fast=args.fast, capture_logs=not args.show_logs)
    print_summary(report)
    return 0 if all(step.status != "failed" for step in report.steps) else 1
