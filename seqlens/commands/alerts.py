"""`seqlens alerts`: score a news log, aggregate per ticker and window, detect spikes, alert.

Settings come from defaults, then an optional JSON `--config` file
(`{"aggregation": {...}, "detector": {...}, "sink": ..., ...}`), then flags (flags win).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path

DETECTOR_FLAGS = {
    "baseline_windows": int,
    "min_baseline_windows": int,
    "min_support": float,
    "z_negative": float,
    "z_positive": float,
    "min_shift": float,
    "z_buzz": float,
    "buzz_min_ratio": float,
    "for_windows": int,
    "cooldown_windows": int,
    "market_z": float,
    "market_min_tickers": int,
}


def register(commands) -> None:
    """Add `seqlens alerts` to `commands` (see `seqlens.cli.CommandGroups`)."""
    parser = commands.top.add_parser(
        "alerts",
        help="score news, aggregate per ticker and window, detect sentiment / buzz spikes",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--news",
        help="news log: CSV, JSONL(.gz), Parquet, or the news pipeline's run / texts folder",
    )
    parser.add_argument("--model", help="trained sentiment model folder, or 'lexicon' (fallback)")
    parser.add_argument("--scored", help="an already scored Parquet table: skips scoring")
    parser.add_argument("--output", help="alerts folder (default: <artifacts>/alerts)")
    parser.add_argument("--config", help="JSON file with aggregation / detector / sink settings")
    parser.add_argument("--window", help="window length: hour, day or seconds (default day)")
    parser.add_argument("--duplicates", choices=("remove", "downweight", "keep"))
    parser.add_argument("--retweets", choices=("remove", "downweight", "keep"))
    parser.add_argument("--weighting", choices=("none", "log_followers"))
    for name, kind in DETECTOR_FLAGS.items():
        parser.add_argument(
            f"--{name.replace('_', '-')}",
            type=kind,
            dest=name,
            help=f"detector {name} (see docs/alerts.md)",
        )
    parser.add_argument(
        "--no-market-alerts",
        action="store_true",
        help="do not emit MARKET alerts for market-wide moves",
    )
    parser.add_argument(
        "--sink",
        choices=("file", "stdout", "webhook"),
        help="deliver new alerts to (besides alerts.jsonl); default file",
    )
    parser.add_argument("--webhook-url")
    parser.add_argument("--webhook-timeout", type=float, help="seconds per request (default 5)")
    parser.add_argument("--webhook-attempts", type=int, help="attempts per alert (default 4)")
    parser.add_argument("--top-texts", type=int, help="texts attached to each alert (default 5)")
    parser.add_argument("--batch-size", type=int, help="texts per scoring batch (default 512)")
    parser.set_defaults(handler=run_command)


def build_settings(args: argparse.Namespace):
    """`MonitorSettings` from defaults < `--config` file < flags."""
    from seqlens.alerts.aggregation import AggregationConfig
    from seqlens.alerts.detector import DetectorConfig
    from seqlens.alerts.monitor import MonitorSettings

    config: dict = {}
    if args.config:
        path = Path(args.config)
        if not path.exists():
            raise FileNotFoundError(
                f"Expected an existing config file. Received: config={args.config!r}"
            )
        try:
            config = json.loads(path.read_text())
        except json.JSONDecodeError as error:
            raise ValueError(
                f"Expected a JSON config file. Received: config={args.config!r} ({error.msg})"
            ) from error
        if not isinstance(config, dict):
            raise ValueError(
                f"Expected a JSON object in the config file. Received: config={args.config!r}"
            )
    aggregation = dict(config.pop("aggregation", {}))
    detector = dict(config.pop("detector", {}))
    for flag, name in (
        ("window", "window"),
        ("duplicates", "duplicate_policy"),
        ("retweets", "retweet_policy"),
        ("weighting", "weighting"),
    ):
        if getattr(args, flag) is not None:
            aggregation[name] = getattr(args, flag)
    if isinstance(aggregation.get("window"), str) and aggregation["window"].isdigit():
        aggregation["window"] = int(aggregation["window"])
    for name in DETECTOR_FLAGS:
        if getattr(args, name) is not None:
            detector[name] = getattr(args, name)
    if args.no_market_alerts:
        detector["market_alerts"] = False
    for flag, name in (
        ("sink", "sink"),
        ("webhook_url", "webhook_url"),
        ("webhook_timeout", "webhook_timeout_seconds"),
        ("webhook_attempts", "webhook_max_attempts"),
        ("top_texts", "top_texts"),
        ("batch_size", "batch_size"),
        ("scored", "scored_path"),
    ):
        if getattr(args, flag) is not None:
            config[name] = getattr(args, flag)
    known = {f.name for f in dataclasses.fields(MonitorSettings)}
    for group, values in (
        ("aggregation", aggregation),
        ("detector", detector),
        ("settings", config),
    ):
        fields = (
            known
            if group == "settings"
            else {
                f.name
                for f in dataclasses.fields(
                    AggregationConfig if group == "aggregation" else DetectorConfig
                )
            }
        )
        unknown = sorted(set(values) - fields)
        if unknown:
            raise ValueError(f"Expected known {group} settings. Received: unknown={unknown}")
    return MonitorSettings(
        aggregation=AggregationConfig(**aggregation), detector=DetectorConfig(**detector), **config
    )


def run_command(args: argparse.Namespace) -> int:
    """Handler of `seqlens alerts`."""
    from seqlens.alerts.monitor import run_alerts
    from seqlens.errors import UsageError
    from seqlens.layout import ArtifactLayout, default_artifacts_root

    if not args.scored and not (args.news and args.model):
        raise UsageError(
            "Expected --news and --model (or --scored). Received: "
            f"news={args.news!r}, model={args.model!r}"
        )
    settings = build_settings(args)
    output = (
        Path(args.output) if args.output else ArtifactLayout(default_artifacts_root()).alerts_dir
    )
    summary = run_alerts(args.news, args.model, output, settings)
    print(
        json.dumps(
            {
                key: summary[key]
                for key in (
                    "rows_scored",
                    "rows_dead",
                    "windows",
                    "alerts_detected",
                    "alerts_new",
                    "alerts_by_kind",
                    "market_alerts",
                    "delivery",
                    "alerts_file",
                )
            }
        )
    )
    return 0
