"""`seqlens pipeline events|news|chats`: run a Beam pipeline from the command line.

Flags this parser does not know (e.g. `--direct_num_workers=2`, `--project=...`) are passed to
Beam as pipeline options; they may also follow a `--`. Beam and pyarrow are imported inside the
handlers only, so `seqlens --help` stays fast.
"""

from __future__ import annotations

import argparse
import sys

from seqlens.jobs.pipelines import (
    EVENT_FORMATS,
    ITEM_FEATURE_FORMATS,
    TEXT_FORMATS,
    check_item_features_input,
    check_pipeline_input,
    pipeline_summary,
)


def _add_common(parser: argparse.ArgumentParser, formats: tuple[str, ...]) -> None:
    parser.add_argument("--input", required=True, help="input file, folder or glob (gzip ok)")
    parser.add_argument("--format", default="csv", help=f"input format: {', '.join(formats)}")
    parser.add_argument("--output", required=True, help="run folder to (re)write")
    parser.add_argument("--delimiter", default=",", help="CSV field delimiter (one character)")
    parser.add_argument("--timestamp-column", default="timestamp")
    parser.add_argument(
        "--min-timestamp",
        type=int,
        default=None,
        help="earliest plausible Unix time (default 1990-01-01)",
    )
    parser.add_argument(
        "--max-timestamp",
        type=int,
        default=None,
        help="latest plausible Unix time (default now + 1 day)",
    )
    parser.add_argument(
        "--runner",
        default="FnApiRunner",
        help="Beam runner: FnApiRunner (default), DirectRunner, DataflowRunner, "
        "FlinkRunner, SparkRunner, PortableRunner ...",
    )
    parser.add_argument(
        "--num-buckets",
        type=int,
        default=None,
        help="key buckets for grouping (memory per worker ~ data / buckets); default: events "
        "one per 64 MiB of input (at least 8), news/chats 8",
    )
    parser.add_argument(
        "--pipeline-arg",
        action="append",
        default=[],
        metavar="FLAG",
        help="a Beam pipeline option, e.g. --pipeline-arg=--project=P (repeatable); "
        "unknown --flags also pass through",
    )
    parser.set_defaults(accepts_extra_args=True)


def register(commands) -> None:
    """Add `pipeline events`, `pipeline news` and `pipeline chats`."""
    group = commands.group("pipeline")
    events = group.add_parser(
        "events",
        help="event log -> per-user sequences, item vocabulary, stats, dead letters",
        description="Event log -> ordered, deduplicated per-user sequences (Parquet).",
    )
    _add_common(events, EVENT_FORMATS)
    events.add_argument("--user-column", default="user_id")
    events.add_argument("--item-column", default="item_id")
    events.add_argument("--event-type-column", default="event_type")
    events.add_argument("--value-column", default="value")
    events.add_argument("--min-user-count", type=int, default=0, help="iterative filter; 0 = off")
    events.add_argument("--min-item-count", type=int, default=0, help="iterative filter; 0 = off")
    events.add_argument("--filter-rounds", type=int, default=10, help="filtering rounds (unrolled)")
    events.add_argument(
        "--max-length", type=int, default=0, help="keep each user's most recent N events; 0 = all"
    )
    events.add_argument(
        "--shuffle",
        default="files",
        help="how events reach their user bucket: files (default: spilled under the output "
        "folder, memory ~ one bucket) or runner (the runner's GroupByKey, e.g. Dataflow Shuffle)",
    )
    events.add_argument("--split", default="leave-one-out", help="leave-one-out or time")
    events.add_argument("--valid-cutoff", default=None, help="time split: Unix s or ISO 8601")
    events.add_argument("--test-cutoff", default=None, help="time split: Unix s or ISO 8601")
    events.add_argument(
        "--item-features",
        default=None,
        metavar="FILE",
        help="categorical item attributes -> vocab/item_features.parquet: S3-Rec "
        "*_item2attributes.json, MovieLens movies.csv or a CSV item_id,category[,...]",
    )
    events.add_argument(
        "--item-features-format",
        default="auto",
        choices=ITEM_FEATURE_FORMATS,
        help="format of --item-features (auto: from the file name and header)",
    )
    events.set_defaults(handler=_run_events)
    for kind, description in (
        (
            "news",
            "news/tweets log (id, timestamp, ticker, text) -> tokenised texts, token vocabulary",
        ),
        ("chats", "chat log (conversation_id, timestamp, text, intent) -> tokenised texts"),
    ):
        parser = group.add_parser(kind, help=description, description=description)
        _add_common(parser, TEXT_FORMATS)
        parser.add_argument("--text-column", default="text")
        if kind == "news":
            parser.add_argument("--id-column", default="id")
            parser.add_argument("--ticker-column", default="ticker")
            parser.add_argument("--source-column", default="source")
            parser.add_argument("--author-column", default="author")
        else:
            parser.add_argument("--conversation-column", default="conversation_id")
            parser.add_argument("--intent-column", default="intent")
        parser.set_defaults(handler=_run_texts, text_kind=kind)


def _beam_args(args: argparse.Namespace) -> list[str]:
    from pipeline.runner import split_pipeline_args

    return split_pipeline_args(
        list(args.pipeline_arg) + list(getattr(args, "extra_args", []) or [])
    )


def _plausible(args: argparse.Namespace):
    from pipeline.timestamps import DEFAULT_MIN_TIMESTAMP, TimestampRange

    minimum = DEFAULT_MIN_TIMESTAMP if args.min_timestamp is None else args.min_timestamp
    return TimestampRange(min_timestamp=minimum, max_timestamp=args.max_timestamp)


def _cutoff(value: str | None, name: str) -> int | None:
    if value is None:
        return None
    import pyarrow as pa

    from pipeline.timestamps import STATUS_OK, TimestampRange, parse_timestamps

    seconds, status = parse_timestamps(pa.array([value]), TimestampRange(0, 2**62))
    if status[0] != STATUS_OK:
        raise ValueError(f"Expected {name} as Unix seconds or ISO 8601. Received: {name}={value!r}")
    return int(seconds[0])


def _check_input_format(args: argparse.Namespace, formats: tuple[str, ...]) -> None:
    """Fail fast (before Beam is imported) on an unknown format or a missing local input."""
    check_pipeline_input(args.input, args.format, formats)


def _run_events(args: argparse.Namespace) -> int:
    _check_input_format(args, EVENT_FORMATS)
    check_item_features_input(args.item_features)
    from pipeline.event_formats import EventColumns
    from pipeline.event_transforms import AUTO_BUCKETS, EventsConfig
    from pipeline.events import run_events_pipeline
    from pipeline.sequences import SplitConfig

    config = EventsConfig(
        min_user_count=args.min_user_count,
        min_item_count=args.min_item_count,
        max_length=args.max_length,
        split=SplitConfig(
            args.split,
            _cutoff(args.valid_cutoff, "valid_cutoff"),
            _cutoff(args.test_cutoff, "test_cutoff"),
        ),
        plausible=_plausible(args),
        num_buckets=AUTO_BUCKETS if args.num_buckets is None else args.num_buckets,
        filter_rounds=args.filter_rounds,
        shuffle=args.shuffle,
    )
    columns = EventColumns(
        args.user_column,
        args.item_column,
        args.timestamp_column,
        args.event_type_column or None,
        args.value_column or None,
    )
    stats = run_events_pipeline(
        args.input,
        args.output,
        args.format,
        columns,
        config,
        delimiter=args.delimiter,
        runner=args.runner,
        pipeline_args=_beam_args(args),
        item_features=args.item_features,
        item_features_format=args.item_features_format,
    )
    _print_summary(stats, args.output)
    return 0


def _run_texts(args: argparse.Namespace) -> int:
    _check_input_format(args, TEXT_FORMATS)
    from pipeline.texts import TextColumns, run_text_pipeline

    if args.text_kind == "news":
        columns = TextColumns.news(
            args.id_column,
            args.timestamp_column,
            args.ticker_column,
            args.text_column,
            args.source_column,
            args.author_column,
        )
    else:
        columns = TextColumns.chats(
            args.conversation_column, args.timestamp_column, args.text_column, args.intent_column
        )
    stats = run_text_pipeline(
        args.text_kind,
        args.input,
        args.output,
        args.format,
        columns,
        plausible=_plausible(args),
        delimiter=args.delimiter,
        **({} if args.num_buckets is None else {"num_buckets": args.num_buckets}),
        runner=args.runner,
        pipeline_args=_beam_args(args),
    )
    _print_summary(stats, args.output)
    return 0


def _print_summary(stats: dict, output: str) -> None:
    print(pipeline_summary(stats), file=sys.stdout)
    print(f"wrote {output}", file=sys.stderr)
