"""`seqlens generate`: write the synthetic default data set."""

from __future__ import annotations

import argparse

from seqlens.layout import ArtifactLayout, default_artifacts_root


def register(commands) -> None:
    parser = commands.top.add_parser(
        "generate",
        help="write a small synthetic data set (events, news, chats)",
        description="Write synthetic events/news/chats logs (deterministic under --seed).",
    )
    parser.add_argument(
        "--output", default=None, help="folder for the logs (default: <artifacts root>/raw)"
    )
    parser.add_argument("--users", type=int, default=2_000, help="number of users")
    parser.add_argument("--items", type=int, default=800, help="catalogue size")
    parser.add_argument("--days", type=int, default=90, help="days of news and chats")
    parser.add_argument("--chats", type=int, default=4_000, help="number of chat messages")
    parser.add_argument(
        "--corrupt-fraction",
        type=float,
        default=0.005,
        help="share of malformed rows mixed into each log",
    )
    parser.add_argument("--seed", type=int, default=42, help="random seed")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from seqlens.synthetic.generator import GenerateConfig, generate

    output = args.output or ArtifactLayout(default_artifacts_root()).raw_dir
    config = GenerateConfig(
        num_users=args.users,
        num_items=args.items,
        num_days=args.days,
        num_chats=args.chats,
        corrupt_fraction=args.corrupt_fraction,
        seed=args.seed,
    )
    for name, path in generate(output, config).items():
        print(f"{name:>8}: {path}")
    return 0
