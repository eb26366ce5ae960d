"""Train the target-attention ranker on a trained retriever's candidates.

The examples are the validation targets the retriever did not train on (its ranks there are
honest), with the retriever's top N as candidates and the target forced in; the loss is the
softmax cross-entropy of the target among its `N` candidates. The ranker's model folder
(docs/ranker.md): `model.keras`, `config.json` (the `RankerConfig`, the retriever folder, the
index conventions), `item_vocab.txt` (retriever items, then cold items), `feature_vocab.txt`,
`history.json` (per-epoch loss, held-out loss and held-out HR@10 among the candidates),
`data_run.json`.
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
    examples = ranker_training_examples(
        data,
        model_scorer(retriever.model, retriever.max_length),
        config.num_candidates,
        held_out_users,
        config.extra_positions,
        inject_missed=not config.use_retriever_rank,
    )
    if len(examples.labels) == 0:
        raise ValueError(
            f"Expected training examples whose target is in the retriever's top "
            f"{config.num_candidates}. Received: none (raise --candidates or --extra-positions)"
        )
    train, held_out = _split_by_user(examples, config.validation_share, config.seed)
    model = build_ranker(table, config, max_length)
    history = fit_ranker(model, train, held_out, config)
    output = Path(output_dir)
    output.mkdir(parents=True, exist_ok=True)
    model.save(output / "model.keras")
    write_ranker_files(
        output, config, table, retriever_dir, max_length, len(train.labels), data_run
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
) -> None:
    """`config.json`, `item_vocab.txt`, `feature_vocab.txt` and `data_run.json`."""
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
