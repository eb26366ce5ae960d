"""How texts are counted in a window: the window length and the duplicate, retweet and reach
policies of `seqlens.alerts.aggregation` (`AggregationConfig`)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

WINDOW_SECONDS = {"hour": 3_600, "day": 86_400}
POLICIES = ("remove", "downweight", "keep")
WEIGHTINGS = ("none", "log_followers")


def window_seconds(window: str | int) -> int:
    """`hour` -> 3600, `day` -> 86400, a positive integer (seconds) -> itself."""
    if isinstance(window, str) and window in WINDOW_SECONDS:
        return WINDOW_SECONDS[window]
    if isinstance(window, int) and not isinstance(window, bool) and window > 0:
        return window
    if isinstance(window, str) and window.isdigit() and int(window) > 0:
        return int(window)
    raise ValueError(
        f"Expected window to be 'hour', 'day' or a positive number of seconds. "
        f"Received: window={window!r}"
    )


@dataclass(frozen=True)
class AggregationConfig:
    """How texts are counted in a window.

    Args:
        window: `hour`, `day` or seconds; fixed event-time windows aligned to the Unix epoch (UTC).
        duplicate_policy: exact duplicate texts (same ticker, same normalised text, same window)
            after the first: `remove` (weight 0), `downweight` (`duplicate_weight`) or `keep`.
        duplicate_weight: weight of a duplicate under `downweight`, in `[0, 1]`.
        retweet_policy: retweets (`retweet` true or text starting `RT @`): same three choices.
        retweet_weight: weight of a retweet under `downweight`, in `[0, 1]`.
        weighting: `none`, or `log_followers`: weight `1 + log10(1 + followers)` (reach).
    """

    window: str | int = "day"
    duplicate_policy: str = "remove"
    duplicate_weight: float = 0.2
    retweet_policy: str = "remove"
    retweet_weight: float = 0.2
    weighting: str = "none"

    def __post_init__(self) -> None:
        window_seconds(self.window)
        for name in ("duplicate_policy", "retweet_policy"):
            if getattr(self, name) not in POLICIES:
                raise ValueError(
                    f"Expected {name} in {POLICIES}. Received: {name}={getattr(self, name)!r}"
                )
        for name in ("duplicate_weight", "retweet_weight"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"Expected {name} in [0, 1]. Received: {name}={value!r}")
        if self.weighting not in WEIGHTINGS:
            raise ValueError(
                f"Expected weighting in {WEIGHTINGS}. Received: weighting={self.weighting!r}"
            )

    def policy_weight(self, policy: str, weight: float) -> float:
        return {"remove": 0.0, "downweight": weight, "keep": 1.0}[policy]


def config_dict(config: AggregationConfig) -> dict[str, Any]:
    """The settings as a JSON-ready dict (for `run.json`)."""
    return asdict(config)
