"""Train, evaluate and export the two-stage ranker from paths: the work behind `seqlens train
ranker`, `seqlens evaluate ranker` and `seqlens export ranker`.

The data is an events run folder (its `vocab/item_features.parquet`, when the pipeline ran with
`--item-features`, gives the item features) or a SASRec / one-sequence-per-line text file with an
explicit `item_features` file (read by `pipeline.item_features`). Heavy imports happen inside.
"""

from __future__ import annotations

import json
from pathlib import Path

from models.recommender.ranker_config import RankerConfig


def load_item_features(
    data_path: str | Path, item_features: str | Path | None = None
) -> dict[str, list[str]] | None:
    """`{item_id: [feature values]}`: from `item_features` (any `pipeline.item_features` format),
    else from the run folder's `vocab/item_features.parquet`, else `None` (ids only)."""
    if item_features is not None:
        from pipeline.item_features import read_item_features

        return read_item_features(item_features).features
    from models.recommender.ranker_features import read_item_features as read_run_features

    source = Path(data_path)
    return None if source.is_file() else read_run_features(source)


def train_ranker_run(
    data_path: str | Path,
    retriever_dir: str | Path,
    output: str | Path,
    config: RankerConfig,
    item_features: str | Path | None = None,
    seed: int = 0,
) -> tuple[dict, str]:
    """Train a ranker on the retriever's candidates, then evaluate both systems on the test split.

    Args:
        data_path: an events run folder or a sequence text file.
        retriever_dir: the trained retriever folder.
        output: the ranker folder to write (with `metrics.json`).
        config: the `RankerConfig`.
        item_features: an item feature file (overrides the run folder's features).
        seed: seed of the sampled100 negatives.

    Returns:
        The `metrics.json` document and the side-by-side table (Markdown).
    """
    from models.recommender.ranker_training import train_ranker
    from seqlens.jobs.recommender import load_recommender_data

    if not Path(retriever_dir).is_dir():
        raise FileNotFoundError(
            f"Expected a trained retriever folder. Received: retriever={str(retriever_dir)!r}"
        )
    data = load_recommender_data(data_path)
    features = load_item_features(data_path, item_features)
    train_ranker(retriever_dir, data, output, config, features, data_run=str(data_path))
    return evaluate_ranker_run(output, data_path, data=data, seed=seed)


def evaluate_ranker_run(
    ranker_dir: str | Path,
    data_path: str | Path,
    output: str | Path | None = None,
    data=None,
    seed: int = 0,
) -> tuple[dict, str]:
    """Retriever alone vs retriever + ranker on the test targets; write `metrics.json`.

    Returns:
        The document and the side-by-side table (Markdown) with a line naming the file.
    """
    from models.recommender.ranker_evaluation import comparison_table, evaluate_two_stage
    from seqlens.jobs.recommender import load_recommender_data

    data = data if data is not None else load_recommender_data(data_path)
    document = evaluate_two_stage(ranker_dir, data, seed=seed, data_run=str(data_path))
    path = Path(output) if output else Path(ranker_dir) / "metrics.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, indent=2))
    recall_key = f"candidate_recall@{document['num_candidates']}"
    table = comparison_table(document)
    return document, (
        f"{table}\n\ntest targets: {document['users']} users; {recall_key} "
        f"{document[recall_key]:.4f}; written to {path}"
    )


def export_ranker_run(ranker_dir: str | Path, serving_root: str | Path, name: str) -> Path:
    """Export retriever + ranker as the next version of `<serving_root>/<name>/` (no gate).

    Written to a staging folder and renamed into place (`models.serving.versions`); the version
    serves `serving_default` of `models.serving.two_stage_signature`.
    """
    from models.recommender.ranker_inference import load_two_stage
    from models.serving.two_stage_signature import export_two_stage_savedmodel
    from models.serving.versions import (
        commit_version,
        next_version,
        staging_dir,
        validate_servable_name,
    )

    validate_servable_name(name)
    system = load_two_stage(ranker_dir)
    base = Path(serving_root) / name
    version = next_version(base)
    staged = staging_dir(base, version)
    export_two_stage_savedmodel(
        system, staged, name, metadata={"ranker": str(Path(ranker_dir).resolve())}
    )
    return commit_version(staged, base, version)
