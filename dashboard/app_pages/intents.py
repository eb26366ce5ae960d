"""Intents: classify a message live, and watch the intents of a chat log over time."""

import streamlit as st

from dashboard import cache, charts
from dashboard.artifacts import MissingArtifact
from dashboard.highlight import escape_markdown, highlight_tokens_html
from dashboard.intent_views import (
    PERIODS,
    intent_counts_over_time,
    prediction_summary,
    recent_chats,
)
from dashboard.ui import artifacts_root, empty_state_on_missing, show_empty_state

root = artifacts_root()

st.title("Intents")
st.caption(
    "Type a customer message to see its intent, how sure the model is, whether it is "
    "out of scope, and which words it attended to."
)

message = st.text_input(
    "Message", placeholder="e.g. I want to cancel my order", key="intent_message"
)
if message.strip():
    with empty_state_on_missing():
        prediction = cache.predict_texts(root, "intent", [message]).iloc[0]
        summary = prediction_summary(prediction)
        intent_column, confidence_column, scope_column = st.columns(3)
        intent_column.metric("Intent", summary["intent"])
        confidence_column.metric("Confidence", f"{summary['confidence']:.0%}")
        scope_column.metric("Out of scope", "yes" if summary["out_of_scope"] else "no")
        st.caption("Attention of the deep branch")
        st.html(
            highlight_tokens_html(list(prediction["tokens"]), list(prediction["token_attention"]))
        )
        if "wide_contributions" in prediction:  # the wide (TF-IDF n-gram) branch's evidence
            st.caption("Words for this intent in the wide (n-gram) branch")
            evidence = [max(0.0, float(value)) for value in prediction["wide_contributions"]]
            st.html(highlight_tokens_html(list(prediction["tokens"]), evidence))

st.header("Chat log")
with empty_state_on_missing():
    chats = cache.texts(root, "chats")
    recent = recent_chats(chats)
    label_column = "label"
    try:
        predictions = cache.predict_texts(root, "intent", recent["text"].astype(str).tolist())
        recent = recent.assign(
            label=predictions["label"].to_numpy(),
            out_of_scope=predictions["out_of_scope"].to_numpy(),
            confidence=predictions["confidence"].to_numpy(),
        )
        st.caption(f"Predicted intents of the {len(recent)} most recent messages.")
    except MissingArtifact as error:
        show_empty_state(error)
        if "intent" not in recent.columns or recent["intent"].isna().all():
            raise
        label_column = "intent"
        st.caption("Showing the log's own intent labels instead (no out-of-scope detection).")
    period = st.segmented_control("Period", list(PERIODS), default="day") or "day"
    counts, share = intent_counts_over_time(recent, period=period, label_column=label_column)
    if counts.empty:
        st.info("The chat log is empty.")
    else:
        if label_column == "label":
            st.metric("Out-of-scope share", f"{float(recent['out_of_scope'].mean()):.1%}")
        st.plotly_chart(
            charts.intent_distribution(counts, share if label_column == "label" else None),
            key="intent_chart",
        )
        if label_column == "label":
            with st.expander("Least confident messages"):
                unsure = recent.nsmallest(10, "confidence")[["time", "text", "label", "confidence"]]
                st.dataframe(unsure, hide_index=True)
        st.caption(escape_markdown(f"{len(chats)} messages in the log."))
