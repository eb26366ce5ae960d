"""Train and evaluate a recommender from a data path: the work behind `seqlens train|evaluate
recommender` and the batch steps of the same names.

Both read the data (an events run folder or a SASRec `user item` text file), call
`models.recommender.training` / `models.recommender.evaluation` with a `RecommenderConfig`, write
the model folder or `metrics.json`, and return a one-line summary. Heavy imports (Keras) happen
inside the functions.
"""

from __future__ import annotations

import json
from pathlib import Path

from models.recommender.config import RecommenderConfig


def load_recommender_data(path: str | Path):
    """The `SequenceData` of an events run folder (the pipeline's Parquet) or a SASRec text file.

    Args:
        path: an events run folder (`sequences/` + `vocab/`) or a `user item` `.txt` file.
    """
    from models.recommender.sequence_data import load_sequence_data, read_sasrec_text

    source = Path(path)
    if source.is_file():
        return read_sasrec_text(source)
    return load_sequence_data(source)


def train_recommender_run(
    data_path: str | Path,
    output: str | Path,
    config: RecommenderConfig,
    resume: bool = False,
) -> str:
    """Train a recommender on `data_path` into the model folder `output`.

    Args:
        data_path: an events run folder or a SASRec text file (recorded in `data_run.json`).
        output: the model folder to write (`model.keras`, `config.json`, `history.json`, ...).
        config: the training configuration.
        resume: continue from the folder's checkpoint.

    Returns:
        One line: the best epoch and its validation NDCG@10, why training stopped, how much of
        the time budget it used, and the loss it trained with (empty when nothing was trained).
    """
    from models.recommender.time_budget import format_duration
    from models.recommender.training import train_recommender

    data = load_recommender_data(data_path)
    _, history = train_recommender(data, output, config, resume=resume, data_run=str(data_path))
    if not history:
        return ""
    best = max(history, key=lambda entry: entry["valid/full/NDCG@10"])
    document = json.loads((Path(output) / "history.json").read_text())
    budget = document["time_budget"]
    used = format_duration(budget["seconds_used"])
    if budget["budget_seconds"] is not None:
        used += f" of {format_duration(budget['budget_seconds'])}"
    return (
        f"best epoch {best['epoch']}: valid full NDCG@10 {best['valid/full/NDCG@10']:.4f}; "
        f"stopped by {document['stop_reason']} after {len(history)} epochs ({used}); "
        f"loss {document['loss_rule']['chosen']}; model in {output}"
    )


def evaluate_recommender_run(
    model_dir: str | Path,
    data_path: str | Path,
    output: str | Path | None = None,
    compare: list[str] | tuple[str, ...] = (),
    split: str = "test",
    k: int = 10,
    seed: int = 0,
) -> tuple[dict, str]:
    """Rank the held-out targets with the model and the baselines; write `metrics.json`.

    Args:
        model_dir: the trained recommender folder.
        data_path: an events run folder or a SASRec text file.
        output: the metrics file (default: `<model_dir>/metrics.json`).
        compare: other trained model folders to report beside.
        split: `test` or `valid` targets.
        k: cut-off of the headline metrics, one of the reported cut-offs (5, 10, 20).
        seed: seed of the sampled100 negatives.

    Returns:
        The `metrics.json` document and a one-line summary of its headline figures.
    """
    from models.recommender.evaluation import evaluate_recommender_folder
    from models.recommender.ranking_metrics import HIT_CUTOFFS, NDCG_CUTOFFS

    if k not in HIT_CUTOFFS or k not in NDCG_CUTOFFS:
        raise ValueError(f"Expected --k in (5, 10, 20), the reported cut-offs. Received: k={k}")
    path = Path(output) if output else Path(model_dir) / "metrics.json"
    report = evaluate_recommender_folder(
        model_dir,
        load_recommender_data(data_path),
        list(compare),
        split,
        k,
        seed,
        data_run=str(data_path),
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2))
    headline = report["headline"]
    summary = (
        f"{split} targets ({report['users']} users): "
        f"full NDCG@{k} {headline[f'full/NDCG@{k}']:.4f}, "
        f"sampled100 NDCG@{k} {headline[f'sampled100/NDCG@{k}']:.4f}, "
        f"HR@{k} {headline[f'sampled100/HR@{k}']:.4f}; written to {path}"
    )
    return report, summary
