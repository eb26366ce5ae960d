"""The Beam aggregation with a real TestPipeline and `assert_that`."""

import json
import math

import apache_beam as beam
import pandas as pd
import pytest
from apache_beam.testing import test_pipeline
from apache_beam.testing.util import assert_that, equal_to

from seqlens.alerts.aggregation import (
    AggregateSentiment,
    AggregationConfig,
    aggregate_windows,
    normalise_for_duplicates,
    weigh_copies,
    window_seconds,
)

DAY = 86_400
START = 20_000 * DAY


def row(id, offset, ticker, text, score, label, retweet=False, followers=None):
    return {
        "id": id,
        "timestamp": START + offset,
        "ticker": ticker,
        "text": text,
        "score": score,
        "label": label,
        "retweet": retweet,
        "followers": followers,
    }


ROWS = [
    row("a", 10, "AAA", "Profit warning at Acme", -0.8, "negative"),
    row(
        "b", 20, "AAA", "profit  warning at ACME", -0.8, "negative"
    ),  # exact duplicate (normalised)
    row("c", 30, "AAA", "RT @desk: Acme wins big contract", 0.9, "positive", retweet=True),
    row("d", 40, "AAA", "Acme wins big contract", 0.9, "positive"),
    row("e", DAY + 5, "AAA", "Acme flat today", 0.0, "neutral"),
    row("f", 50, "BBB", "Bolt beats estimates", 0.6, "positive"),
    row("g", 60, "", "no ticker", 0.1, "neutral"),
    row("h", 70, "BBB", "score out of range", 3.0, "positive"),
]


def summarise(window):
    return (
        window["ticker"],
        window["window_start"] - START,
        window["count"],
        round(window["effective_count"], 3),
        round(window["mean_score"], 3),
        round(window["share_negative"], 3),
        round(window["share_positive"], 3),
    )


def test_windows_per_ticker_with_duplicates_and_retweets_removed():
    with test_pipeline.TestPipeline(runner="FnApiRunner") as pipeline:
        outputs = pipeline | beam.Create(ROWS) | AggregateSentiment(AggregationConfig(window="day"))
        assert_that(
            outputs["windows"] | "Summarise" >> beam.Map(summarise),
            equal_to(
                [
                    # a kept; b duplicate removed;
                    # c retweet (and duplicate of d after RT strip) removed
                    ("AAA", 0, 4, 2.0, 0.05, 0.5, 0.5),
                    ("AAA", DAY, 1, 1.0, 0.0, 0.0, 0.0),
                    ("BBB", 0, 1, 1.0, 0.6, 0.0, 1.0),
                ]
            ),
            label="CheckWindows",
        )
        assert_that(
            outputs["dead_letter"] | "Reasons" >> beam.Map(lambda d: (d["id"], d["reason"])),
            # the pipeline's reason for a missing ticker (was missing_ticker)
            equal_to([("g", "missing_field"), ("h", "bad_score")]),
            label="CheckDeadLetter",
        )


def test_streaming_path_gives_the_same_windows():
    with test_pipeline.TestPipeline(runner="FnApiRunner") as pipeline:
        outputs = (
            pipeline
            | beam.Create(ROWS)
            | AggregateSentiment(AggregationConfig(window="day"), streaming=True)
        )
        assert_that(
            outputs["windows"] | "Summarise" >> beam.Map(summarise),
            equal_to(
                [
                    ("AAA", 0, 4, 2.0, 0.05, 0.5, 0.5),
                    ("AAA", DAY, 1, 1.0, 0.0, 0.0, 0.0),
                    ("BBB", 0, 1, 1.0, 0.6, 0.0, 1.0),
                ]
            ),
        )


def test_downweighting_and_reach_weighting():
    rows = [
        row("a", 10, "AAA", "bad news", -1.0, "negative", followers=9),
        row("b", 20, "AAA", "bad news", -1.0, "negative", followers=9),
        row("c", 30, "AAA", "good news", 1.0, "positive", followers=999),
    ]
    config = AggregationConfig(
        window="hour",
        duplicate_policy="downweight",
        duplicate_weight=0.5,
        weighting="log_followers",
    )
    with test_pipeline.TestPipeline(runner="FnApiRunner") as pipeline:
        windows = pipeline | beam.Create(rows) | AggregateSentiment(config)
        # weights: a 1+log10(10)=2, b 2*0.5=1, c 1+log10(1000)=4 -> mean (-2-1+4)/7
        assert_that(
            windows["windows"] | beam.Map(summarise),
            equal_to([("AAA", 0, 3, 7.0, round(1 / 7, 3), round(3 / 7, 3), round(4 / 7, 3))]),
        )


def test_aggregate_windows_returns_sorted_frames():
    windows, dead = aggregate_windows(pd.DataFrame(ROWS), AggregationConfig(window="day"))
    assert list(windows["ticker"]) == ["AAA", "AAA", "BBB"]
    assert windows["window_end"].sub(windows["window_start"]).eq(DAY).all()
    assert sorted(dead["reason"]) == ["bad_score", "missing_field"]  # was missing_ticker
    assert list(dead.columns) == ["reason", "source", "line_number", "raw", "id"]
    assert dead.sort_values("id")["line_number"].tolist() == [7, 8]  # rows g and h
    assert (dead["source"] == "scored").all() and dead["id"].tolist() != []
    assert windows.attrs["beam_counters"] == {"rows_in": len(ROWS), "rows_dead": 2}
    assert len(windows) and not math.isnan(windows["mean_score"].iloc[0])


def test_weigh_copies_prefers_the_original_over_earlier_retweets():
    copies = [(True, 10, "rt", 1.0), (False, 20, "original", 2.0), (False, 30, "copy", 1.0)]
    removed = weigh_copies(copies, AggregationConfig())
    assert removed == [0.0, 2.0, 0.0]
    downweighted = weigh_copies(
        copies,
        AggregationConfig(
            duplicate_policy="downweight",
            duplicate_weight=0.5,
            retweet_policy="downweight",
            retweet_weight=0.2,
        ),
    )
    assert downweighted == pytest.approx([0.1, 2.0, 0.5])
    assert weigh_copies(
        copies, AggregationConfig(duplicate_policy="keep", retweet_policy="keep")
    ) == [1.0, 2.0, 1.0]


def test_normalise_for_duplicates():
    assert normalise_for_duplicates("RT @desk: Big  NEWS ") == "big news"
    assert normalise_for_duplicates("$FB warning http://t.co/Usgcd6") == normalise_for_duplicates(
        "$FB warning http://t.co/JSQJ9m"
    )


@pytest.mark.parametrize(
    "name, value",
    [
        ("window", "week"),
        ("duplicate_policy", "drop"),
        ("retweet_weight", 2.0),
        ("weighting", "followers"),
    ],
)
def test_bad_settings_name_the_argument(name, value):
    with pytest.raises(ValueError, match=rf"Received: {name}="):
        AggregationConfig(**{name: value})


def test_window_seconds():
    assert (
        window_seconds("hour") == 3_600
        and window_seconds("day") == DAY
        and window_seconds(900) == 900
    )


def test_every_bad_scored_row_is_a_dead_letter_with_its_reason():
    rows = [
        {"id": "missing", "timestamp": None, "ticker": "A", "score": 0.1},
        {"id": "text", "timestamp": "later", "ticker": "A", "score": 0.1},
        {"id": "negative", "timestamp": -5, "ticker": "A", "score": 0.1},
        {"id": "score", "timestamp": START, "ticker": "A", "score": "high"},
        {"id": "ticker", "timestamp": START, "ticker": None, "score": 0.1},
        {"id": "good", "timestamp": START, "ticker": "A", "score": 0.1},
    ]
    with test_pipeline.TestPipeline(runner="FnApiRunner") as pipeline:
        lines = [json.dumps(row) for row in rows] + ["not json", "[1, 2]"]
        outputs = pipeline | beam.Create(lines) | AggregateSentiment(AggregationConfig())
        assert_that(
            outputs["dead_letter"] | beam.Map(lambda d: (d["id"], d["reason"], d["source"])),
            equal_to(
                [
                    ("missing", "missing_field", "scored"),
                    ("text", "unparsable_timestamp", "scored"),
                    ("negative", "absurd_timestamp", "scored"),
                    ("score", "bad_score", "scored"),
                    ("ticker", "missing_field", "scored"),
                    ("None", "missing_field", "scored"),
                    ("None", "malformed_record", "scored"),
                ]
            ),
        )
