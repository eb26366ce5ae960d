"""Plot recommender training runs: validation NDCG@10 per epoch and against elapsed seconds.

Each run is a trainer history (the `epochs` list of a model folder's `history.json`): entries
with `epoch`, `valid/full/NDCG@10` and `elapsed_seconds`. The best epoch of each run is marked.
"""

from __future__ import annotations

import json
from pathlib import Path

METRIC = "valid/full/NDCG@10"


def read_history(model_folder: str | Path) -> list[dict]:
    """The per-epoch entries of `model_folder/history.json`."""
    path = Path(model_folder) / "history.json"
    if not path.exists():
        raise FileNotFoundError(f"Expected a trainer history at {path}. Received: no such file")
    return json.loads(path.read_text())["epochs"]


def plot_validation_curves(runs: dict[str, list[dict]], path: str | Path, title: str) -> Path:
    """Write a PNG with two panels (by epoch, by elapsed seconds), one line per run.

    Args:
        runs: label -> history entries (at least one entry each).
        path: the PNG to write (parent folders are created).
        title: the figure's title (the data set).
    """
    empty = [label for label, history in runs.items() if not history]
    if not runs or empty:
        raise ValueError(
            "Expected at least one run, each with at least one epoch. "
            f"Received: empty runs={empty or 'all'}"
        )
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, (by_epoch, by_time) = plt.subplots(1, 2, figsize=(11, 4), sharey=True)
    for label, history in runs.items():
        epochs = [entry["epoch"] for entry in history]
        values = [entry[METRIC] for entry in history]
        seconds = [entry["elapsed_seconds"] for entry in history]
        best = max(range(len(values)), key=values.__getitem__)
        (line,) = by_epoch.plot(epochs, values, marker=".", label=label)
        by_epoch.plot(epochs[best], values[best], marker="*", markersize=12, color=line.get_color())
        by_time.plot(seconds, values, marker=".", color=line.get_color())
        by_time.plot(seconds[best], values[best], marker="*", markersize=12, color=line.get_color())
    by_epoch.set(xlabel="epoch", ylabel="validation NDCG@10 (full ranking)")
    by_time.set(xlabel="seconds since the start of training")
    by_epoch.legend(fontsize="small")
    for axes in (by_epoch, by_time):
        axes.grid(alpha=0.3)
    figure.suptitle(f"{title}: validation NDCG@10 per epoch (star = best epoch)")
    figure.tight_layout()
    output = Path(path)
    output.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(output, dpi=110)
    plt.close(figure)
    return output
