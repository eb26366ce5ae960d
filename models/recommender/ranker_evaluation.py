"""Retriever alone vs retriever + ranker, side by side, under the recommender's two protocols.

Both systems are scored by `ranking_metrics.evaluate_scorer` on the same test targets and the same
seeded `sampled100` negatives as `models.recommender.evaluation`. The two-stage system's score of
every catalogue item: the retriever's top `N` in the ranker's order above every other item, the
rest in the retriever's order (`ranker_inference.combined_scores`). The ranker trains on
validation targets, so only the test split measures it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from models.recommender.evaluation import PROTOCOL_DESCRIPTIONS
from models.recommender.ranker_inference import load_two_stage
from models.recommender.ranking_metrics import PROTOCOLS, evaluate_scorer, flatten_metrics
from models.recommender.sequence_data import OOV_INDEX, SequenceData, reindex_to_vocabulary

SYSTEMS = ("retriever", "retriever+ranker")
TABLE_METRICS = ("NDCG@10", "HR@10", "MRR")


def evaluate_two_stage(
    ranker_dir: str | Path,
    data: SequenceData,
    seed: int = 0,
    retriever_dir: str | Path | None = None,
    data_run: str | None = None,
) -> dict:
    """The ranker's `metrics.json`: both systems under `full` and `sampled100` (test targets).

    Args:
        ranker_dir: the trained ranker folder.
        data: the sequences (re-indexed to the retriever's vocabulary by item-id string).
        seed: seed of the `sampled100` negatives.
        retriever_dir: the retriever folder (default: the one the ranker names).
        data_run: where the data came from (recorded).
    """
    system = load_two_stage(ranker_dir, retriever_dir)
    data = reindex_to_vocabulary(data, system.retriever.item_ids)
    histories, targets, users = data.evaluation_examples("test")
    if len(targets) == 0:
        raise ValueError("Expected users with a test target. Received: none")
    interacted = [data.sequences[user] for user in users]
    scorers = {
        "retriever": lambda batch: system.retriever_scores(batch),
        "retriever+ranker": system.score,
    }
    models = {
        name: evaluate_scorer(
            score, histories, targets, interacted, data.vocabulary_size, PROTOCOLS, seed=seed
        )
        for name, score in scorers.items()
    }
    recall = candidate_recall(system, histories, targets)
    gain = {
        f"{protocol}/{metric}": _relative(models, protocol, metric)
        for protocol in PROTOCOLS
        for metric in TABLE_METRICS
    }
    return {
        "split": "test",
        "users": int(len(targets)),
        "users_with_oov_target_counted_as_miss": int(np.sum(targets == OOV_INDEX)),
        "catalogue_items": len(system.retriever.item_ids),
        "num_candidates": system.num_candidates,
        f"candidate_recall@{system.num_candidates}": recall,
        "sampled100_seed": seed,
        "protocols": {
            **PROTOCOL_DESCRIPTIONS,
            "two_stage": "retriever+ranker: the retriever's top N (history excluded) re-ranked "
            "by the ranker above every other item, the rest in retriever order",
        },
        "models": models,
        "relative_gain_of_ranker": gain,
        "flat": {
            f"{name}/{key}": value
            for name, metrics in models.items()
            for key, value in flatten_metrics(metrics).items()
        },
        "config": system.config,
        "data_run": data_run,
    }


def candidate_recall(system, histories, targets, batch_size: int = 512) -> float:
    """Share of test targets among the retriever's top `num_candidates` (the ranker's ceiling)."""
    from models.recommender.ranker_candidates import top_candidates

    hits = 0
    for start in range(0, len(targets), batch_size):
        batch = list(histories[start : start + batch_size])
        scores = system.retriever_scores(batch)
        candidates, _, _ = top_candidates(scores, batch, system.num_candidates)
        hits += int(np.sum(candidates == targets[start : start + batch_size, None]))
    return hits / len(targets)


def _relative(models: dict, protocol: str, metric: str) -> float | None:
    base = models["retriever"][protocol][metric]
    return None if base == 0 else (models["retriever+ranker"][protocol][metric] - base) / base


def comparison_table(document: dict) -> str:
    """A Markdown table: one row per system and protocol, NDCG@10, HR@10, MRR."""
    lines = [
        f"| system | protocol | {' | '.join(TABLE_METRICS)} |",
        "|---|---|" + "---|" * len(TABLE_METRICS),
    ]
    for protocol in PROTOCOLS:
        for name in SYSTEMS:
            values = document["models"][name][protocol]
            cells = " | ".join(f"{values[metric]:.4f}" for metric in TABLE_METRICS)
            lines.append(f"| {name} | {protocol} | {cells} |")
    return "\n".join(lines)
