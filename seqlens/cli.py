"""The `seqlens` console script: one entry point, a subcommand per job.

Each feature module registers its own subcommands through a `register(commands)` function,
so this file only assembles them. Command modules must stay light at import time (no
TensorFlow, Beam or Airflow imports at module level): `seqlens --help` should answer at once.

Groups with a second level (`seqlens pipeline events`, `seqlens train recommender`, ...) are
created here; leaf commands (`seqlens generate`, `seqlens demo`, ...) are added by their module.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable, Sequence

from seqlens.commands import alerts as alerts_command
from seqlens.commands import dashboard as dashboard_command
from seqlens.commands import demo as demo_command
from seqlens.commands import export as export_command
from seqlens.commands import generate as generate_command
from seqlens.commands import pipeline as pipeline_command
from seqlens.commands import ranker as ranker_command
from seqlens.commands import recommender as recommender_command
from seqlens.commands import text as text_command
from seqlens.errors import UsageError

# The command modules, in `--help` order; each adds its subcommands through `register(commands)`.
COMMAND_MODULES = (
    generate_command,
    pipeline_command,
    recommender_command,
    ranker_command,
    text_command,
    export_command,
    alerts_command,
    dashboard_command,
    demo_command,
)

# Two-level groups: name -> help text.
COMMAND_GROUPS: dict[str, str] = {
    "pipeline": "run a Beam pipeline: logs -> clean, ordered sequences or texts",
    "train": "train a model (recommender, sentiment, intent)",
    "evaluate": "evaluate a trained model and write metrics.json",
    "export": "export a trained model as a TF Serving SavedModel",
}


class CommandGroups:
    """What a command module receives: the top-level subparsers and the two-level groups."""

    def __init__(
        self, top: argparse._SubParsersAction, groups: dict[str, argparse._SubParsersAction]
    ):
        self.top = top
        self._groups = groups

    def group(self, name: str) -> argparse._SubParsersAction:
        """The subparsers of a two-level group such as `train`."""
        if name not in self._groups:
            raise ValueError(f"Expected a group in {sorted(self._groups)}. Received: name={name!r}")
        return self._groups[name]


def build_parser() -> argparse.ArgumentParser:
    """Assemble the full argument parser from every command module."""
    parser = argparse.ArgumentParser(
        prog="seqlens",
        description="Attention-based recommender and sequence analytics.",
    )
    parser.add_argument("--verbose", "-v", action="store_true", help="debug logging and tracebacks")
    top = parser.add_subparsers(dest="command", metavar="COMMAND")
    top.required = True
    groups: dict[str, argparse._SubParsersAction] = {}
    for name, help_text in COMMAND_GROUPS.items():
        group_parser = top.add_parser(name, help=help_text, description=help_text)
        sub = group_parser.add_subparsers(dest=f"{name}_command", metavar="KIND")
        sub.required = True
        groups[name] = sub
    commands = CommandGroups(top, groups)
    for command_module in COMMAND_MODULES:
        command_module.register(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Parse `argv`, run the chosen command, and turn input errors into exit code 2."""
    parser = build_parser()
    # Commands that set `accepts_extra_args` (the Beam pipelines) receive unknown flags as
    # `args.extra_args` (pass-through pipeline options); for all others they stay an error.
    args, extra_args = parser.parse_known_args(argv)
    if extra_args and not getattr(args, "accepts_extra_args", False):
        parser.error(f"unrecognized arguments: {' '.join(extra_args)}")
    args.extra_args = extra_args
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    handler: Callable[[argparse.Namespace], int | None] = args.handler
    try:
        return int(handler(args) or 0)
    except (UsageError, ValueError, FileNotFoundError) as error:
        if args.verbose:
            raise
        print(f"seqlens {args.command}: error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
