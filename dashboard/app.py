"""seqlens dashboard: predictions and the attention behind them.

Run with `seqlens dashboard --artifacts DIR [--item-metadata movies.csv]`, or
`streamlit run dashboard/app.py -- --artifacts DIR [--item-metadata movies.csv]`.
The artifacts root comes from `--artifacts`, else `$SEQLENS_ARTIFACTS`, else `./seqlens-demo`,
and can be changed in the sidebar.
"""

import sys
import time

import streamlit as st

from dashboard.artifacts import flag_value, resolve_artifacts_root
from dashboard.ui import ITEM_METADATA_KEY, ROOT_KEY
from dashboard.warm_start import warm_if_following

st.set_page_config(page_title="seqlens", page_icon=":material/visibility:", layout="wide")

if ROOT_KEY not in st.session_state:
    st.session_state[ROOT_KEY] = str(resolve_artifacts_root(sys.argv[1:]))
if ITEM_METADATA_KEY not in st.session_state:
    st.session_state[ITEM_METADATA_KEY] = flag_value(sys.argv[1:], "--item-metadata") or ""

pages = [
    st.Page(
        "app_pages/recommendations.py",
        title="Recommendations",
        icon=":material/recommend:",
        default=True,
    ),
    st.Page(
        "app_pages/sentiment_monitor.py", title="Sentiment monitor", icon=":material/monitoring:"
    ),
    st.Page("app_pages/intents.py", title="Intents", icon=":material/forum:"),
    st.Page("app_pages/models_overview.py", title="Models", icon=":material/model_training:"),
]
page = st.navigation(pages)

with st.sidebar:
    st.text_input(
        "Artifacts root",
        key=ROOT_KEY,
        help="The folder `seqlens demo` (or the pipeline, training and alert commands) wrote.",
    )
    st.caption("Attention shows where a model looked, not a proof of why.")
# under `seqlens dashboard`: a root typed into the sidebar loads its models in the background too
warm_if_following(st.session_state[ROOT_KEY])

started = time.perf_counter()
page.run()
# seconds the page script took this run (bench/dashboard.py reads it); not shown to users
st.session_state["last_render_seconds"] = time.perf_counter() - started
