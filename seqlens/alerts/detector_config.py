"""Detector settings: `DetectorConfig` (thresholds, baselines, `for`, cooldown, market)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


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


def config_dict(config: DetectorConfig) -> dict[str, Any]:
    """The settings as a JSON-ready dict (for `run.json`)."""
    return asdict(config)
