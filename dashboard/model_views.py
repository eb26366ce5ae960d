"""The Models page's logic: metrics with their protocol, training curves, gate decisions."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import pandas as pd

from dashboard.artifacts import ModelFolder


def flatten_metrics(metrics: Mapping, prefix: str = "", protocol: str = "") -> list[dict]:
    """Numeric leaves of a (nested) `metrics.json` as rows `metric, value, protocol`.

    A `protocol` string (or a `protocol` dict's `name`) in any enclosing object names the
    protocol of the metrics below it; otherwise the protocol is the path of enclosing keys.
    """
    rows: list[dict] = []
    local_protocol = metrics.get("protocol") if isinstance(metrics, Mapping) else None
    if isinstance(local_protocol, Mapping):
        local_protocol = local_protocol.get("name") or ", ".join(
            f"{key}={value}" for key, value in local_protocol.items())
    protocol = str(local_protocol) if local_protocol else protocol
    for key, value in metrics.items():
        if key == "protocol":
            continue
        path = f"{prefix}.{key}" if prefix else str(key)
        if isinstance(value, Mapping):
            rows.extend(flatten_metrics(value, path, protocol or ""))
        elif isinstance(value, bool):
            continue
        elif isinstance(value, int | float) and math.isfinite(float(value)):
            rows.append({"metric": path, "value": float(value), "protocol": protocol or prefix})
    return rows


def metrics_table(folders: Sequence[ModelFolder], model: str | None = None) -> pd.DataFrame:
    """Metrics side by side: one row per (protocol, metric), one column per model.

    Args:
        folders: the model folders (`dashboard.artifacts.list_model_folders`).
        model: when given, that model's metrics with, beside them, every baseline that reports
            at least one of the same (protocol, metric) pairs; when None, every model.

    Product models come first in the columns, baselines (any other model folder) after.
    """
    rows = []
    for folder in folders:
        for row in flatten_metrics(folder.metrics):
            label = folder.name if not folder.is_baseline else f"{folder.name} (baseline)"
            rows.append({**row, "model": label, "is_baseline": folder.is_baseline})
    if not rows:
        return pd.DataFrame(columns=["protocol", "metric"])
    frame = pd.DataFrame(rows)
    if model is not None:
        own = frame[frame["model"] == model]
        keys = set(zip(own["protocol"], own["metric"], strict=True))
        shared = pd.Series([(protocol, metric) in keys for protocol, metric
                            in zip(frame["protocol"], frame["metric"], strict=True)], index=frame.index)
        related = frame[frame["is_baseline"] & shared]
        frame = pd.concat([own, frame[frame["model"].isin(set(related["model"]))]])
        if frame.empty:
            return pd.DataFrame(columns=["protocol", "metric"])
    order = list(dict.fromkeys(frame["model"]))
    table = frame.pivot_table(index=["protocol", "metric"], columns="model", values="value",
                              aggfunc="first", sort=False)
    table = table[order].reset_index()
    table.columns.name = None
    return table


def unmatched_baselines(folders: Sequence[ModelFolder]) -> list[str]:
    """Baseline folders that share no (protocol, metric) with any product model."""
    product_keys = set()
    for folder in folders:
        if not folder.is_baseline:
            product_keys |= {(row["protocol"], row["metric"]) for row in flatten_metrics(folder.metrics)}
    return [folder.name for folder in folders if folder.is_baseline and not (
        {(row["protocol"], row["metric"]) for row in flatten_metrics(folder.metrics)} & product_keys)]


def history_series(history: Mapping | Sequence) -> dict[str, list[float]]:
    """Per-epoch series from `history.json`: Keras' `{name: [values]}` or a list of epoch dicts.

    A wrapper `{"history": ...}` or `{"epochs": [...]}` is unwrapped. Non-numeric series
    (for example `epoch` numbers or timestamps) are skipped.
    """
    if isinstance(history, Mapping):
        for key in ("history", "epochs"):
            if key in history and isinstance(history[key], Mapping | list):
                return history_series(history[key])
        series = {key: values for key, values in history.items() if isinstance(values, list)}
    else:
        series = {}
        for epoch in history:
            if isinstance(epoch, Mapping):
                for key, value in epoch.items():
                    series.setdefault(key, []).append(value)
    cleaned = {}
    for key, values in series.items():
        if key in ("epoch", "epochs", "time") or str(key).endswith("seconds") or not values:
            continue
        if all(isinstance(value, int | float) and not isinstance(value, bool) for value in values):
            cleaned[str(key)] = [float(value) for value in values]
    return cleaned


def group_curves(series: Mapping[str, list[float]]) -> dict[str, dict[str, list[float]]]:
    """Split series into one chart per quantity: `loss` with `val_loss`, `x` with `val_x`."""
    groups: dict[str, dict[str, list[float]]] = {}
    for name, values in series.items():
        base = name[4:] if name.startswith("val_") else name
        groups.setdefault(base, {})[name] = values
    return groups


def gate_decisions_table(log: pd.DataFrame) -> pd.DataFrame:
    """The publish log as a readable table: `time, name, version, decision, reasons`."""
    if log.empty:
        return pd.DataFrame(columns=["time", "name", "version", "decision", "reasons"])
    table = log[["time", "name", "version", "decision"]].copy()
    table["reasons"] = log["reasons"].apply(
        lambda reasons: "; ".join(map(str, reasons)) if isinstance(reasons, list | tuple)
        else ("" if reasons is None else str(reasons)))
    return table
