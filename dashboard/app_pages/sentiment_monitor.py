"""Sentiment monitor: per-ticker sentiment and volume, the alerts, and the texts behind them."""

import streamlit as st

from dashboard import cache, charts
from dashboard.artifacts import MissingArtifact
from dashboard.highlight import escape_markdown, highlight_tokens_html
from dashboard.monitor_views import (
    alert_label,
    alert_table,
    filter_alerts,
    ordered_severities,
    texts_for_alert,
)
from dashboard.ui import artifacts_root, empty_state_on_missing

root = artifacts_root()
TEXTS_SHOWN = 10


def attention_for(texts):
    """Token attention for texts that came without it, from the sentiment model when trained."""
    missing = texts["tokens"].isna() | texts["token_attention"].isna()
    if not missing.any():
        return texts
    try:
        predictions = cache.predict_texts(
            root, "sentiment", texts.loc[missing, "text"].astype(str).tolist()
        )
    except MissingArtifact:
        return texts
    texts = texts.copy()
    for column in ("tokens", "token_attention", "label", "score"):
        texts.loc[missing, column] = predictions[column].to_numpy()
    return texts


def show_text(row) -> None:
    """One text behind an alert: the raw text (escaped), its label and per-token attention."""
    with st.container(border=True):
        score = row["score"]
        score_text = f"{float(score):+.2f}" if score is not None and score == score else "n/a"
        when = row["time"].strftime("%Y-%m-%d %H:%M") if hasattr(row["time"], "strftime") else ""
        st.caption(
            f"{escape_markdown(when)} · label {escape_markdown(row['label'] or 'n/a')} "
            f"· sentiment {score_text}"
        )
        st.text(str(row["text"]))
        tokens, weights = row["tokens"], row["token_attention"]
        if (
            tokens is not None
            and weights is not None
            and len(tokens) == len(weights)
            and len(tokens)
        ):
            st.html(highlight_tokens_html(list(tokens), list(weights)))


st.title("Sentiment monitor")
st.caption(
    "Sentiment and volume per ticker over time; alerts mark sudden swings and buzz. "
    "Select an alert to read the texts behind it, with the words the model attended to."
)

with empty_state_on_missing():
    alerts, windows = cache.alert_data(root)
    tickers = sorted(windows["ticker"].unique())
    if not tickers:
        raise MissingArtifact(
            "sentiment windows", root / "alerts" / "windows.parquet", "seqlens alerts"
        )
    alert_counts = alerts["ticker"].value_counts() if not alerts.empty else None
    busiest = (
        alert_counts.index[0] if alert_counts is not None and len(alert_counts) else tickers[0]
    )
    ticker = st.selectbox(
        "Ticker", tickers, index=tickers.index(busiest) if busiest in tickers else 0
    )
    st.plotly_chart(charts.sentiment_timeline(windows, alerts, ticker), key="sentiment_chart")

    st.header("Alerts")
    if alerts.empty:
        st.success("No alerts: no window crossed the thresholds.")
    else:
        ticker_filter, direction_filter, severity_filter = st.columns(3)
        chosen_tickers = ticker_filter.multiselect("Ticker", sorted(alerts["ticker"].unique()))
        chosen_directions = direction_filter.multiselect(
            "Direction", sorted(alerts["direction"].unique())
        )
        chosen_severities = severity_filter.multiselect(
            "Severity", ordered_severities(alerts["severity"])
        )
        shown = filter_alerts(alerts, chosen_tickers, chosen_directions, chosen_severities)
        st.dataframe(alert_table(shown), hide_index=True)
        if shown.empty:
            st.info("No alert matches these filters.")
        else:
            position = st.selectbox(
                "Alert to inspect",
                range(len(shown)),
                format_func=lambda index: alert_label(shown.iloc[index]),
            )
            alert = shown.iloc[position]
            texts = attention_for(texts_for_alert(alert, cache.scored_texts(root)))
            st.subheader(f"Texts behind the alert ({len(texts)})")
            if texts.empty:
                st.info("This alert lists no texts.")
            for _, row in texts.head(TEXTS_SHOWN).iterrows():
                show_text(row)
