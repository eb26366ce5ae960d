"""The Intents page's logic: intent distribution over time and the out-of-scope share."""

from __future__ import annotations

import pandas as pd

OUT_OF_SCOPE_LABEL = "out of scope"
PERIODS: dict[str, str] = {"hour": "h", "day": "D", "week": "W-MON"}


CHAT_LOG_LIMIT = 2000  # the Intents page classifies this many of the most recent chats


def recent_chats(chats: pd.DataFrame, limit: int = CHAT_LOG_LIMIT) -> pd.DataFrame:
    """The `limit` most recent rows of a chats table (by `time`), oldest first, index reset."""
    if limit < 1:
        raise ValueError(f"Expected limit >= 1. Received: limit={limit}")
    return chats.sort_values("time").tail(limit).reset_index(drop=True)


def intent_counts_over_time(
    messages: pd.DataFrame, period: str = "day", label_column: str = "label"
) -> tuple[pd.DataFrame, pd.Series]:
    """Messages per period and intent, and the share of out-of-scope messages per period.

    Args:
        messages: one row per message with `time` (UTC datetime), `label_column`, and optionally
            `out_of_scope` (bool). Out-of-scope messages are counted under "out of scope".
        period: `"hour"`, `"day"` or `"week"`.
        label_column: the column holding the intent (`label` for predictions, `intent` for labels).

    Returns:
        `(counts, out_of_scope_share)`: counts has one column per intent and one row per period
        start; the share is a Series on the same index (all zeros when `out_of_scope` is absent).
    """
    if period not in PERIODS:
        raise ValueError(
            f"Expected period to be one of {sorted(PERIODS)}. Received: period={period!r}"
        )
    if messages.empty:
        return pd.DataFrame(), pd.Series(dtype=float)
    frame = messages[["time"]].copy()
    frame["intent"] = messages[label_column].fillna("unlabelled").astype(str)
    out_of_scope = (
        messages["out_of_scope"].fillna(False).astype(bool)
        if "out_of_scope" in messages.columns
        else pd.Series(False, index=messages.index)
    )
    frame.loc[out_of_scope, "intent"] = OUT_OF_SCOPE_LABEL
    frame["out_of_scope"] = out_of_scope
    frame["period"] = (
        frame["time"]
        .dt.tz_convert("UTC")
        .dt.tz_localize(None)
        .dt.to_period(PERIODS[period])
        .dt.start_time
    )
    counts = frame.groupby(["period", "intent"]).size().unstack("intent", fill_value=0).sort_index()
    share = frame.groupby("period")["out_of_scope"].mean().reindex(counts.index)
    return counts, share


def prediction_summary(prediction: pd.Series) -> dict[str, object]:
    """What the page states about one predicted message: intent, confidence, out-of-scope flag."""
    return {
        "intent": str(prediction["label"]),
        "confidence": float(prediction["confidence"]),
        "out_of_scope": bool(prediction.get("out_of_scope", False)),
    }
