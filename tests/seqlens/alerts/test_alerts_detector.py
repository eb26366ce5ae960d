"""The detector on small synthetic window series (no model, no Beam)."""

import numpy as np
import pandas as pd
import pytest

from seqlens.alerts.detector import MARKET_TICKER, DetectorConfig, EpisodeTracker, detect

DAY = 86_400
START = 1_700_006_400 // DAY * DAY


def make_windows(num_tickers=6, num_windows=40, count=30.0, seed=0, changes=()):
    """Quiet windows for `num_tickers` tickers; `changes` = (ticker or '*', first, last, dict)."""
    rng = np.random.default_rng(seed)
    rows = []
    for ticker_index in range(num_tickers):
        ticker = f"T{ticker_index}"
        for window in range(num_windows):
            row = {
                "ticker": ticker,
                "window_start": START + window * DAY,
                "window_end": START + (window + 1) * DAY,
                "count": count,
                "effective_count": count,
                "share_negative": 0.2 + rng.normal(0, 0.03),
                "share_positive": 0.25 + rng.normal(0, 0.03),
            }
            for target, first, last, values in changes:
                if target in (ticker, "*") and first <= window <= last:
                    row.update(values)
            row["mean_score"] = 0.7 * (row["share_positive"] - row["share_negative"])
            rows.append(row)
    return pd.DataFrame(rows)


def sentiment_alerts(alerts, ticker=None):
    return [a for a in alerts if a.kind == "sentiment" and (ticker is None or a.ticker == ticker)]


def test_quiet_series_gives_no_alert():
    alerts, _ = detect(make_windows(), DAY, DetectorConfig())
    assert alerts == []


def test_one_negative_episode_gives_exactly_one_alert_in_its_first_window():
    windows = make_windows(changes=[("T1", 25, 27, {"share_negative": 0.65})])
    alerts, grid = detect(windows, DAY, DetectorConfig())
    assert len(alerts) == 1
    alert = alerts[0]
    assert (alert.ticker, alert.kind, alert.direction) == ("T1", "sentiment", "negative")
    assert alert.window_start == START + 25 * DAY
    assert alert.severity in ("warning", "critical")
    assert alert.statistics["z"] >= DetectorConfig().z_negative
    assert grid.loc[
        (grid.ticker == "T1") & (grid.window_start == alert.window_start), "fired"
    ].item()


def test_positive_episode_is_reported_with_lower_severity_than_negative():
    windows = make_windows(
        changes=[("T2", 25, 25, {"share_positive": 0.75}), ("T3", 25, 25, {"share_negative": 0.7})]
    )
    alerts, _ = detect(windows, DAY, DetectorConfig())
    by_ticker = {a.ticker: a for a in sentiment_alerts(alerts)}
    assert by_ticker["T2"].direction == "positive"
    assert by_ticker["T3"].direction == "negative"
    levels = ("info", "warning", "critical")
    assert levels.index(by_ticker["T2"].severity) < levels.index(by_ticker["T3"].severity)


def test_cooldown_merges_close_episodes_and_zero_cooldown_separates_them():
    changes = [("T0", 25, 26, {"share_negative": 0.65}), ("T0", 28, 29, {"share_negative": 0.65})]
    windows = make_windows(changes=changes)
    merged, _ = detect(windows, DAY, DetectorConfig(cooldown_windows=3))
    separate, _ = detect(windows, DAY, DetectorConfig(cooldown_windows=0))
    assert len(sentiment_alerts(merged)) == 1
    assert [a.window_start for a in sentiment_alerts(separate)] == [
        START + 25 * DAY,
        START + 28 * DAY,
    ]


def test_for_windows_waits_for_consecutive_pending_windows():
    windows = make_windows(
        changes=[("T0", 25, 27, {"share_negative": 0.65}), ("T1", 30, 30, {"share_negative": 0.65})]
    )
    alerts, _ = detect(windows, DAY, DetectorConfig(for_windows=2))
    assert [(a.ticker, a.window_start) for a in sentiment_alerts(alerts)] == [
        ("T0", START + 26 * DAY)
    ]


def test_minimum_support_blocks_alerts_from_few_texts():
    windows = make_windows(
        changes=[("T0", 25, 25, {"share_negative": 1.0, "count": 3.0, "effective_count": 3.0})]
    )
    alerts, _ = detect(windows, DAY, DetectorConfig(min_support=5))
    assert sentiment_alerts(alerts) == []
    alerts, _ = detect(windows, DAY, DetectorConfig(min_support=2))
    assert len(sentiment_alerts(alerts, "T0")) == 1


def test_market_wide_move_pages_once_not_per_ticker():
    windows = make_windows(changes=[("*", 25, 26, {"share_negative": 0.6})])
    alerts, grid = detect(windows, DAY, DetectorConfig())
    assert [a.ticker for a in sentiment_alerts(alerts)] == [MARKET_TICKER]
    assert alerts[0].direction == "negative" and alerts[0].window_start == START + 25 * DAY
    # the same move on one ticker alone would have fired: the suppression is the market check
    assert grid.loc[grid.window_start == START + 25 * DAY, "negative_z_raw"].min() > 3.5
    no_market, _ = detect(windows, DAY, DetectorConfig(market_alerts=False))
    assert no_market == []


def test_ticker_moving_beyond_the_market_still_fires():
    windows = make_windows(
        changes=[("*", 25, 25, {"share_negative": 0.45}), ("T4", 25, 25, {"share_negative": 0.9})]
    )
    alerts, _ = detect(windows, DAY, DetectorConfig())
    assert [a.ticker for a in sentiment_alerts(alerts) if a.ticker != MARKET_TICKER] == ["T4"]


def test_neutral_volume_burst_raises_buzz_but_never_sentiment():
    windows = make_windows(
        changes=[
            (
                "T5",
                25,
                25,
                {
                    "count": 200.0,
                    "effective_count": 200.0,
                    "share_negative": 0.2,
                    "share_positive": 0.25,
                },
            )
        ]
    )
    alerts, _ = detect(windows, DAY, DetectorConfig())
    assert sentiment_alerts(alerts) == []
    assert [(a.ticker, a.kind, a.direction) for a in alerts] == [("T5", "buzz", "up")]


def test_slow_drift_gives_no_alert():
    rows = make_windows(num_windows=60)
    drift = (rows["window_start"] - START) / DAY / 60 * 0.4
    rows.loc[rows.ticker == "T0", "share_negative"] += drift[rows.ticker == "T0"]
    alerts, _ = detect(rows, DAY, DetectorConfig())
    assert sentiment_alerts(alerts) == []


def test_dedup_keys_are_stable_when_the_period_grows():
    changes = [("T1", 25, 26, {"share_negative": 0.65})]
    short, _ = detect(make_windows(num_windows=30, changes=changes), DAY, DetectorConfig())
    longer, _ = detect(make_windows(num_windows=40, changes=changes), DAY, DetectorConfig())
    assert [a.dedup_key for a in short] == [a.dedup_key for a in longer][: len(short)]


def test_episode_tracker_ignores_unsupported_windows():
    tracker = EpisodeTracker(DetectorConfig(for_windows=2, cooldown_windows=0))
    assert not tracker.step(0, True, True, True)
    assert not tracker.step(1, False, False, False)  # no support: neither advances nor resets
    assert tracker.step(2, True, True, True)


@pytest.mark.parametrize(
    "name, value",
    [
        ("z_negative", 0),
        ("baseline_windows", 0),
        ("cooldown_windows", -1),
        ("resolve_fraction", 1.5),
        ("min_shift", 3.0),
        ("market_z", -1.0),
    ],
)
def test_bad_settings_name_the_argument(name, value):
    with pytest.raises(ValueError, match=rf"{name}.*Received: {name}="):
        DetectorConfig(**{name: value})


def test_empty_windows_are_rejected():
    with pytest.raises(ValueError, match="Received: windows with 0 rows"):
        detect(make_windows().iloc[:0], DAY, DetectorConfig())
