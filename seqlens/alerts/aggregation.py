"""Per-ticker, per-window sentiment statistics as an Apache Beam transform.

The same composite serves a batch file (`beam.Create` / a Parquet read) and, later, a streaming
source: elements carry their event time (`TimestampedValue`), windows are event-time
`FixedWindows`, and nothing depends on arrival order.

Steps (each labelled):
`ParseScoredRows` (DoFn, bad rows -> tagged `dead_letter` output + counter; optional reach
weighting) -> `FixedWindows` -> `WindowStats` (`CombinePerKey` by ticker and window; exact
duplicate texts of one ticker inside one window and retweets are removed or down-weighted)
-> one dict per `(ticker, window)`:
`ticker, window_start, window_end, count, effective_count, duplicates, retweets, mean_score,
score_std, share_negative, share_positive`.
"""

from __future__ import annotations

import json
import math
import re
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import apache_beam as beam
import pandas as pd
from apache_beam.metrics import Metrics
from apache_beam.transforms.window import FixedWindows, GlobalWindows, TimestampedValue

WINDOW_SECONDS = {"hour": 3_600, "day": 86_400}
POLICIES = ("remove", "downweight", "keep")
WEIGHTINGS = ("none", "log_followers")
NEGATIVE_LABELS = {"negative", "bearish", "neg"}
POSITIVE_LABELS = {"positive", "bullish", "pos"}
DEAD_LETTER = "dead_letter"
WINDOW_COLUMNS = [
    "ticker",
    "window_start",
    "window_end",
    "count",
    "effective_count",
    "duplicates",
    "retweets",
    "mean_score",
    "score_std",
    "share_negative",
    "share_positive",
]


def window_seconds(window: str | int) -> int:
    """`hour` -> 3600, `day` -> 86400, a positive integer (seconds) -> itself."""
    if isinstance(window, str) and window in WINDOW_SECONDS:
        return WINDOW_SECONDS[window]
    if isinstance(window, int) and not isinstance(window, bool) and window > 0:
        return window
    if isinstance(window, str) and window.isdigit() and int(window) > 0:
        return int(window)
    raise ValueError(
        f"Expected window to be 'hour', 'day' or a positive number of seconds. "
        f"Received: window={window!r}"
    )


@dataclass(frozen=True)
class AggregationConfig:
    """How texts are counted in a window.

    Args:
        window: `hour`, `day` or seconds; fixed event-time windows aligned to the Unix epoch (UTC).
        duplicate_policy: exact duplicate texts (same ticker, same normalised text, same window)
            after the first: `remove` (weight 0), `downweight` (`duplicate_weight`) or `keep`.
        duplicate_weight: weight of a duplicate under `downweight`, in `[0, 1]`.
        retweet_policy: retweets (`retweet` true or text starting `RT @`): same three choices.
        retweet_weight: weight of a retweet under `downweight`, in `[0, 1]`.
        weighting: `none`, or `log_followers`: weight `1 + log10(1 + followers)` (reach).
    """

    window: str | int = "day"
    duplicate_policy: str = "remove"
    duplicate_weight: float = 0.2
    retweet_policy: str = "remove"
    retweet_weight: float = 0.2
    weighting: str = "none"

    def __post_init__(self) -> None:
        window_seconds(self.window)
        for name in ("duplicate_policy", "retweet_policy"):
            if getattr(self, name) not in POLICIES:
                raise ValueError(
                    f"Expected {name} in {POLICIES}. Received: {name}={getattr(self, name)!r}"
                )
        for name in ("duplicate_weight", "retweet_weight"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"Expected {name} in [0, 1]. Received: {name}={value!r}")
        if self.weighting not in WEIGHTINGS:
            raise ValueError(
                f"Expected weighting in {WEIGHTINGS}. Received: weighting={self.weighting!r}"
            )

    def policy_weight(self, policy: str, weight: float) -> float:
        return {"remove": 0.0, "downweight": weight, "keep": 1.0}[policy]


def normalise_for_duplicates(text: str) -> str:
    """The exact-duplicate key: lower case, a leading `RT @user:` and links dropped, whitespace
    collapsed (the same headline posted with a different short link is the same text)."""
    text = re.sub(r"^rt @\w+:?\s*", "", text.strip().lower())
    text = re.sub(r"https?://\S*|…", " ", text)
    return re.sub(r"\s+", " ", text).strip()


class ParseScoredRowFn(beam.DoFn):
    """A scored row dict -> a `TimestampedValue` of a small record; bad rows -> `dead_letter`."""

    def __init__(self, config: AggregationConfig):
        self.config = config
        self.rows_in = Metrics.counter("alerts", "rows_in")
        self.rows_dead = Metrics.counter("alerts", "rows_dead")

    def process(self, row: dict[str, Any] | str):
        self.rows_in.inc()
        if isinstance(row, str):  # one JSON Lines record from a file source
            try:
                row = json.loads(row)
            except json.JSONDecodeError:
                row = {"raw": row}
            if not isinstance(row, dict):
                row = {"raw": row}
        reason = None
        try:
            timestamp = float(row.get("timestamp"))
            score = float(row.get("score"))
        except (TypeError, ValueError):
            reason = "bad_number"
        ticker = str(row.get("ticker") or "").strip()
        if reason is None and (not math.isfinite(timestamp) or timestamp < 0):
            reason = "bad_timestamp"
        elif reason is None and (not math.isfinite(score) or not -1.0 <= score <= 1.0):
            reason = "bad_score"
        elif reason is None and not ticker:
            reason = "missing_ticker"
        if reason is not None:
            self.rows_dead.inc()
            yield beam.pvalue.TaggedOutput(
                DEAD_LETTER,
                {"reason": reason, "id": str(row.get("id")), "raw": json.dumps(row, default=str)},
            )
            return
        text = str(row.get("text") or "")
        retweet = row.get("retweet")
        retweet = (
            bool(retweet) if retweet is not None and retweet == retweet else text.startswith("RT @")
        )
        weight = 1.0
        followers = row.get("followers")
        if (
            self.config.weighting == "log_followers"
            and followers is not None
            and followers == followers
        ):
            weight = 1.0 + math.log10(1.0 + max(0.0, float(followers)))
        record = {
            "id": str(row.get("id")),
            "ticker": ticker,
            "key": normalise_for_duplicates(text),
            "timestamp": timestamp,
            "score": score,
            "label": str(row.get("label") or "").lower(),
            "retweet": retweet,
            "weight": weight,
        }
        yield TimestampedValue(record, timestamp)


def weigh_copies(copies: list[tuple], config: AggregationConfig) -> list[float]:
    """Weights of the copies of one text (one ticker, one window).

    Args:
        copies: `(retweet, timestamp, id, reach_weight)` per copy.
        config: duplicate and retweet policies.

    Returns:
        One weight per copy, in the order given. The original counts, not a retweet of it:
        copies are ranked originals first, then by time and id; every copy after the first is
        a duplicate (`duplicate_policy`), and every retweet also gets `retweet_policy`.
    """
    duplicate_factor = config.policy_weight(config.duplicate_policy, config.duplicate_weight)
    retweet_factor = config.policy_weight(config.retweet_policy, config.retweet_weight)
    order = sorted(range(len(copies)), key=lambda index: copies[index][:3])
    weights = [0.0] * len(copies)
    for rank, index in enumerate(order):
        retweet, _, _, weight = copies[index]
        weights[index] = (
            weight * (duplicate_factor if rank > 0 else 1.0) * (retweet_factor if retweet else 1.0)
        )
    return weights


class KeyByTickerWindowFn(beam.DoFn):
    """A windowed record -> `((ticker, window_start, window_end), record)` (Unix seconds)."""

    def process(self, record, window=beam.DoFn.WindowParam):
        start = int(window.start.micros // 1_000_000)
        end = int(window.end.micros // 1_000_000)
        yield (record["ticker"], start, end), record


class WindowStatsFn(beam.CombineFn):
    """Records of one ticker-window -> weighted count, mean, spread and label shares.

    The accumulator groups records by their duplicate key (`normalise_for_duplicates`), so exact
    duplicates and retweets are weighed in `extract_output` with `weigh_copies`.
    """

    def __init__(self, config: AggregationConfig):
        self.config = config

    def create_accumulator(self):
        return {}

    def add_input(self, accumulator, record):
        label = record["label"]
        score = record["score"]
        negative = label in NEGATIVE_LABELS if label else score <= -1 / 3
        positive = label in POSITIVE_LABELS if label else score >= 1 / 3
        accumulator.setdefault(record["key"], []).append(
            (
                record["retweet"],
                record["timestamp"],
                record["id"],
                record["weight"],
                score,
                negative,
                positive,
            )
        )
        return accumulator

    def merge_accumulators(self, accumulators):
        merged = {}
        for accumulator in accumulators:
            for key, copies in accumulator.items():
                merged.setdefault(key, []).extend(copies)
        return merged

    def extract_output(self, accumulator):
        count = duplicates = retweets = 0
        weight = total = squares = negative = positive = 0.0
        for copies in accumulator.values():
            weights = weigh_copies([copy[:4] for copy in copies], self.config)
            count += len(copies)
            duplicates += len(copies) - 1
            for copy, copy_weight in zip(copies, weights, strict=True):
                retweets += int(copy[0])
                score = copy[4]
                weight += copy_weight
                total += copy_weight * score
                squares += copy_weight * score * score
                negative += copy_weight * copy[5]
                positive += copy_weight * copy[6]
        if weight <= 0:
            mean = spread = share_negative = share_positive = float("nan")
        else:
            mean = total / weight
            spread = math.sqrt(max(0.0, squares / weight - mean * mean))
            share_negative, share_positive = negative / weight, positive / weight
        return {
            "count": count,
            "effective_count": weight,
            "duplicates": duplicates,
            "retweets": retweets,
            "mean_score": mean,
            "score_std": spread,
            "share_negative": share_negative,
            "share_positive": share_positive,
        }


def format_window(element) -> dict[str, Any]:
    """`((ticker, start, end), stats)` -> one flat dict."""
    (ticker, start, end), stats = element
    return {"ticker": ticker, "window_start": start, "window_end": end, **stats}


class AddWindowBoundsFn(beam.DoFn):
    """`(ticker, stats)` in a window -> one flat dict with `window_start` / `window_end`."""

    def process(self, element, window=beam.DoFn.WindowParam):
        ticker, stats = element
        yield {
            "ticker": ticker,
            "window_start": int(window.start.micros // 1_000_000),
            "window_end": int(window.end.micros // 1_000_000),
            **stats,
        }


class WindowStats(beam.PTransform):
    """Windowed records -> one statistics dict per (ticker, window).

    Batch (default): the window bounds become part of the key and the records move to the
    global window before the combine — the same result as combining per window, without the
    per-window trigger machinery that makes a batch run on the local runner many times slower.
    `streaming=True` combines per ticker inside the fixed windows (results fire with the
    watermark), for an unbounded source.
    """

    def __init__(self, config: AggregationConfig, streaming: bool = False):
        super().__init__()
        self.config = config
        self.streaming = streaming

    def expand(self, records):
        if self.streaming:
            return (
                records
                | "KeyByTicker" >> beam.Map(lambda record: (record["ticker"], record))
                | "Combine" >> beam.CombinePerKey(WindowStatsFn(self.config))
                | "AddWindowBounds" >> beam.ParDo(AddWindowBoundsFn())
            )
        return (
            records
            | "KeyByTickerWindow" >> beam.ParDo(KeyByTickerWindowFn())
            | "GlobalWindow" >> beam.WindowInto(GlobalWindows())
            | "Combine" >> beam.CombinePerKey(WindowStatsFn(self.config))
            | "Format" >> beam.Map(format_window)
        )


class AggregateSentiment(beam.PTransform):
    """Scored rows -> `{"windows": per-ticker window stats, "dead_letter": bad rows}`.

    Args:
        config: aggregation settings.
        streaming: combine inside the event-time windows (for an unbounded source) instead of
            the faster batch path; both give the same statistics.
    """

    def __init__(self, config: AggregationConfig, streaming: bool = False):
        super().__init__()
        self.config = config
        self.streaming = streaming

    def expand(self, rows):
        parsed = rows | "ParseScoredRows" >> beam.ParDo(ParseScoredRowFn(self.config)).with_outputs(
            DEAD_LETTER, main="records"
        )
        windows = (
            parsed.records
            | "FixedWindows" >> beam.WindowInto(FixedWindows(window_seconds(self.config.window)))
            | "WindowStats" >> WindowStats(self.config, self.streaming)
        )
        return {"windows": windows, "dead_letter": parsed[DEAD_LETTER]}


def _records(scored: pd.DataFrame) -> list[dict[str, Any]]:
    columns = [
        c
        for c in ("id", "timestamp", "ticker", "text", "score", "label", "retweet", "followers")
        if c in scored.columns
    ]
    table = scored[columns].astype(object).where(scored[columns].notna(), None)
    return table.to_dict("records")


def aggregate_windows(
    scored: pd.DataFrame, config: AggregationConfig, runner: str = "FnApiRunner"
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Run `AggregateSentiment` on a scored table with an explicit local runner.

    Args:
        scored: one row per text: `id, timestamp, ticker, text, score, label` (+ `retweet`,
            `followers` when known).
        config: the aggregation settings.
        runner: Beam runner name; `FnApiRunner` (in-process) by default.

    Returns:
        `(windows, dead_letter)`: `windows` has `WINDOW_COLUMNS`, sorted by ticker and window;
        `dead_letter` has `reason, id, raw`. The Beam `Metrics` counters of the run
        (`rows_in`, `rows_dead`) are in `windows.attrs["beam_counters"]`.
    """
    from apache_beam.options.pipeline_options import PipelineOptions

    with tempfile.TemporaryDirectory(prefix="seqlens-alerts-") as folder:
        # a JSON Lines file source: much faster than `beam.Create` on a large in-memory list
        rows_path = Path(folder) / "scored.jsonl"
        with rows_path.open("w", encoding="utf-8") as handle:
            for record in _records(scored):
                handle.write(json.dumps(record, default=str) + "\n")
        windows_path = str(Path(folder) / "windows.jsonl")
        dead_path = str(Path(folder) / "dead.jsonl")
        options = PipelineOptions(flags=[], runner=runner)  # never parse the caller's argv
        pipeline = beam.Pipeline(options=options)
        outputs = (
            pipeline
            | "ReadScoredRows" >> beam.io.ReadFromText(str(rows_path))
            | "AggregateSentiment" >> AggregateSentiment(config)
        )
        for name, path in (("windows", windows_path), ("dead_letter", dead_path)):
            _ = (
                outputs[name]
                | f"Serialize{name.title()}" >> beam.Map(json.dumps)
                | f"Write{name.title()}"
                >> beam.io.WriteToText(path, num_shards=1, shard_name_template="")
            )
        result = pipeline.run()
        result.wait_until_finish()
        counters = {
            counter.key.metric.name: int(counter.committed)
            for counter in result.metrics().query()["counters"]
            if counter.key.metric.namespace == "alerts"
        }
        windows = _read_jsonl(windows_path, WINDOW_COLUMNS)
        dead = _read_jsonl(dead_path, ["reason", "id", "raw"])
    windows = windows.sort_values(["ticker", "window_start"]).reset_index(drop=True)
    windows.attrs["beam_counters"] = counters
    return windows, dead


def _read_jsonl(path: str, columns: list[str]) -> pd.DataFrame:
    lines = Path(path).read_text(encoding="utf-8").splitlines() if Path(path).exists() else []
    table = pd.DataFrame([json.loads(line) for line in lines if line.strip()])
    if table.empty:
        return pd.DataFrame({name: [] for name in columns})
    return table[columns]


def config_dict(config: AggregationConfig) -> dict[str, Any]:
    """The settings as a JSON-ready dict (for `run.json`)."""
    return asdict(config)
