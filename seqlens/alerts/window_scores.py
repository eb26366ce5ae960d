"""Baselines and z scores of every (ticker, window): `score_windows`.

Every ticker is laid on one regular grid of windows; each direction's label share gets a
robust rolling baseline (median, IQR / 1.349, sampling noise, `min_scale`), market-adjusted in
three passes, and buzz compares `log1p(effective_count)` with its own past (see
`seqlens.alerts.detector` and docs/alerts.md for the method).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from seqlens.alerts.detector_config import DetectorConfig


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
