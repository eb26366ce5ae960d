"""Spike detection over per-ticker window series: robust baseline, `for` duration, cooldown.

For each ticker the windows are laid on one regular grid (missing windows have count 0);
`seqlens.alerts.window_scores.score_windows` gives every window its baselines and z scores,
and this module runs the episode state machines on them. Settings: `DetectorConfig`
(`seqlens.alerts.detector_config`).

**Sentiment.** Negative spikes are measured on `share_negative`, positive ones on
`share_positive`. The baseline of window `t` is the median of the share over the last
`baseline_windows` *supported* windows before `t` (effective count >= `min_support`); its
spread is the largest of the inter-quartile range / 1.349 (a robust standard deviation, like
1.4826 * MAD), the binomial sampling noise of this window and `min_scale`. The deviation is
then *market-adjusted*: when the median z of all tickers with support in that window (at
least `market_min_tickers` of them) is beyond `market_z`, their median deviation is
subtracted, so a whole-market move does not page for every ticker.
`z = adjusted deviation / spread`; the window is *pending* when `z >= z_negative` (positive:
`z_positive`), or the pooled z of the last `pool_windows` windows is, and the shift is at least
`min_shift`.

**Buzz.** Same idea on `log1p(effective_count)` over the last `baseline_windows` windows (zeros
included), spread floored at `min_buzz_scale`, market-adjusted; pending when `z >= z_buzz`
and `count / baseline >= buzz_min_ratio`. Buzz is direction `up`.

**One episode, one alert.** A (ticker, kind, direction) fires when it has been pending for
`for_windows` consecutive supported windows (Prometheus' `for`) and is not in an episode or its
cooldown. The episode lasts while `z` stays beyond `resolve_fraction` of the threshold; a new
alert needs `cooldown_windows` windows after the episode's last active window. Windows without
support neither advance nor end anything.

**Market.** When the median of the tickers' unadjusted z is beyond `market_z` in one
direction, one `MARKET` alert is raised for it rather than one per ticker (same state
machine).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from seqlens.alerts.alert_model import Alert
from seqlens.alerts.detector_config import DetectorConfig, config_dict
from seqlens.alerts.window_scores import score_windows

# The detector's public names, importable from here whichever module defines them.
__all__ = [
    "MARKET_TICKER",
    "DetectorConfig",
    "EpisodeTracker",
    "config_dict",
    "detect",
    "score_windows",
]

MARKET_TICKER = "MARKET"


class EpisodeTracker:
    """The `for` / episode / cooldown state machine of one (ticker, kind, direction)."""

    def __init__(self, config: DetectorConfig):
        self.config = config
        self.pending = 0
        self.active = False
        self.last_active = -(10**9)

    def step(self, index: int, supported: bool, pending: bool, still_active: bool) -> bool:
        """Advance one window; return True when an alert fires in this window."""
        if not supported:
            return False
        if self.active:
            if still_active:
                self.last_active = index
                return False
            self.active = False
        self.pending = self.pending + 1 if pending else 0
        cooled = index - self.last_active > self.config.cooldown_windows
        if self.pending >= self.config.for_windows and cooled:
            self.active = True
            self.last_active = index
            self.pending = 0
            return True
        return False


def _severity(kind: str, direction: str, z: float, threshold: float, config: DetectorConfig) -> str:
    levels = ("info", "warning", "critical")
    base = 1 if (kind == "sentiment" and direction == "negative") else 0
    return levels[base + int(abs(z) >= config.critical_factor * threshold)]


def detect(
    windows: pd.DataFrame, window_seconds: int, config: DetectorConfig
) -> tuple[list[Alert], pd.DataFrame]:
    """Score the windows and run the episode state machines.

    Returns:
        `(alerts, scored_grid)`: alerts in window order (without `top_texts`), and the grid of
        `score_windows` with a `fired` column (`''` or the kinds that fired, comma separated).
    """
    grid = score_windows(windows, window_seconds, config)
    fired = np.full(len(grid), "", dtype=object)
    alerts: list[Alert] = []
    thresholds = {"negative": config.z_negative, "positive": config.z_positive}
    for _, rows in grid.groupby("ticker", sort=True):
        index = rows.index.to_numpy()
        supported = rows["supported"].to_numpy()
        checks = []
        for direction, threshold in thresholds.items():
            z = rows[f"{direction}_z"].to_numpy()
            shift = rows[f"{direction}_shift"].to_numpy()
            known = supported & ~np.isnan(z)
            pooled = rows[f"{direction}_pooled_z"].to_numpy()
            sustained = (
                (config.pool_windows > 1)
                & (pooled >= threshold)
                & (z >= config.resolve_fraction * threshold)
            )
            pending = known & ((z >= threshold) | sustained) & (shift >= config.min_shift)
            still = known & (z >= config.resolve_fraction * threshold)
            checks.append(("sentiment", direction, known, pending, still, z, threshold))
        buzz_z = rows["buzz_z"].to_numpy()
        known = supported & ~np.isnan(buzz_z)
        pending = (
            known
            & (buzz_z >= config.z_buzz)
            & (rows["buzz_ratio"].to_numpy() >= config.buzz_min_ratio)
        )
        still = known & (buzz_z >= config.resolve_fraction * config.z_buzz)
        checks.append(
            ("buzz", "up", np.ones(len(rows), dtype=bool), pending, still, buzz_z, config.z_buzz)
        )
        for kind, direction, known, pending, still, z, threshold in checks:
            tracker = EpisodeTracker(config)
            for position in range(len(rows)):
                if tracker.step(
                    position, bool(known[position]), bool(pending[position]), bool(still[position])
                ):
                    row = grid.loc[index[position]]
                    alerts.append(
                        _alert(row, kind, direction, float(z[position]), threshold, config)
                    )
                    fired[index[position]] += f"{kind}:{direction},"
    grid["fired"] = fired
    if config.market_alerts:
        alerts.extend(_market_alerts(grid, config))
    alerts.sort(key=lambda alert: (alert.window_start, alert.ticker, alert.kind, alert.direction))
    return alerts, grid


def _alert(
    row: pd.Series, kind: str, direction: str, z: float, threshold: float, config: DetectorConfig
) -> Alert:
    names = [
        "count",
        "effective_count",
        "mean_score",
        "mean_score_baseline",
        "share_negative",
        "share_positive",
        "buzz_baseline",
        "buzz_z",
        "buzz_ratio",
    ]
    if kind == "sentiment":
        names += [
            f"{direction}_{name}"
            for name in ("baseline", "scale", "shift", "market_shift", "z_raw", "pooled_z")
        ]
    statistics: dict[str, Any] = {"z": round(float(z), 4), "threshold": threshold}
    for name in names:
        value = row.get(name)
        if value is not None and not (isinstance(value, float) and np.isnan(value)):
            statistics[name] = round(float(value), 4)
    if "buzz_baseline" in statistics:
        statistics["buzz_baseline_count"] = round(
            float(np.expm1(statistics.pop("buzz_baseline"))), 2
        )
    return Alert(
        ticker=str(row["ticker"]),
        window_start=int(row["window_start"]),
        window_end=int(row["window_end"]),
        kind=kind,
        direction=direction,
        severity=_severity(kind, direction, z, threshold, config),
        statistics=statistics,
    )


def _market_alerts(grid: pd.DataFrame, config: DetectorConfig) -> list[Alert]:
    """One `MARKET` sentiment alert per market-wide episode (tickers moving together)."""
    alerts = []
    for direction, threshold in (("negative", config.z_negative), ("positive", config.z_positive)):
        column = f"{direction}_z_raw"
        usable = grid[grid["supported"] & grid[column].notna()]
        counts = usable.groupby("window_start")[column].count()
        medians = usable.groupby("window_start")[column].median()
        beyond = (usable[column] >= threshold).groupby(usable["window_start"]).mean()
        tracker = EpisodeTracker(config)
        for position, window_start in enumerate(medians.index):
            enough = bool(counts[window_start] >= config.market_min_tickers)
            median_z = float(medians[window_start]) if enough else 0.0
            if tracker.step(
                position,
                enough,
                median_z >= config.market_z,
                median_z >= config.resolve_fraction * config.market_z,
            ):
                rows = usable[usable["window_start"] == window_start]
                statistics = {
                    "median_z": round(median_z, 4),
                    "threshold": config.market_z,
                    "share_of_tickers_beyond_threshold": round(float(beyond[window_start]), 4),
                    "tickers": int(counts[window_start]),
                    "market_shift": round(float(rows[f"{direction}_market_shift"].iloc[0]), 4),
                    "count": float(rows["count"].sum()),
                }
                alerts.append(
                    Alert(
                        ticker=MARKET_TICKER,
                        window_start=int(window_start),
                        window_end=int(rows["window_end"].iloc[0]),
                        kind="sentiment",
                        direction=direction,
                        severity="warning",
                        statistics=statistics,
                    )
                )
    return alerts
