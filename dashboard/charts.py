"""Plotly figures of the dashboard: attention, sentiment over time, intents, training curves.

Each function takes plain arrays / frames and returns a `plotly.graph_objects.Figure`; pages
only place them. Untrusted text (item titles, tickers) enters figures only as data values and
axis labels, which Plotly renders as text, with `<` escaped here because Plotly interprets a
few HTML tags in labels.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from dashboard.explanations import head_average

SEVERITY_COLOURS = {"critical": "#d62728", "warning": "#ff7f0e", "info": "#bcbd22"}


def _plain(text: object) -> str:
    """Text safe for a Plotly label (Plotly renders `<b>`, `<br>`, `<a>` and friends)."""
    return html.escape(str(text), quote=False)


def attention_heatmap(attention: np.ndarray, history_labels: Sequence[str]) -> go.Figure:
    """Heatmap of heads x history positions, with the head average as the last row.

    Args:
        attention: `(heads, T)` attention of the last position over the history.
        history_labels: `T` labels (item ids or titles), oldest first.
    """
    weights = np.asarray(attention, dtype=float)
    if weights.ndim != 2 or weights.shape[1] != len(history_labels):
        raise ValueError(
            "Expected attention of shape (heads, len(history_labels)). "
            f"Received: attention.shape={weights.shape}, len(history_labels)={len(history_labels)}"
        )
    rows = np.vstack([weights, head_average(weights)[None, :]])
    row_names = [f"head {index + 1}" for index in range(weights.shape[0])] + ["average"]
    return _history_heatmap(
        rows, row_names, history_labels, "Attention of the next-item prediction over the history"
    )


def recommendation_attention_heatmap(
    attention: np.ndarray, item_labels: Sequence[str], history_labels: Sequence[str]
) -> go.Figure:
    """Heatmap of recommended items x history positions: each row is what that recommendation
    attended to (the two-stage ranker's target attention).

    Args:
        attention: `(k, T)`: row `i` is recommended item `i`'s attention over the history.
        item_labels: `k` labels of the recommended items, best first.
        history_labels: `T` labels (item ids or titles), oldest first.
    """
    weights = np.asarray(attention, dtype=float)
    if weights.shape != (len(item_labels), len(history_labels)):
        raise ValueError(
            "Expected attention of shape (len(item_labels), len(history_labels)). "
            f"Received: attention.shape={weights.shape}, len(item_labels)={len(item_labels)}, "
            f"len(history_labels)={len(history_labels)}"
        )
    row_names = [f"{rank}. {_plain(label)}" for rank, label in enumerate(item_labels, start=1)]
    return _history_heatmap(
        weights, row_names, history_labels, "What each recommendation attended to in the history"
    )


def _history_heatmap(
    rows: np.ndarray, row_names: list[str], history_labels: Sequence[str], title: str
) -> go.Figure:
    """A heatmap of `rows` (one per name) over the numbered history positions."""
    positions = [f"{index + 1}. {_plain(label)}" for index, label in enumerate(history_labels)]
    figure = go.Figure(
        go.Heatmap(
            z=rows,
            x=positions,
            y=row_names,
            colorscale="Oranges",
            zmin=0.0,
            colorbar={"title": "attention"},
            hovertemplate="%{y}<br>%{x}<br>weight %{z:.3f}<extra></extra>",
        )
    )
    figure.update_layout(
        title=title,
        xaxis_title="history position (oldest to most recent)",
        yaxis={"autorange": "reversed"},
        height=180 + 28 * rows.shape[0],
        margin={"l": 10, "r": 10, "t": 50, "b": 10},
    )
    return figure


def sentiment_timeline(windows: pd.DataFrame, alerts: pd.DataFrame, ticker: str) -> go.Figure:
    """Mean sentiment (top) and text volume (bottom) per window for one ticker, alerts marked.

    Args:
        windows: rows of `alerts/windows.parquet` (`ticker, window_start, count, mean_score`).
        alerts: rows of `alerts.jsonl` (`ticker, window_start, direction, severity, kind`).
        ticker: the ticker to draw.
    """
    rows = windows[windows["ticker"] == ticker].sort_values("window_start")
    figure = make_subplots(
        rows=2,
        cols=1,
        shared_xaxes=True,
        row_heights=[0.65, 0.35],
        vertical_spacing=0.06,
        subplot_titles=("mean sentiment (p(pos) - p(neg))", "texts per window"),
    )
    figure.add_trace(
        go.Scatter(
            x=rows["window_start"],
            y=rows["mean_score"],
            mode="lines+markers",
            name="mean sentiment",
            line={"color": "#1f77b4"},
        ),
        row=1,
        col=1,
    )
    figure.add_trace(
        go.Bar(x=rows["window_start"], y=rows["count"], name="volume", marker_color="#7f7f7f"),
        row=2,
        col=1,
    )
    ticker_alerts = alerts[alerts["ticker"] == ticker] if not alerts.empty else alerts
    if not ticker_alerts.empty:
        scores = rows.set_index("window_start")["mean_score"]
        for severity, group in ticker_alerts.groupby("severity"):
            y_values = [scores.get(start, np.nan) for start in group["window_start"]]
            y_values = [0.0 if pd.isna(value) else value for value in y_values]
            labels = [
                f"{_plain(kind)} alert, {_plain(direction)}, {_plain(severity)}"
                for kind, direction in zip(group["kind"], group["direction"], strict=True)
            ]
            figure.add_trace(
                go.Scatter(
                    x=group["window_start"],
                    y=y_values,
                    mode="markers",
                    name=f"alert ({severity})",
                    marker={
                        "symbol": "triangle-down",
                        "size": 14,
                        "color": SEVERITY_COLOURS.get(str(severity), "#9467bd"),
                    },
                    text=labels,
                    hovertemplate="%{text}<br>%{x}<extra></extra>",
                ),
                row=1,
                col=1,
            )
    figure.update_yaxes(range=[-1.05, 1.05], row=1, col=1)
    figure.update_layout(
        title=f"{_plain(ticker)}: sentiment and volume",
        height=460,
        margin={"l": 10, "r": 10, "t": 60, "b": 10},
        legend={"orientation": "h"},
    )
    return figure


def intent_distribution(
    counts: pd.DataFrame, out_of_scope_share: pd.Series | None = None
) -> go.Figure:
    """Stacked bars of intents per period, with the out-of-scope share as a line on a second axis.

    Args:
        counts: index = period start, columns = intents, values = message counts.
        out_of_scope_share: share of out-of-scope messages per period (same index), optional.
    """
    figure = make_subplots(specs=[[{"secondary_y": True}]])
    for intent in counts.columns:
        figure.add_trace(
            go.Bar(x=counts.index, y=counts[intent], name=_plain(intent)), secondary_y=False
        )
    if out_of_scope_share is not None and len(out_of_scope_share):
        figure.add_trace(
            go.Scatter(
                x=out_of_scope_share.index,
                y=out_of_scope_share.values,
                name="out-of-scope share",
                mode="lines+markers",
                line={"color": "black", "dash": "dot"},
            ),
            secondary_y=True,
        )
        figure.update_yaxes(
            title_text="out-of-scope share", range=[0, 1], tickformat=".0%", secondary_y=True
        )
    figure.update_layout(
        barmode="stack",
        title="Intents over time",
        height=420,
        margin={"l": 10, "r": 10, "t": 50, "b": 10},
    )
    figure.update_yaxes(title_text="messages", secondary_y=False)
    return figure


def training_curves(history: Mapping[str, Sequence[float]], title: str) -> go.Figure:
    """One line per recorded series (loss, val_loss, metrics) over epochs.

    Args:
        history: series name -> per-epoch values (see `dashboard.model_views.history_series`).
        title: figure title (the model name).
    """
    figure = go.Figure()
    for name, values in history.items():
        epochs = list(range(1, len(values) + 1))
        dash = "dot" if name.startswith("val_") else "solid"
        figure.add_trace(
            go.Scatter(
                x=epochs,
                y=list(values),
                name=_plain(name),
                mode="lines+markers",
                line={"dash": dash},
            )
        )
    figure.update_layout(
        title=f"Training curves: {_plain(title)}",
        xaxis_title="epoch",
        height=360,
        margin={"l": 10, "r": 10, "t": 50, "b": 10},
    )
    return figure


def history_timeline(timeline: pd.DataFrame) -> go.Figure:
    """A user's interactions over time, one marker per item, coloured by split.

    Args:
        timeline: `dashboard.recommendation_views.history_timeline` output
            (`position, time, item_id, title, split`).
    """
    figure = go.Figure()
    x_values = timeline["time"] if timeline["time"].notna().all() else timeline["position"]
    for split, colour in (
        ("train", "#1f77b4"),
        ("validation target", "#ff7f0e"),
        ("test target", "#d62728"),
    ):
        rows = timeline[timeline["split"] == split]
        if rows.empty:
            continue
        labels = [
            _plain(f"{title} ({item})" if title else item)
            for item, title in zip(rows["item_id"], rows["title"], strict=True)
        ]
        figure.add_trace(
            go.Scatter(
                x=x_values[rows.index],
                y=rows["position"],
                mode="markers",
                name=split,
                marker={"size": 9, "color": colour},
                text=labels,
                hovertemplate="#%{y}: %{text}<br>%{x}<extra></extra>",
            )
        )
    figure.update_layout(
        title="History timeline",
        yaxis_title="position in the sequence",
        height=300,
        margin={"l": 10, "r": 10, "t": 50, "b": 10},
        legend={"orientation": "h"},
    )
    return figure
