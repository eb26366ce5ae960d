"""Spike detection over per-ticker window series: robust baseline, `for` duration, cooldown.

For each ticker the windows are laid on one regular grid (missing windows have count 0).

**Sentiment.** The baseline of window `t` is the median of `mean_score` over the last
`baseline_windows` *supported* windows before `t` (effective count >= `min_support`); its spread is
the inter-quartile range / 1.349 (a robust standard deviation, like 1.4826 * MAD), floored at
`min_scale`, and widened by `sqrt(baseline_count / count)` when the window has fewer texts than
its baseline usually has (a mean of few texts is noisier). The deviation `mean_score - median`
is then *market-adjusted*: when the median z of all tickers with support in that window (at
least `market_min_tickers` of them) is beyond `market_z`, their median deviation is subtracted,
so a whole-market move does not page for every ticker. `z = adjusted deviation / spread`; the window is *pending* negative when
`z <= -z_negative` and `|adjusted deviation| >= min_shift` (positive: `z >= z_positive`).

**Buzz.** Same idea on `log1p(effective_count)` over the last `baseline_windows` windows (zeros
included), spread floored at `min_buzz_scale`, market-adjusted; pending when `z >= z_buzz`,
`effective_count >= min_support` and `count / baseline >= buzz_min_ratio`. Buzz is direction `up`.

**One episode, one alert.** A (ticker, kind, direction) fires when it has been pending for
`for_windows` consecutive supported windows (Prometheus' `for`) and is not in an episode or its
cooldown. The episode lasts while `z` stays beyond `resolve_fraction` of the threshold; a new
alert needs `cooldown_windows` windows after the episode's last active window. Windows without
support neither advance nor end anything. **Market.** When the median of the tickers' unadjusted z is beyond `market_z` in one direction, one `MARKET`
alert is raised instead (same state machine).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd

from seqlens.alerts.alert_model import Alert

MARKET_TICKER = "MARKET"


@dataclass(frozen=True)
class DetectorConfig:
    """Detector settings (defaults documented in `docs/alerts.md`).

    Args:
        baseline_windows: how many earlier windows form the rolling baseline.
        min_baseline_windows: supported windows needed in the baseline before anything fires.
        min_support: minimum effective text count of a window (no alert from 3 texts).
        z_negative: robust z threshold for negative sentiment (lower = more sensitive).
        z_positive: robust z threshold for positive sentiment.
        min_shift: minimum absolute shift of the mean score (score scale `[-1, 1]`).
        min_scale: floor of the robust spread of window mean scores.
        z_buzz: robust z threshold on `log1p(count)` for buzz.
        min_buzz_scale: floor of the robust spread of `log1p(count)`.
        buzz_min_ratio: minimum ratio of the window's count to its baseline count for buzz.
        pool_windows: a window is also pending when the shifts of the last `pool_windows`
            supported windows together reach the threshold (`sum(shift) / sqrt(sum(scale^2))`)
            and this window alone reaches `resolve_fraction` of it; 1 turns this off.
        for_windows: consecutive pending windows before an alert fires (1 = at once).
        cooldown_windows: quiet windows needed after an episode before the next alert.
        resolve_fraction: the episode lasts while `|z| >= resolve_fraction * threshold`.
        critical_factor: `|z| >= critical_factor * threshold` raises severity one level.
        market_min_tickers: tickers with support needed for the market adjustment.
        market_z: a market-wide move: the median over tickers of their own (unadjusted) z is
            beyond this (the median of 20 independent z's has sd ~0.28).
        market_alerts: also emit one `MARKET` alert for a market-wide move.
    """

    baseline_windows: int = 14
    min_baseline_windows: int = 5
    min_support: float = 5.0
    z_negative: float = 3.0
    z_positive: float = 3.5
    min_shift: float = 0.15
    min_scale: float = 0.05
    z_buzz: float = 3.5
    min_buzz_scale: float = 0.25
    buzz_min_ratio: float = 2.0
    pool_windows: int = 2
    for_windows: int = 1
    cooldown_windows: int = 3
    resolve_fraction: float = 0.5
    critical_factor: float = 2.0
    market_min_tickers: int = 5
    market_z: float = 1.5
    market_alerts: bool = True

    def __post_init__(self) -> None:
        for name in (
            "baseline_windows",
            "min_baseline_windows",
            "for_windows",
            "pool_windows",
            "market_min_tickers",
        ):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(
                    f"Expected {name} to be a positive int. Received: {name}={value!r}"
                )
        if not isinstance(self.cooldown_windows, int) or self.cooldown_windows < 0:
            raise ValueError(
                "Expected cooldown_windows to be an int >= 0. "
                f"Received: cooldown_windows={self.cooldown_windows!r}"
            )
        if self.min_baseline_windows > self.baseline_windows:
            raise ValueError(
                "Expected min_baseline_windows <= baseline_windows. "
                f"Received: min_baseline_windows={self.min_baseline_windows}"
            )
        for name in (
            "min_support",
            "z_negative",
            "z_positive",
            "z_buzz",
            "min_scale",
            "market_z",
            "min_buzz_scale",
            "buzz_min_ratio",
            "critical_factor",
        ):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or not value > 0:
                raise ValueError(f"Expected {name} > 0. Received: {name}={value!r}")
        if not 0 <= self.min_shift < 2:
            raise ValueError(
                f"Expected min_shift in [0, 2). Received: min_shift={self.min_shift!r}"
            )
        for name in ("resolve_fraction",):
            value = getattr(self, name)
            if not 0 < value <= 1:
                raise ValueError(f"Expected {name} in (0, 1]. Received: {name}={value!r}")


def _grid(windows: pd.DataFrame, window_seconds: int) -> pd.DataFrame:
    """Every ticker on every window from the first to the last (missing windows: count 0)."""
    starts = np.arange(
        windows["window_start"].min(),
        windows["window_start"].max() + 1,
        window_seconds,
        dtype=np.int64,
    )
    tickers = sorted(windows["ticker"].unique())
    index = pd.MultiIndex.from_product([tickers, starts], names=["ticker", "window_start"])
    grid = windows.set_index(["ticker", "window_start"]).reindex(index).reset_index()
    grid["window_end"] = grid["window_start"] + window_seconds
    for name in ("count", "effective_count", "duplicates", "retweets"):
        if name in grid.columns:
            grid[name] = grid[name].fillna(0)
    return grid


def _rolling_baseline(
    values: pd.Series, window: int, min_periods: int
) -> tuple[pd.Series, pd.Series]:
    """Median and robust sd (IQR / 1.349) of the last `window` non-NaN values *before* each row.

    NaN values (unsupported windows) are skipped: the baseline is made of the most recent
    supported windows, however far back they lie.
    """
    valid = values.dropna()
    rolling = valid.rolling(window, min_periods=min_periods)
    median = rolling.median()
    spread = (rolling.quantile(0.75) - rolling.quantile(0.25)) / 1.349
    # last supported value <= t, then shifted: strictly before t
    median = median.reindex(values.index).ffill().shift(1)
    spread = spread.reindex(values.index).ffill().shift(1)
    return median, spread


SIGNALS = {"negative": "share_negative", "positive": "share_positive"}


def score_windows(
    windows: pd.DataFrame, window_seconds: int, config: DetectorConfig
) -> pd.DataFrame:
    """Add baselines, deviations and z scores to every (ticker, window) of the grid.

    Args:
        windows: `ticker, window_start, count, effective_count, mean_score, share_negative,
            share_positive` (+ other stats), one row per ticker-window with texts.
        window_seconds: the window length used by the aggregation.
        config: detector settings.

    Returns:
        The full grid, sorted by ticker and window, with `supported`, and for each direction
        `d` in (`negative`, `positive`): `d_baseline, d_scale, d_shift` (market-adjusted
        deviation of the share), `d_market_shift, d_z, d_z_raw`; plus `buzz_baseline,
        buzz_scale, buzz_z, buzz_ratio` and `mean_score_baseline`.
    """
    if windows.empty:
        raise ValueError("Expected at least one window. Received: windows with 0 rows")
    grid = _grid(windows, window_seconds).sort_values(["ticker", "window_start"])
    grid = grid.reset_index(drop=True)
    grid["supported"] = grid["effective_count"] >= config.min_support
    thresholds = {"negative": config.z_negative, "positive": config.z_positive}
    adjusted_values, outlier = {}, pd.Series(False, index=grid.index)
    for direction, column in SIGNALS.items():
        # pass 1: each ticker against its own past -> the market's common shift per window
        baseline, scale = _share_baselines(grid, grid[column], config)
        grid[f"{direction}_z_raw"] = (grid[column] - baseline) / scale
        usable = grid["supported"] & baseline.notna()
        market = _market_median(grid, grid[column] - baseline, usable, config)
        # only a real market-wide move is subtracted: the median of the tickers' own z scores
        # must be beyond market_z (otherwise a few simultaneous ticker episodes would leak in)
        market_z = _market_median(grid, grid[f"{direction}_z_raw"], usable, config)
        market = market.where(market_z.abs() >= config.market_z, 0.0)
        grid[f"{direction}_market_shift"] = market
        # pass 2: the same on market-adjusted shares, so market moves leave baselines clean
        adjusted_values[direction] = grid[column] - market
        baseline, scale = _share_baselines(grid, adjusted_values[direction], config)
        outlier |= (
            (adjusted_values[direction] - baseline) / scale >= thresholds[direction]
        ).fillna(False)
    for direction in SIGNALS:
        # pass 3: windows that were alert-level outliers in either direction leave the
        # baselines, so an earlier episode does not widen the spread (and hide the next one)
        adjusted = adjusted_values[direction]
        baseline, scale = _share_baselines(grid, adjusted, config, exclude=outlier)
        grid[f"{direction}_baseline"] = baseline
        grid[f"{direction}_scale"] = scale
        grid[f"{direction}_shift"] = adjusted - baseline
        grid[f"{direction}_z"] = grid[f"{direction}_shift"] / scale
        grid[f"{direction}_pooled_z"] = _pooled_z(grid, direction, config.pool_windows)
    grid["mean_score_baseline"] = _share_baselines(grid, grid["mean_score"], config)[0]
    # buzz: log volume against its own past, zeros included
    volume = np.log1p(grid["effective_count"].astype("float64"))
    rolling = volume.groupby(grid["ticker"]).rolling(
        config.baseline_windows, min_periods=config.min_baseline_windows
    )
    buzz_baseline = rolling.median().reset_index(level=0, drop=True).sort_index()
    buzz_spread = (
        ((rolling.quantile(0.75) - rolling.quantile(0.25)) / 1.349)
        .reset_index(level=0, drop=True)
        .sort_index()
    )
    grid["buzz_baseline"] = buzz_baseline.groupby(grid["ticker"]).shift(1)
    grid["buzz_scale"] = np.maximum(
        buzz_spread.groupby(grid["ticker"]).shift(1).fillna(0), config.min_buzz_scale
    )
    buzz_deviation = volume - grid["buzz_baseline"]
    grid["buzz_market_shift"] = _market_median(
        grid, buzz_deviation, buzz_deviation.notna(), config
    ).clip(lower=0)
    grid["buzz_z"] = (buzz_deviation - grid["buzz_market_shift"]) / grid["buzz_scale"]
    grid["buzz_ratio"] = grid["effective_count"] / np.expm1(grid["buzz_baseline"]).clip(lower=1.0)
    return grid


def _pooled_z(grid: pd.DataFrame, direction: str, pool_windows: int) -> pd.Series:
    """z of the summed shifts of the last `pool_windows` supported windows (this one included).

    `sum(shift) / sqrt(sum(scale^2))`: a sustained moderate move on a low-volume ticker adds up
    to strong evidence over two or three windows, where each window alone stays under threshold.
    """
    shift = grid[f"{direction}_shift"].where(grid["supported"])
    variance = (grid[f"{direction}_scale"] ** 2).where(grid["supported"])
    pooled_shift = shift.copy() * 0.0
    pooled_variance = variance.copy() * 0.0
    for _, rows in grid.groupby("ticker", sort=True):
        valid = shift[rows.index].dropna().index
        sums = shift[valid].rolling(pool_windows, min_periods=pool_windows).sum()
        variances = variance[valid].rolling(pool_windows, min_periods=pool_windows).sum()
        pooled_shift[valid] = sums
        pooled_variance[valid] = variances
    return pooled_shift / np.sqrt(pooled_variance)


def _share_baselines(
    grid: pd.DataFrame, values: pd.Series, config: DetectorConfig, exclude: pd.Series | None = None
) -> tuple[pd.Series, pd.Series]:
    """Per ticker: rolling median of supported windows' `values` and the spread for a z score.

    The spread is the largest of the robust sd of past windows, the binomial sampling noise of
    this window's share `sqrt(b (1 - b) / effective_count)` (`b` the baseline clipped to
    `[0.05, 0.95]`) and `min_scale`. Windows in `exclude` do not enter any baseline.
    """
    medians, spreads = [], []
    usable = grid["supported"] if exclude is None else grid["supported"] & ~exclude.fillna(False)
    for _, rows in grid.groupby("ticker", sort=True):
        median, spread = _rolling_baseline(
            values[rows.index].where(usable[rows.index]),
            config.baseline_windows,
            config.min_baseline_windows,
        )
        medians.append(median)
        spreads.append(spread)
    median = pd.concat(medians).reindex(grid.index)
    spread = pd.concat(spreads).reindex(grid.index).fillna(0.0)
    share = median.clip(0.05, 0.95).fillna(0.5)
    sampling = np.sqrt(share * (1 - share) / grid["effective_count"].clip(lower=1e-9))
    scale = np.maximum(np.maximum(spread, sampling), config.min_scale)
    return median, scale


def _market_median(
    grid: pd.DataFrame, deviation: pd.Series, usable: pd.Series, config: DetectorConfig
) -> pd.Series:
    values = deviation.where(usable)
    by_window = values.groupby(grid["window_start"])
    median = by_window.transform("median")
    count = by_window.transform("count")
    return median.where(count >= config.market_min_tickers, 0.0).fillna(0.0)


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


def config_dict(config: DetectorConfig) -> dict[str, Any]:
    """The settings as a JSON-ready dict (for `run.json`)."""
    return asdict(config)
