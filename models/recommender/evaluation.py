"""Evaluate a trained recommender folder beside the baselines, on the same users and negatives.

Every model is scored by `models.recommender.ranking_metrics.evaluate_scorer` with the same test
targets and the same seeded `sampled100` negatives, so the figures are comparable side by side.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from models.recommender.ranking_metrics import (
    HIT_CUTOFFS,
    NDCG_CUTOFFS,
    PROTOCOLS,
    evaluate_scorer,
    flatten_metrics,
)
from models.recommender.sequence_data import OOV_INDEX, SequenceData, reindex_to_vocabulary

PROTOCOL_DESCRIPTIONS = {
    "full": "target ranked against every item in the catalogue; items in the user's history "
    "(other than the target), padding and OOV excluded; every user with a target counts, a "
    "target outside the model's vocabulary as a miss",
    "sampled100": "target ranked against 100 items drawn uniformly from those the user never "
    "interacted with (SASRec paper protocol), seeded, the same negatives for every model; a "
    "target outside the model's vocabulary is a miss",
}


def _folder_label(folder: Path, config: dict, validation_targets_trained: int) -> str:
    trained = (
        f", + {validation_targets_trained} validation targets" if validation_targets_trained else ""
    )
    return f"{folder.name} ({config.get('model', '?')}, loss {config.get('loss', '?')}{trained})"


def _validation_trained(data: SequenceData, saved_config: dict) -> np.ndarray:
    from models.recommender.config import RecommenderConfig
    from models.recommender.training import validation_trained_users

    return validation_trained_users(data, RecommenderConfig.from_saved(saved_config))


def evaluate_recommender_folder(
    model_dir: str | Path,
    data: SequenceData,
    compare: list[str] | tuple[str, ...] = (),
    split: str = "test",
    k: int = 10,
    seed: int = 0,
    data_run: str | None = None,
) -> dict:
    """The `metrics.json` document: the model, most-popular, Markov and any `compare` folders.

    Args:
        model_dir: the trained recommender folder.
        data: the sequences (re-indexed to the model's vocabulary by item-id string).
        compare: other trained model folders (e.g. GRU4Rec, the BCE ablation), same vocabulary.
        split: `test` or `valid` targets.
        k: cut-off of the `headline` metrics; one of the reported cut-offs.
        seed: seed of the `sampled100` negatives.
        data_run: where the data came from (recorded).

    The baselines count the same training targets as the model under test, validation targets it
    trained on (`validation_trained_users`) included. On `valid`, the users whose validation target
    any of the evaluated models trained on are left out (and counted).
    """
    from models.recommender.baselines import MarkovChainScorer, MostPopularScorer
    from models.recommender.inference import load_recommender
    from models.recommender.training import model_scorer

    if k not in HIT_CUTOFFS or k not in NDCG_CUTOFFS:
        raise ValueError(
            f"Expected k in {sorted(set(HIT_CUTOFFS) & set(NDCG_CUTOFFS))}. Received: k={k}"
        )
    recommender = load_recommender(model_dir)
    data = reindex_to_vocabulary(data, recommender.item_ids)
    validation_trained = _validation_trained(data, recommender.config)
    others = [load_recommender(folder) for folder in compare]
    others_trained = [_validation_trained(data, other.config) for other in others]
    histories, targets, users = data.evaluation_examples(split)
    unknown_targets = targets == OOV_INDEX  # kept: a miss for every model (`evaluate_scorer`)
    untrained = np.ones(len(targets), dtype=bool)
    if split == "valid":  # a validation target a model trained on is no measure of it
        for trained in (validation_trained, *others_trained):
            untrained &= ~trained[users]
    keep = untrained
    histories = [h for h, kept in zip(histories, keep, strict=True) if kept]
    targets, users = targets[keep], users[keep]
    if len(targets) == 0:
        raise ValueError(f"Expected users with a {split} target. Received: none")
    interacted = [data.sequences[u] for u in users]
    # The baselines count the same training targets as the model under test.
    training = data.training_sequences(validation_trained)
    scorers = {
        "recommender": model_scorer(recommender.model, recommender.max_length),
        "most_popular": MostPopularScorer(data.item_counts(validation_trained)),
        "markov": MarkovChainScorer(training, data.vocabulary_size),
    }
    labels = {
        "recommender": _folder_label(
            Path(model_dir), recommender.config, int(validation_trained.sum())
        ),
        "most_popular": "most popular (training counts)",
        "markov": "first-order Markov chain (training transitions, popularity fallback)",
    }
    for folder, other, trained in zip(compare, others, others_trained, strict=True):
        if other.item_ids != recommender.item_ids:
            raise ValueError(
                f"Expected the same item vocabulary as --model. Received: compare={folder!r}"
            )
        name = Path(folder).name
        scorers[name] = model_scorer(other.model, other.max_length)
        labels[name] = _folder_label(Path(folder), other.config, int(trained.sum()))
    models = {
        name: evaluate_scorer(
            score, histories, targets, interacted, data.vocabulary_size, PROTOCOLS, seed=seed
        )
        for name, score in scorers.items()
    }
    model_dir = Path(model_dir)
    history_file = model_dir / "history.json"
    return {
        "split": split,
        "users": int(len(targets)),
        "users_with_oov_target_counted_as_miss": int(np.sum(unknown_targets & untrained)),
        "users_dropped_validation_target_trained_on": int(np.sum(~untrained)),
        "validation_targets_trained_on": int(validation_trained.sum()),
        "catalogue_items": len(recommender.item_ids),
        "sampled100_seed": seed,
        "protocols": PROTOCOL_DESCRIPTIONS,
        "labels": labels,
        "models": models,
        "flat": {
            f"{name}/{key}": value
            for name, metrics in models.items()
            for key, value in flatten_metrics(metrics).items()
        },
        "headline": {
            f"{protocol}/{metric}@{k}": models["recommender"][protocol][f"{metric}@{k}"]
            for protocol in PROTOCOLS
            for metric in ("HR", "NDCG")
        },
        "config": recommender.config,
        "training": json.loads(history_file.read_text()) if history_file.exists() else None,
        "data_run": data_run,
    }
