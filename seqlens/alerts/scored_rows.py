"""Scored rows into the aggregation: `ParseScoredRowFn` (bad rows -> dead letters).

A scored row (`id, timestamp, ticker, text, score, label`, optional `retweet`, `followers`)
becomes a small record stamped with its event time (`TimestampedValue`); a row with no usable
timestamp, score or ticker goes to the tagged `dead_letter` output (the alerts' dead-letter
columns, `seqlens.alerts.dead_letters`) and the `rows_dead` counter.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

import apache_beam as beam
from apache_beam.metrics import Metrics
from apache_beam.transforms.window import TimestampedValue

from pipeline import dead_letter
from seqlens.alerts.aggregation_config import AggregationConfig
from seqlens.alerts.dead_letters import BAD_SCORE

DEAD_LETTER = "dead_letter"
COUNTER_NAMESPACE = "alerts"
SCORED_SOURCE = "scored"


def normalise_for_duplicates(text: str) -> str:
    """The exact-duplicate key: lower case, a leading `RT @user:` and links dropped, whitespace
    collapsed (the same headline posted with a different short link is the same text)."""
    text = re.sub(r"^rt @\w+:?\s*", "", text.strip().lower())
    text = re.sub(r"https?://\S*|…", " ", text)
    return re.sub(r"\s+", " ", text).strip()


def _number(value) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def dead_reason(row: dict[str, Any]) -> str | None:
    """Why a scored row cannot be aggregated (a `pipeline.dead_letter` reason or `BAD_SCORE`),
    or `None`: the timestamp is checked first, then the score, then the ticker."""
    timestamp, score = _number(row.get("timestamp")), _number(row.get("score"))
    if row.get("timestamp") is None:
        return dead_letter.MISSING_FIELD
    if timestamp is None:
        return dead_letter.UNPARSABLE_TIMESTAMP
    if not math.isfinite(timestamp) or timestamp < 0:
        return dead_letter.ABSURD_TIMESTAMP
    if score is None or not math.isfinite(score) or not -1.0 <= score <= 1.0:
        return BAD_SCORE
    if not str(row.get("ticker") or "").strip():
        return dead_letter.MISSING_FIELD
    return None


class ParseScoredRowFn(beam.DoFn):
    """A scored row dict -> a `TimestampedValue` of a small record; bad rows -> `dead_letter`.

    Args:
        config: the aggregation settings (reach weighting).
        source: the dead letters' `source`: where the scored rows come from. A row's
            `line_number` key, when present, is its dead letter's `line_number`.
    """

    def __init__(self, config: AggregationConfig, source: str = SCORED_SOURCE):
        self.config = config
        self.source = source
        self.rows_in = Metrics.counter(COUNTER_NAMESPACE, "rows_in")
        self.rows_dead = Metrics.counter(COUNTER_NAMESPACE, "rows_dead")

    def process(self, row: dict[str, Any] | str):
        self.rows_in.inc()
        reason = None
        if isinstance(row, str):  # one JSON Lines record from a file source
            try:
                row = json.loads(row)
            except json.JSONDecodeError:
                row = {"raw": row}
            if not isinstance(row, dict):
                row = {"raw": row}
                reason = dead_letter.MALFORMED_RECORD
        line_number = row.get("line_number")
        row = {key: value for key, value in row.items() if key != "line_number"}
        reason = reason or dead_reason(row)
        if reason is not None:
            self.rows_dead.inc()
            yield beam.pvalue.TaggedOutput(
                DEAD_LETTER,
                {
                    "reason": reason,
                    "source": self.source,
                    "line_number": line_number,
                    "raw": json.dumps(row, default=str),
                    "id": str(row.get("id")),
                },
            )
            return
        timestamp, score = float(row["timestamp"]), float(row["score"])
        ticker = str(row.get("ticker")).strip()
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
