"""Per-ticker, per-window sentiment statistics as an Apache Beam transform.

The same composite serves a batch file (`beam.Create` / a Parquet read) and, later, a streaming
source: elements carry their event time (`TimestampedValue`), windows are event-time
`FixedWindows`, and nothing depends on arrival order.

Steps (each labelled):
`ParseScoredRows` (`seqlens.alerts.scored_rows`: bad rows -> tagged `dead_letter` output +
counter; optional reach weighting) -> `FixedWindows` -> `WindowStats`
(`seqlens.alerts.window_stats`: `CombinePerKey` by ticker and window; exact duplicate texts of
one ticker inside one window and retweets are removed or down-weighted) -> one dict per
`(ticker, window)`:
`ticker, window_start, window_end, count, effective_count, duplicates, retweets, mean_score,
score_std, share_negative, share_positive`.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

import apache_beam as beam
import pandas as pd
from apache_beam.transforms.window import FixedWindows

from pipeline.runner import DEFAULT_RUNNER, make_runner, pipeline_options, run_pipeline
from seqlens.alerts.aggregation_config import AggregationConfig, config_dict, window_seconds
from seqlens.alerts.dead_letters import DEAD_LETTER_COLUMNS, dead_letters_from_records
from seqlens.alerts.scored_rows import (
    COUNTER_NAMESPACE,
    DEAD_LETTER,
    ParseScoredRowFn,
    normalise_for_duplicates,
)
from seqlens.alerts.window_stats import WindowStats, weigh_copies

# The aggregation's public names, importable from here whichever module defines them.
__all__ = [
    "WINDOW_COLUMNS",
    "AggregateSentiment",
    "AggregationConfig",
    "aggregate_windows",
    "config_dict",
    "normalise_for_duplicates",
    "weigh_copies",
    "window_seconds",
]

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
    """The aggregated columns of each row, NA as `None`, and its 1-based `line_number`."""
    columns = [
        c
        for c in ("id", "timestamp", "ticker", "text", "score", "label", "retweet", "followers")
        if c in scored.columns
    ]
    table = scored[columns].astype(object).where(scored[columns].notna(), None)
    records = table.to_dict("records")
    for line_number, record in enumerate(records, start=1):
        record["line_number"] = line_number
    return records


def aggregate_windows(
    scored: pd.DataFrame, config: AggregationConfig, runner: str = DEFAULT_RUNNER
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Run `AggregateSentiment` on a scored table with the pipeline's runner (`pipeline.runner`).

    Args:
        scored: one row per text: `id, timestamp, ticker, text, score, label` (+ `retweet`,
            `followers` when known).
        config: the aggregation settings.
        runner: Beam runner name; `FnApiRunner` (in-process) by default.

    Returns:
        `(windows, dead_letter)`: `windows` has `WINDOW_COLUMNS`, sorted by ticker and window;
        `dead_letter` has `DEAD_LETTER_COLUMNS` (`source` is `scored`, `line_number` the row's
        1-based position in `scored`). The Beam `Metrics` counters of the run (`rows_in`,
        `rows_dead`) are in `windows.attrs["beam_counters"]`.
    """
    with tempfile.TemporaryDirectory(prefix="seqlens-alerts-") as folder:
        # a JSON Lines file source: much faster than `beam.Create` on a large in-memory list
        rows_path = Path(folder) / "scored.jsonl"
        with rows_path.open("w", encoding="utf-8") as handle:
            for record in _records(scored):
                handle.write(json.dumps(record, default=str) + "\n")
        windows_path = str(Path(folder) / "windows.jsonl")
        dead_path = str(Path(folder) / "dead.jsonl")
        options = pipeline_options(runner)  # never parses the caller's argv
        pipeline = beam.Pipeline(runner=make_runner(runner, options), options=options)
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
        counters = run_pipeline(pipeline, namespace=COUNTER_NAMESPACE)
        windows = _read_jsonl(windows_path, WINDOW_COLUMNS)
        dead = dead_letters_from_records(
            _read_jsonl(dead_path, DEAD_LETTER_COLUMNS).to_dict("records")
        )
    windows = windows.sort_values(["ticker", "window_start"]).reset_index(drop=True)
    windows.attrs["beam_counters"] = counters
    return windows, dead


def _read_jsonl(path: str, columns: list[str]) -> pd.DataFrame:
    lines = Path(path).read_text(encoding="utf-8").splitlines() if Path(path).exists() else []
    table = pd.DataFrame([json.loads(line) for line in lines if line.strip()])
    if table.empty:
        return pd.DataFrame({name: [] for name in columns})
    return table[columns]
