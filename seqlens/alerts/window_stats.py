"""Per ticker-window statistics: `WindowStatsFn` (a `CombineFn`) and the `WindowStats` transform.

Inside one ticker-window, exact duplicate texts and retweets are removed or down-weighted
(`weigh_copies`); the statistics are weighted counts, mean, spread and label shares.
"""

from __future__ import annotations

import math
from typing import Any

import apache_beam as beam
from apache_beam.transforms.window import GlobalWindows

from seqlens.alerts.aggregation_config import AggregationConfig

NEGATIVE_LABELS = {"negative", "bearish", "neg"}
POSITIVE_LABELS = {"positive", "bullish", "pos"}


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
