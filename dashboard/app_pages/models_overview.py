"""Models: metrics (with their protocol) beside the baselines, training curves, publishing."""

import streamlit as st

from dashboard import cache, charts
from dashboard.highlight import escape_markdown
from dashboard.model_views import (
    comparison_table,
    default_curves,
    gate_decisions_table,
    group_curves,
    history_series,
    metrics_table,
    report_notes,
)
from dashboard.ui import artifacts_root, empty_state_on_missing

root = artifacts_root()

st.title("Models")
st.caption(
    "Every trained model's metrics, each under the protocol it was measured with, "
    "beside the baselines; how training went; and what the validation gate published."
)

with empty_state_on_missing():
    folders = cache.model_folders(root)
    st.header("Metrics")
    products = [folder for folder in folders if not folder.is_baseline]
    for folder in products:
        st.subheader(folder.name)
        table = comparison_table(folder.name, folder.metrics)
        if table.empty:
            st.info(
                f"No metrics.json for {folder.name} yet: `seqlens evaluate {folder.name}` "
                "writes it."
            )
            continue
        st.dataframe(table, hide_index=True, key=f"metrics_{folder.name}")
        notes = report_notes(folder.metrics)
        if notes:
            st.caption(
                "  \n".join(escape_markdown(f"{key}: {value}") for key, value in notes.items())
            )
    others = [folder for folder in folders if folder.is_baseline and folder.metrics]
    if others:
        st.subheader("Other model folders")
        st.dataframe(metrics_table(others), hide_index=True, key="metrics_others")

    st.header("Training curves")
    with_history = [folder for folder in folders if history_series(folder.history)]
    if not with_history:
        st.info("No model folder has a history.json yet (`seqlens train ...` writes it).")
    else:
        chosen = st.segmented_control(
            "Model",
            [folder.name for folder in with_history],
            default=with_history[0].name,
            key="curves_model",
        )
        folder = next((item for item in with_history if item.name == chosen), with_history[0])
        groups = group_curves(history_series(folder.history))
        losses = {name: values for name, values in groups.pop("loss", {}).items()}
        quantities = st.multiselect(
            "Validation metrics",
            list(groups),
            default=default_curves(list(groups)),
            key=f"curves_{folder.name}",
        )
        loss_column, metric_column = st.columns(2)
        if losses:
            loss_column.plotly_chart(
                charts.training_curves(losses, f"{folder.name}: loss"), key="curve_loss"
            )
        selected = {
            name: values for quantity in quantities for name, values in groups[quantity].items()
        }
        if selected:
            metric_column.plotly_chart(
                charts.training_curves(selected, f"{folder.name}: metrics"), key="curve_metrics"
            )

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
