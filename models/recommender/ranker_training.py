"""Train the target-attention ranker on a trained retriever's candidates.

The retriever's top N are the candidates; the loss is the softmax cross-entropy of the target
among its `N` candidates. *Honest* examples are the validation targets the retriever did not
train on (its ranks there are what it will give at serving time). With `blend="stacked"` (the
default) the attention model trains, blind to the retriever rank, on each user's last
`extra_positions` training targets (many examples; the target forced in where the retriever
missed it), early-stopped on the honest examples; then `fit_blend` fits the two weights of
`ranker_weight * score - rank_weight * log(rank)` on the honest examples. With `"joint"` the
model trains on the honest examples (plus any extra positions) reading the rank itself.

The ranker's model folder (docs/ranker.md): `model.keras`, `config.json` (the `RankerConfig`,
the retriever folder, the index conventions, the fitted blend), `item_vocab.txt` (retriever
items, then cold items), `feature_vocab.txt`, `history.json` (per-epoch loss, held-out loss and
held-out HR@10 among the candidates), `data_run.json`.
"""

from __future__ import annotations

import json
from pathlib import Path

import keras
import numpy as np

from models.recommender.config import RecommenderConfig
from models.recommender.inference import load_recommender
from models.recommender.ranker_candidates import RankerExamples, ranker_training_examples
from models.recommender.ranker_config import RankerConfig
from models.recommender.ranker_features import (
    FEATURE_INDEX_OFFSET,
    ItemFeatureTable,
    build_feature_table,
)
from models.recommender.ranker_inference import check_retriever
from models.recommender.ranker_model import TargetAttentionRanker
from models.recommender.sequence_data import (
    ITEM_INDEX_OFFSET,
    OOV_INDEX,
    PADDING_INDEX,
    SequenceData,
    left_pad,
    reindex_to_vocabulary,
)
from models.recommender.training import model_scorer, validation_trained_users


def build_ranker(table: ItemFeatureTable, config: RankerConfig, max_length: int):
    """A compiled `TargetAttentionRanker` holding `table`'s features."""
    use_features = config.use_features and len(table.feature_vocabulary) > 0
    model = TargetAttentionRanker(
        num_items=table.num_items,
        trained_items=table.trained_items,
        num_features=table.num_features,
        max_features=int(table.feature_ids.shape[1]),
        max_length=max_length,
        hidden_dim=config.hidden_dim,
        num_heads=config.num_heads,
        hidden_units=config.hidden_units,
        dropout=config.dropout,
        use_item_ids=config.use_item_ids or not use_features,
        use_features=use_features,
        use_retriever_rank=config.use_retriever_rank,
        id_dropout=config.id_dropout if use_features else 0.0,
        blend=config.blend,
    )
    model.build()
    model.set_item_features(table.feature_ids)
    model.compile(
        optimizer=keras.optimizers.Adam(config.learning_rate),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=[keras.metrics.SparseTopKCategoricalAccuracy(k=10, name="HR@10")],
    )
    return model


def ranker_inputs(examples: RankerExamples, max_length: int) -> dict[str, np.ndarray]:
    """The model's input dict for `examples`: padded histories, candidates, ranks."""
    return {
        "history": left_pad(examples.histories, max_length),
        "candidates": examples.candidates,
        "candidate_ranks": examples.ranks,
    }


def fit_ranker(
    model, train: RankerExamples, held_out: RankerExamples | None, config: RankerConfig
) -> list[dict]:
    """Fit with early stopping on the held-out loss; return the per-epoch history."""
    max_length = model.max_length
    validation = None
    callbacks = []
    if held_out is not None and len(held_out.labels):
        validation = (ranker_inputs(held_out, max_length), held_out.labels)
        callbacks.append(
            keras.callbacks.EarlyStopping(monitor="val_loss", patience=2, restore_best_weights=True)
        )
    fitted = model.fit(
        ranker_inputs(train, max_length),
        train.labels,
        batch_size=config.batch_size,
        epochs=config.epochs,
        validation_data=validation,
        callbacks=callbacks,
        shuffle=True,
        verbose=0,
    )
    names = list(fitted.history)
    return [
        {"epoch": epoch + 1, **{name: float(fitted.history[name][epoch]) for name in names}}
        for epoch in range(len(fitted.history[names[0]]))
    ]


def fit_blend(model: TargetAttentionRanker, honest: RankerExamples | None) -> dict:
    """Fit `ranker_weight * score - rank_weight * log(rank)` on honest examples; set it.

    The two weights maximise the softmax likelihood of each target among its candidates (a
    convex problem in two variables: L-BFGS from `(0, 1)`, the retriever's order). Without honest
    examples the retriever order is kept (`(0, 1)`).

    Args:
        model: a trained `"stacked"` ranker (its weights still `(1, 0)`: the score alone).
        honest: examples whose target is among the candidates and whose ranks are honest.

    Returns:
        The fitted weights, the examples count, the mean cross-entropy of the retriever order and
        of the blend, and HR@10 among the candidates for the retriever order, the ranker score
        alone and the blend (all on those examples).
    """
    from scipy.optimize import minimize

    if honest is None or not len(honest.labels):
        model.set_blend(0.0, 1.0)
        return {"ranker_weight": 0.0, "rank_weight": 1.0, "examples": 0}
    model.set_blend(1.0, 0.0)
    inputs = ranker_inputs(honest, model.max_length)
    scores = np.asarray(model.predict(inputs, batch_size=256, verbose=0), dtype=np.float64)
    log_ranks = np.log(np.maximum(honest.ranks.astype(np.float64), 1.0))  # (N, C)
    rows = np.arange(len(honest.labels))

    def negative_log_likelihood(weights: np.ndarray) -> tuple[float, np.ndarray]:
        logits = weights[0] * scores - weights[1] * log_ranks
        logits -= logits.max(axis=1, keepdims=True)
        probabilities = np.exp(logits)
        probabilities /= probabilities.sum(axis=1, keepdims=True)
        loss = -np.mean(np.log(probabilities[rows, honest.labels] + 1e-12))
        # d loss / d logits = probabilities - one_hot(label), per row, averaged
        residual = probabilities.copy()
        residual[rows, honest.labels] -= 1.0
        gradient = np.array(
            [np.mean(np.sum(residual * scores, 1)), -np.mean(np.sum(residual * log_ranks, 1))]
        )
        return float(loss), gradient

    fitted = minimize(negative_log_likelihood, np.array([0.0, 1.0]), jac=True, method="L-BFGS-B")
    ranker_weight, rank_weight = (float(value) for value in fitted.x)
    model.set_blend(ranker_weight, rank_weight)

    def hit_rate(logits: np.ndarray) -> float:
        target = logits[rows, honest.labels][:, None]
        return float(np.mean(1 + np.sum(logits > target, axis=1) <= 10))

    return {
        "ranker_weight": ranker_weight,
        "rank_weight": rank_weight,
        "examples": int(len(honest.labels)),
        "loss": {
            "retriever": negative_log_likelihood(np.array([0.0, 1.0]))[0],
            "blend": float(fitted.fun),
        },
        "HR@10_among_candidates": {
            "retriever": hit_rate(-log_ranks),
            "ranker_alone": hit_rate(scores),
            "blend": hit_rate(ranker_weight * scores - rank_weight * log_ranks),
        },
    }


def _split_by_user(examples: RankerExamples, share: float, seed: int):
    users = np.unique(examples.users)
    rng = np.random.default_rng(seed)
    held = rng.random(len(users)) < share if share > 0 and len(users) > 1 else np.zeros(0, bool)
    held_users = set(users[held].tolist()) if len(held) else set()
    is_held = np.array([user in held_users for user in examples.users], dtype=bool)
    if is_held.all():
        is_held[:] = False
    held_out = examples.subset(np.flatnonzero(is_held)) if is_held.any() else None
    return examples.subset(np.flatnonzero(~is_held)), held_out


def train_ranker(
    retriever_dir: str | Path,
    data: SequenceData,
    output_dir: str | Path,
    config: RankerConfig,
    item_features: dict[str, list[str]] | None = None,
    data_run: str | None = None,
) -> tuple[TargetAttentionRanker, list[dict]]:
    """Train a ranker on a retriever's candidates and write its model folder.

    Args:
        retriever_dir: the trained retriever's folder (`seqlens train recommender`).
        data: the sequences (re-indexed to the retriever's vocabulary by item-id string).
        output_dir: the ranker's model folder.
        config: the `RankerConfig`.
        item_features: `{item_id: [feature values]}` (the data run's
            `vocab/item_features.parquet`); `None`: ids only. Items outside the retriever's
            vocabulary become cold items.
        data_run: where the data came from (recorded).
    """
    keras.utils.set_random_seed(config.seed)
    retriever = load_recommender(retriever_dir)
    check_retriever(retriever)
    data = reindex_to_vocabulary(data, retriever.item_ids)
    # Without `use_features` the table still lists the cold items (read through the OOV id).
    table = build_feature_table(retriever.item_ids, item_features, config.max_features)
    max_length = config.max_length or retriever.max_length
    held_out_users = ~validation_trained_users(data, RecommenderConfig.from_saved(retriever.config))
    score = model_scorer(retriever.model, retriever.max_length)
    stacked = config.blend == "stacked" and config.use_retriever_rank
    # stacked: the attention model trains on the training positions alone (a missed target put
    # in: the rank is not read), the honest examples are kept for early stopping and the blend.
    examples = ranker_training_examples(
        data,
        score,
        config.num_candidates,
        held_out_users,
        config.extra_positions,
        inject_missed=stacked or not config.use_retriever_rank,
        include_held_out=not stacked,
    )
    if len(examples.labels) == 0:
        raise ValueError(
            f"Expected training examples whose target is in the retriever's top "
            f"{config.num_candidates}. Received: none (raise --candidates or --extra-positions)"
        )
    if stacked:
        honest = ranker_training_examples(
            data, score, config.num_candidates, held_out_users, inject_missed=False
        )
        train, held_out = examples, (honest if len(honest.labels) else None)
    else:
        train, held_out = _split_by_user(examples, config.validation_share, config.seed)
    model = build_ranker(table, config, max_length)
    history = fit_ranker(model, train, held_out, config)
    blend = fit_blend(model, held_out) if stacked else None
    output = Path(output_dir)
    output.mkdir(parents=True, exist_ok=True)
    model.save(output / "model.keras")
    write_ranker_files(
        output, config, table, retriever_dir, max_length, len(train.labels), data_run, blend
    )
    (output / "history.json").write_text(json.dumps(history, indent=2))
    return model, history


def write_ranker_files(
    output: Path,
    config: RankerConfig,
    table: ItemFeatureTable,
    retriever_dir: str | Path,
    max_length: int,
    examples: int,
    data_run: str | None,
    blend: dict | None = None,
) -> None:
    """`config.json` (with the fitted `blend_fit` of a `"stacked"` ranker), `item_vocab.txt`,
    `feature_vocab.txt` and `data_run.json`."""
    (output / "item_vocab.txt").write_text(
        "".join(f"{item}\n" for item in table.item_ids), encoding="utf-8"
    )
    (output / "feature_vocab.txt").write_text(
        "".join(f"{value}\n" for value in table.feature_vocabulary), encoding="utf-8"
    )
    document = {
        **config.to_dict(),
        "model": "target_attention_ranker",
        "retriever": str(Path(retriever_dir).resolve()),
        "history_length": max_length,
        "trained_items": table.trained_items,
        "cold_items": len(table.cold_item_ids),
        "feature_values": len(table.feature_vocabulary),
        "training_examples": examples,
        "blend_fit": blend,
        "index_conventions": {
            "padding_index": PADDING_INDEX,
            "oov_index": OOV_INDEX,
            "item_index_offset": ITEM_INDEX_OFFSET,
            "item_index": "line number (0-based) in item_vocab.txt + item_index_offset; the "
            "first trained_items - 2 lines are the retriever's item_vocab.txt, then cold items",
            "feature_index": f"line number in feature_vocab.txt + {FEATURE_INDEX_OFFSET}; "
            "0 padding, 1 unknown",
        },
    }
    (output / "config.json").write_text(json.dumps(document, indent=2))
    (output / "data_run.json").write_text(json.dumps({"data_run": data_run}, indent=2))
