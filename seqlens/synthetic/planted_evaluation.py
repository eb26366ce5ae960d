"""How well alerts found the planted sentiment episodes: recall, false alerts, delay.

The ground truth comes from `seqlens.synthetic.planted_spikes.generate_planted`; the benchmark
(`bench/alerts.py`) and the alert tests score the detector's alerts with `evaluate_alerts`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from seqlens.synthetic.planted_spikes import PlantedConfig


def evaluate_alerts(
    alerts: list, truth: pd.DataFrame, config: PlantedConfig, late_windows: int = 1
) -> dict:
    """Recall, false sentiment alerts and detection delay of `alerts` against the planted truth.

    A planted episode is detected by a sentiment alert of its ticker and direction whose window
    starts inside the episode or up to `late_windows` windows after it. Every other sentiment
    alert of a real ticker is false (`MARKET` alerts are counted separately). Delay is in windows
    from the episode's first window to the alert's window.

    Returns:
        A dict of figures: `episodes`, `detected`, `recall`, `median_delay_windows`,
        `false_sentiment_alerts`, `false_sentiment_per_ticker_per_30_windows`, `buzz_alerts`,
        `false_by_decoy` (false alerts that fell on a decoy, by decoy kind), `market_alerts`,
        `recall_by_strength` (recall per strength tercile).
    """
    episodes = truth[truth["kind"] == "episode"].reset_index(drop=True)
    sentiment = [a for a in alerts if a.kind == "sentiment" and a.ticker != "MARKET"]
    matched: set[int] = set()
    delays: list[float] = []
    used: set[int] = set()
    for index, episode in episodes.iterrows():
        last = episode["window_end"] + late_windows * config.window_seconds
        for position, alert in enumerate(sentiment):
            if (
                alert.ticker == episode["ticker"]
                and alert.direction == episode["direction"]
                and episode["window_start"] <= alert.window_start < last
            ):
                matched.add(index)
                used.add(position)
                delays.append(
                    (alert.window_start - episode["window_start"]) / config.window_seconds
                )
                break
    for position, alert in enumerate(sentiment):  # a second alert inside the same episode
        if position in used:
            continue
        for _, episode in episodes.iterrows():
            last = episode["window_end"] + late_windows * config.window_seconds
            if (
                alert.ticker == episode["ticker"]
                and alert.direction == episode["direction"]
                and episode["window_start"] <= alert.window_start < last
            ):
                used.add(position)  # repeated alert for an already detected episode: not false,
                break  # but counted in `repeat_alerts`
    false_alerts = [a for p, a in enumerate(sentiment) if p not in used]
    repeats = len(used) - len(matched)
    decoys = truth[truth["kind"] != "episode"]
    false_by_decoy: dict[str, int] = {}
    for alert in false_alerts:
        kind = "none"
        for _, decoy in decoys.iterrows():
            if (
                decoy["ticker"] in (alert.ticker, "*")
                and decoy["window_start"]
                <= alert.window_start
                < decoy["window_end"] + config.window_seconds
            ):
                kind = str(decoy["kind"])
                break
        false_by_decoy[kind] = false_by_decoy.get(kind, 0) + 1
    strength_bins = (
        pd.qcut(episodes["strength"], 3, labels=["weak", "medium", "strong"])
        if len(episodes) >= 3
        else None
    )
    recall_by_strength = {}
    if strength_bins is not None:
        for name in ("weak", "medium", "strong"):
            members = episodes.index[strength_bins == name]
            recall_by_strength[name] = {
                "episodes": int(len(members)),
                "strength_range": [
                    round(float(episodes.loc[members, "strength"].min()), 3),
                    round(float(episodes.loc[members, "strength"].max()), 3),
                ],
                "recall": round(float(np.mean([i in matched for i in members])), 4),
            }
    ticker_months = config.num_tickers * config.num_windows / 30
    return {
        "episodes": int(len(episodes)),
        "detected": len(matched),
        "recall": round(len(matched) / max(1, len(episodes)), 4),
        "median_delay_windows": float(np.median(delays)) if delays else None,
        "repeat_alerts_within_episode": int(repeats),
        "false_sentiment_alerts": len(false_alerts),
        "false_sentiment_per_ticker_per_30_windows": round(len(false_alerts) / ticker_months, 4),
        "false_by_decoy": false_by_decoy,
        "buzz_alerts": sum(a.kind == "buzz" for a in alerts),
        "market_alerts": sum(a.ticker == "MARKET" for a in alerts),
        "recall_by_strength": recall_by_strength,
    }
