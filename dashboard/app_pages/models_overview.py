"""Models: metrics (with their protocol) beside the baselines, training curves, publishing."""

import streamlit as st

from dashboard import cache, charts
from dashboard.highlight import escape_markdown
from dashboard.model_views import (
    comparison_table,
    gate_decisions_table,
    group_curves,
    history_series,
    metrics_table,
    report_notes,
)
from dashboard.ui import artifacts_root, empty_state_on_missing

root = artifacts_root()

st.title("Models")
st.caption("Every trained model's metrics, each under the protocol it was measured with, "
           "beside the baselines; how training went; and what the validation gate published.")

with empty_state_on_missing():
    folders = cache.model_folders(root)
    st.header("Metrics")
    products = [folder for folder in folders if not folder.is_baseline]
    for folder in products:
        st.subheader(folder.name)
        table = comparison_table(folder.name, folder.metrics)
        if table.empty:
            st.info(f"No metrics.json for {folder.name} yet: `seqlens evaluate {folder.name}` "
                    "writes it.")
            continue
        st.dataframe(table, hide_index=True, key=f"metrics_{folder.name}")
        notes = report_notes(folder.metrics)
        if notes:
            st.caption(escape_markdown(" · ".join(f"{key}: {value}" for key, value in notes.items())))
    others = [folder for folder in folders if folder.is_baseline and folder.metrics]
    if others:
        st.subheader("Other model folders")
        st.dataframe(metrics_table(others), hide_index=True, key="metrics_others")

    st.header("Training curves")
    with_history = [folder for folder in folders if history_series(folder.history)]
    if not with_history:
        st.info("No model folder has a history.json yet (`seqlens train ...` writes it).")
    else:
        tabs = st.tabs([folder.name for folder in with_history])
        for tab, folder in zip(tabs, with_history, strict=True):
            with tab:
                groups = group_curves(history_series(folder.history))
                columns = st.columns(min(2, len(groups)))
                for index, (quantity, series) in enumerate(groups.items()):
                    with columns[index % len(columns)]:
                        st.plotly_chart(charts.training_curves(series, f"{folder.name}: {quantity}"),
                                        key=f"curve_{folder.name}_{quantity}")

st.header("Published versions")
with empty_state_on_missing():
    log, served = cache.publishing(root)
    served_column, decisions_column = st.columns([1, 3])
    with served_column:
        st.markdown("**On disk for TF Serving**")
        st.dataframe(served, hide_index=True)
    with decisions_column:
        st.markdown("**Validation gate decisions**")
        st.dataframe(gate_decisions_table(log), hide_index=True)
