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
            f"{key}={value}" for key, value in local_protocol.items()
        )
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


TEXT_MEMBERS: dict[str, str] = {
    "served_model": "wide + deep (served)",
    "wide_branch": "its wide branch alone",
    "deep_branch": "its deep branch alone",
    "attention_model": "attention model",
    "linear_model": "linear TF-IDF (baseline)",
    "ensemble": "ensemble (served)",
}


def _numeric(value: object) -> bool:
    return (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and math.isfinite(float(value))
    )


def _pivot(rows: list[dict], index: list[str]) -> pd.DataFrame:
    frame = pd.DataFrame(rows)
    order = list(dict.fromkeys(frame["model"]))
    table = frame.pivot_table(
        index=index, columns="model", values="value", aggfunc="first", sort=False
    )[order].reset_index()
    table.columns.name = None
    return table


def comparison_table(name: str, metrics: Mapping) -> pd.DataFrame:
    """One model's metrics beside its baselines: rows `(protocol, metric)`, a column per model.

    Understands the two reports the project writes, and falls back to every numeric leaf:

    - recommender evaluation (`seqlens evaluate recommender`): `models: {model: {protocol:
      {metric: value}}}` with `protocols` descriptions and `labels`; the trained model comes
      first, then the baselines (popularity, Markov chain, compared runs).
    - text training (`seqlens train sentiment|intent`): `attention_model`, `linear_model` (the
      TF-IDF baseline) and `ensemble` under the report's `protocol`, plus `evaluation` (held-out
      texts, from `seqlens evaluate`) when present.
    """
    rows: list[dict] = []
    if isinstance(metrics.get("models"), Mapping):
        labels = metrics.get("labels") if isinstance(metrics.get("labels"), Mapping) else {}
        split = metrics.get("split", "test")
        models = dict(metrics["models"])
        ordered = [name] * (name in models) + [model for model in models if model != name]
        for model in ordered:
            for protocol, values in (models[model] or {}).items():
                if not isinstance(values, Mapping):
                    continue
                label = model if model == name else f"{labels.get(model, model)} (baseline)"
                rows += [
                    {
                        "protocol": f"{protocol} ({split})",
                        "metric": metric,
                        "model": label,
                        "value": float(value),
                    }
                    for metric, value in values.items()
                    if _numeric(value)
                ]
    elif any(isinstance(metrics.get(member), Mapping) for member in TEXT_MEMBERS):
        protocol = str(metrics.get("protocol", "validation split"))
        for member, label in TEXT_MEMBERS.items():
            if isinstance(metrics.get(member), Mapping):
                rows += [
                    {**row, "protocol": protocol, "model": label}
                    for row in flatten_metrics(metrics[member])
                ]
        if isinstance(metrics.get("evaluation"), Mapping):
            rows += [
                {
                    **row,
                    "protocol": "evaluation on held-out labelled texts (seqlens evaluate)",
                    "model": TEXT_MEMBERS[
                        "served_model" if "served_model" in metrics else "ensemble"
                    ],
                }
                for row in flatten_metrics(
                    {key: value for key, value in metrics["evaluation"].items() if key != "task"}
                )
            ]
    else:
        rows = [{**row, "model": name} for row in flatten_metrics(metrics)]
    if not rows:
        return pd.DataFrame(columns=["protocol", "metric"])
    return _pivot(rows, ["protocol", "metric"])


def report_notes(metrics: Mapping) -> dict[str, object]:
    """Facts of a metrics report worth showing beside the table: protocol descriptions,
    threshold, counts, where the data came from."""
    notes: dict[str, object] = {}
    if isinstance(metrics.get("protocols"), Mapping):
        notes.update({f"protocol {name}": text for name, text in metrics["protocols"].items()})
    keys = (
        "users",
        "catalogue_items",
        "sampled100_seed",
        "oos_score",
        "oos_threshold",
        "oos_threshold_rule",
        "ensemble_linear_weight",
        "train_count",
        "training_seconds",
        "data_run",
    )
    notes.update({key: metrics[key] for key in keys if key in metrics and metrics[key] is not None})
    blend = metrics.get("stacked_blend")
    if isinstance(blend, Mapping) and _numeric(blend.get("wide_weight")):
        notes["branch weights (wide, deep), fitted on validation"] = (
            f"{float(blend['wide_weight']):.3g}, {float(blend.get('deep_weight', 0.0)):.3g}"
        )
    return notes


HEADLINE_CURVE_HINTS: tuple[str, ...] = ("NDCG@10", "HR@10", "accuracy", "f1", "auc")


def default_curves(quantities: Sequence[str], limit: int = 3) -> list[str]:
    """Quantities to plot by default: headline ones (NDCG@10, HR@10, accuracy, ...) first."""
    preferred = [
        quantity
        for hint in HEADLINE_CURVE_HINTS
        for quantity in quantities
        if hint.lower() in quantity.lower()
    ]
    ordered = list(dict.fromkeys([*preferred, *quantities]))
    return ordered[:limit]


def metrics_table(folders: Sequence[ModelFolder]) -> pd.DataFrame:
    """Every numeric metric of several model folders side by side (rows `(protocol, metric)`).

    Used for model folders the dashboard has no specific report format for (extra baselines,
    experiments); product models go through `comparison_table`.
    """
    rows = []
    for folder in folders:
        label = folder.name if not folder.is_baseline else f"{folder.name} (baseline)"
        rows += [{**row, "model": label} for row in flatten_metrics(folder.metrics)]
    if not rows:
        return pd.DataFrame(columns=["protocol", "metric"])
    return _pivot(rows, ["protocol", "metric"])


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
        return pd.DataFrame(columns=["time", "name", "version", "decision", "checks", "reasons"])
    table = log[["time", "name", "version", "decision"]].copy()
    table["checks"] = log["checks"].apply(_checks_summary)
    table["reasons"] = log["reasons"].apply(
        lambda reasons: (
            "; ".join(map(str, reasons))
            if isinstance(reasons, list | tuple)
            else ("" if reasons is None else str(reasons))
        )
    )
    return table


def _checks_summary(checks: object) -> str:
    """`latency: passed, matches_keras: failed` from a gate decision's `checks`."""
    if not isinstance(checks, Mapping):
        return ""
    parts = []
    for name, result in checks.items():
        if isinstance(result, Mapping) and "passed" in result:
            parts.append(f"{name}: {'passed' if result['passed'] else 'failed'}")
    return ", ".join(parts)
