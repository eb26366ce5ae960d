"""Recommendations: a user's history, the top-k next items, and the attention behind them."""

from pathlib import Path

import streamlit as st

from dashboard import cache, charts
from dashboard.artifacts import find_item_metadata
from dashboard.explanations import explain, reasons_per_item
from dashboard.highlight import escape_markdown
from dashboard.recommendation_views import (
    HISTORY_CHOICES,
    history_timeline,
    parse_history_text,
    recommendations_frame,
    search_users,
    user_history,
)
from dashboard.ui import ITEM_METADATA_KEY, artifacts_root, empty_state_on_missing

root = artifacts_root()


def show_recommendations(
    history: list[str], k: int, titles: dict[str, str], categories: dict[str, str], key: str
) -> None:
    """Top-k table (titles and categories), plain-language explanation and attention heatmap.

    With a trained ranker in the root (`models/ranker`) the list is the two-stage one and each
    recommended item gets its own reason and heatmap row; otherwise the retriever's list, with
    one explanation (its last position's attention) for the whole list.
    """
    if cache.shows_ranked(root, history):
        show_ranked_recommendations(history, k, titles, categories, key)
        return
    item_ids, scores, attention, attended = cache.recommend(root, history, k)
    left, right = st.columns([2, 3])
    with left:
        st.markdown("**Top recommendations**")
        st.dataframe(
            recommendations_frame(item_ids, scores, titles, categories),
            hide_index=True,
            key=f"{key}_table",
        )
    with right:
        st.markdown("**Why**")
        if attention.shape[0] == 0:
            st.info(
                "This recommender has no attention layer (e.g. a GRU baseline): nothing to explain."
            )
        else:
            st.markdown(escape_markdown(explain(attention, attended, top_n=3, titles=titles)))
        if attended and attention.shape[0] > 0:
            labels = [titles.get(item, item) for item in attended]
            st.plotly_chart(charts.attention_heatmap(attention, labels), key=f"{key}_heatmap")


def show_ranked_recommendations(
    history: list[str], k: int, titles: dict[str, str], categories: dict[str, str], key: str
) -> None:
    """The two-stage list: each recommended item with the history item it attended to most,
    and the heatmap of recommended items x history positions."""
    item_ids, scores, attention, attended = cache.recommend_ranked(root, history, k)
    reasons = reasons_per_item(attention, attended, titles)
    st.markdown("**Top recommendations** (retriever's top candidates, re-ranked by the ranker)")
    st.dataframe(
        recommendations_frame(item_ids, scores, titles, categories, reasons=reasons),
        hide_index=True,
        key=f"{key}_table",
    )
    st.caption(
        "Each recommended item attended to the history on its own (the ranker's target "
        "attention): the last column names the interaction it looked at most and that "
        "interaction's share of its attention. Attention shows what the model looked at, "
        "not a proof of cause."
    )
    if attended:
        st.plotly_chart(
            charts.recommendation_attention_heatmap(
                attention,
                [titles.get(item, item) for item in item_ids],
                [titles.get(item, item) for item in attended],
            ),
            key=f"{key}_heatmap",
        )


st.title("Recommendations")
st.caption(
    "Pick a user to see their history, what the recommender suggests next, "
    "and which past interactions its attention rested on."
)

if not st.session_state.get(ITEM_METADATA_KEY):
    st.session_state[ITEM_METADATA_KEY] = str(find_item_metadata(root) or "")
metadata_path = st.sidebar.text_input(
    "Item metadata CSV (optional)",
    key=ITEM_METADATA_KEY,
    help=(
        "An item_id,title,category CSV (the demo writes raw/items.csv) or a MovieLens "
        "movies.csv (movieId,title,genres); adds titles and categories."
    ),
)
titles: dict[str, str] = {}
categories: dict[str, str] = {}
try:
    titles = cache.item_titles(Path(metadata_path) if metadata_path else None)
    categories = cache.item_categories(Path(metadata_path) if metadata_path else None)
except (ValueError, OSError) as error:
    st.sidebar.warning(f"Item titles not loaded: {escape_markdown(str(error))}")
k = st.sidebar.slider("Number of recommendations", min_value=5, max_value=50, value=10, step=5)

st.header("A user")
with empty_state_on_missing():
    sequences = cache.sequences(root)
    query = st.text_input("Search user id", placeholder="type part of a user id")
    matches = search_users(sequences["user_id"].tolist(), query)
    if not matches:
        st.warning(f"No user id contains {escape_markdown(query)}.")
    else:
        user = st.selectbox(f"User ({len(matches)} shown of {len(sequences)})", matches)
        which = st.radio(
            "History given to the model",
            list(HISTORY_CHOICES),
            format_func=HISTORY_CHOICES.get,
            horizontal=True,
        )
        row = sequences[sequences["user_id"] == user].iloc[0]
        timeline = history_timeline(row, titles, categories)
        st.plotly_chart(charts.history_timeline(timeline), key="timeline_chart")
        with st.expander(f"History of user {escape_markdown(user)}: {len(timeline)} interactions"):
            st.dataframe(timeline, hide_index=True)
        with empty_state_on_missing():
            show_recommendations(user_history(row, which), k, titles, categories, key="user")

st.header("Try a history")
st.caption(
    "Type item ids, oldest first, separated by commas or spaces; recommendations update live."
)
typed = st.text_area("Ad-hoc history", placeholder="e.g. 12, 7, 99", key="adhoc_history")
if typed.strip():
    with empty_state_on_missing():
        known, unknown = parse_history_text(typed, cache.item_vocabulary(root))
        if unknown:
            st.warning(
                "Not in the model's vocabulary, ignored: "
                + escape_markdown(", ".join(unknown[:20]))
            )
        if known:
            show_recommendations(known, k, titles, categories, key="adhoc")
        else:
            st.info("None of these item ids is known to the model.")
