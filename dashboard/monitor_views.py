"""The Sentiment monitor page's logic: filter alerts, find the texts behind an alert."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

SEVERITY_ORDER: tuple[str, ...] = ("critical", "warning", "info")


def filter_alerts(
    alerts: pd.DataFrame,
    tickers: Sequence[str] = (),
    directions: Sequence[str] = (),
    severities: Sequence[str] = (),
) -> pd.DataFrame:
    """Alerts whose ticker, direction and severity are among the chosen ones (empty = all)."""
    selected = alerts
    for column, chosen in (
        ("ticker", tickers),
        ("direction", directions),
        ("severity", severities),
    ):
        if chosen:
            selected = selected[selected[column].isin(list(chosen))]
    return selected.reset_index(drop=True)


def ordered_severities(values: Sequence[str]) -> list[str]:
    """Distinct severities, known levels first (high, medium, low), then the rest by name."""
    distinct = {str(value) for value in values}
    known = [level for level in SEVERITY_ORDER if level in distinct]
    return known + sorted(distinct - set(known))


def alert_label(alert: pd.Series) -> str:
    """A short line naming one alert (for a select box)."""
    start = alert["window_start"]
    when = start.strftime("%Y-%m-%d %H:%M") if isinstance(start, pd.Timestamp) else str(start)
    return (
        f"{alert['ticker']} · {alert['kind']} · {alert['direction']} · {alert['severity']} · {when}"
    )


def alert_table(alerts: pd.DataFrame) -> pd.DataFrame:
    """The columns of the alert list shown to the analyst, with the main statistics flattened."""
    table = alerts[["window_start", "window_end", "ticker", "kind", "direction", "severity"]].copy()
    statistics = alerts["statistics"].apply(lambda value: value if isinstance(value, dict) else {})
    for key in ("count", "mean_score", "z", "baseline_median", "share_negative"):
        values = statistics.apply(lambda stats, key=key: stats.get(key))
        if values.notna().any():
            table[key] = values
    return table


def texts_for_alert(alert: pd.Series, scored: pd.DataFrame | None, limit: int = 50) -> pd.DataFrame:
    """The texts behind an alert: scored news of its ticker inside its window, most extreme first.

    Falls back to the alert's own `top_texts` (without token attention) when `scored` is None or
    has no matching rows. Columns: `id, time, text, label, score, tokens, token_attention`.
    """
    columns = ["id", "time", "text", "label", "score", "tokens", "token_attention"]
    if scored is not None and not scored.empty and "time" in scored.columns:
        inside = scored[
            (scored["ticker"].astype(str) == str(alert["ticker"]))
            & (scored["time"] >= alert["window_start"])
            & (scored["time"] < alert["window_end"])
        ].copy()
        if not inside.empty:
            direction = str(alert.get("direction", ""))
            ascending = direction in ("negative", "down")
            inside = inside.sort_values("score", ascending=ascending, kind="stable").head(limit)
            for column in columns:
                if column not in inside.columns:
                    inside[column] = None
            return inside[columns].reset_index(drop=True)
    top_texts = alert.get("top_texts")
    records = list(top_texts) if isinstance(top_texts, list | tuple) else []
    if hasattr(top_texts, "tolist"):
        records = top_texts.tolist()
    frame = pd.DataFrame.from_records([record for record in records if isinstance(record, dict)])
    for column in columns:
        if column not in frame.columns:
            frame[column] = None
    return frame[columns].head(limit).reset_index(drop=True)
