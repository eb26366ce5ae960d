"""Retrieval + ranking in one SavedModel signature, with per-recommendation attention.

`export_two_stage_savedmodel(system, export_dir, name)` wraps a
`models.recommender.ranker_inference.TwoStageRecommender` (a retriever and a
`TargetAttentionRanker`) in one `tf.function`:

- inputs (as the single-stage recommender signature, `models.serving.recommender_signature`):
  `history`, `tf.string` `(B, W)`, oldest first, padded with `""`; `k`, `tf.int32` `(B,)`.
- outputs: `item_ids`, `tf.string` `(B, K)` (`K = max(k)`); `scores`, `float32` `(B, K)` (the
  ranker's); `attention`, `float32` `(B, K, W)`: what *each recommended item* attended to,
  aligned with the input columns (0 for padding and for items cut by truncation; each row sums
  to 1 over the used positions of a non-empty history).

In the graph: ids -> indices (unknown ids -> OOV), the most recent `max_length` kept and
left-padded; the retriever scores the catalogue (history, padding and OOV excluded) and keeps its
top `N` (`num_candidates`, clamped to the catalogue); the ranker scores those `N` against the
history; the top `k` of them are returned. `k < 1` or a `k` of the wrong length fails with an
`InvalidArgumentError` naming `k`; `k > N` is clamped to `N`. The vocabulary (retriever items,
then cold items) is the asset `assets/item_vocab.txt`. The single-stage signature stays in its
own SavedModel (`recommender_signature`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from models.serving.savedmodel import export_savedmodel

VOCABULARY_ASSET_NAME = "item_vocab.txt"
SIGNATURE_NAME = "serving_default"
SPECIAL_ITEM_NAMES = ("[seqlens:padding]", "[seqlens:oov]")


def build_two_stage_module(system: Any, vocabulary_path: str) -> Any:
    """A `tf.Module` with the `serving_default` two-stage function (see the module docstring)."""
    import tensorflow as tf

    retriever, ranker = system.retriever.model, system.ranker
    max_length = int(system.max_length)
    retriever_size = len(system.retriever.item_ids) + 2
    num_candidates = min(int(system.num_candidates), retriever_size - 2)
    module = tf.Module()
    module.vocabulary = tf.saved_model.Asset(vocabulary_path)
    line = tf.lookup.TextFileIndex
    module.index_of_item = tf.lookup.StaticHashTable(
        tf.lookup.TextFileInitializer(
            module.vocabulary, tf.string, line.WHOLE_LINE, tf.int64, line.LINE_NUMBER
        ),
        default_value=1,
    )
    module.item_of_index = tf.lookup.StaticHashTable(
        tf.lookup.TextFileInitializer(
            module.vocabulary, tf.int64, line.LINE_NUMBER, tf.string, line.WHOLE_LINE
        ),
        default_value="",
    )

    def recommend(history, k):
        history = tf.ensure_shape(history, [None, None], name="history_must_be_2D_batch_width")
        k = tf.ensure_shape(k, [None], name="k_must_be_1D_int32_one_per_row")
        batch_size = tf.shape(history)[0]
        checks = [
            tf.debugging.assert_positive(k, message="k must be >= 1 for every row"),
            tf.debugging.assert_equal(
                tf.shape(k)[0], batch_size, message="k needs one value per history row (shape [B])"
            ),
        ]
        with tf.control_dependencies(checks):
            present = tf.not_equal(history, "")  # (B, W)
        indices = module.index_of_item.lookup(history)  # (B, W)
        is_item = tf.logical_and(present, indices >= 2)
        indices = tf.where(is_item, indices, tf.constant(1, tf.int64))
        count = tf.reduce_sum(tf.cast(present, tf.int32), axis=1)  # (B,)
        kept = tf.minimum(count, max_length)
        compact = tf.cumsum(tf.cast(present, tf.int32), axis=1) - 1 - (count - kept)[:, None]
        used = tf.logical_and(present, compact >= 0)  # (B, W)
        position = compact + (max_length - kept)[:, None]  # left padding
        used_cells = tf.where(used)
        targets = tf.stack(
            [used_cells[:, 0], tf.cast(tf.gather_nd(position, used_cells), tf.int64)], axis=1
        )
        ranker_input = tf.tensor_scatter_nd_update(
            tf.zeros([batch_size, max_length], tf.int32),
            targets,
            tf.cast(tf.gather_nd(indices, used_cells), tf.int32),
        )  # (B, T), ranker indices (cold items included)
        retriever_input = tf.where(ranker_input >= retriever_size, 1, ranker_input)
        last, _ = retriever.encode_last(retriever_input[:, -retriever.max_length :])
        scores = tf.cast(retriever.score_items(tf.cast(last, tf.float32)), tf.float32)  # (B, V)
        special = tf.range(retriever_size) < 2
        scores = tf.where(special[None, :], -np.inf, scores)
        seen = tf.where(tf.logical_and(is_item, indices < retriever_size))
        seen_targets = tf.stack([seen[:, 0], tf.gather_nd(indices, seen)], axis=1)
        scores = tf.tensor_scatter_nd_update(
            scores, seen_targets, tf.fill(tf.shape(seen[:, :1])[:1], -np.inf)
        )
        top = tf.math.top_k(scores, k=num_candidates)  # (B, N)
        candidates = tf.cast(top.indices, tf.int32)
        ranks = tf.tile(tf.range(1, num_candidates + 1, dtype=tf.float32)[None], [batch_size, 1])
        inputs = {"history": ranker_input, "candidates": candidates, "candidate_ranks": ranks}
        ranked, attention = ranker.score_with_attention(inputs, training=False)  # (B,N), (B,N,T)
        ranked = tf.where(tf.math.is_finite(top.values), tf.cast(ranked, tf.float32), -np.inf)
        row_k = tf.minimum(k, num_candidates)
        best = tf.math.top_k(ranked, k=tf.maximum(tf.reduce_max(row_k), 1))  # (B, K)
        wanted = tf.logical_and(
            tf.range(tf.shape(best.indices)[1])[None, :] < row_k[:, None],
            tf.math.is_finite(best.values),
        )
        chosen = tf.gather(candidates, best.indices, batch_dims=1)  # (B, K)
        chosen_attention = tf.gather(tf.cast(attention, tf.float32), best.indices, batch_dims=1)
        columns = tf.clip_by_value(position, 0, max_length - 1)  # (B, W)
        per_column = tf.gather(
            chosen_attention,
            tf.tile(columns[:, None, :], [1, tf.shape(chosen)[1], 1]),
            batch_dims=2,
        )  # (B, K, W)
        per_column = tf.where(used[:, None, :], per_column, 0.0)
        item_ids = module.item_of_index.lookup(tf.cast(chosen, tf.int64))
        return {
            "item_ids": tf.where(wanted, item_ids, ""),
            "scores": tf.where(wanted, best.values, 0.0),
            "attention": tf.where(wanted[:, :, None], per_column, 0.0),
        }

    module.serving_default = tf.function(
        recommend,
        input_signature=[
            tf.TensorSpec([None, None], tf.string, name="history"),
            tf.TensorSpec([None], tf.int32, name="k"),
        ],
    )
    return module


def export_two_stage_savedmodel(
    system: Any, export_dir: str | Path, model_name: str, metadata: dict | None = None
) -> Path:
    """Write the two-stage SavedModel (TensorFlow backend) through `export_savedmodel`.

    Args:
        system: a `TwoStageRecommender` (`ranker_inference.load_two_stage`).
        export_dir: the folder to create (must not exist).
        model_name: the servable name written into the warm-up requests.
        metadata: extra JSON for `assets.extra/seqlens_export.json`.
    """
    vocabulary = [*SPECIAL_ITEM_NAMES, *system.table.item_ids]
    popular = system.retriever.item_ids[:50]
    warmup = [
        {"history": np.array([popular]), "k": np.array([10], dtype="int32")},
        {"history": np.array([popular[:3], ["", "", ""]]), "k": np.array([10, 10], "int32")},
    ]
    return export_savedmodel(
        export_dir,
        model_name,
        kind="recommender",
        build_module=lambda paths: build_two_stage_module(system, paths[VOCABULARY_ASSET_NAME]),
        signature_names=[SIGNATURE_NAME],
        assets={VOCABULARY_ASSET_NAME: vocabulary},
        warmup_inputs=warmup,
        metadata={
            "stages": ["retriever", "ranker"],
            "max_length": int(system.max_length),
            "num_candidates": int(system.num_candidates),
            "vocabulary_size": len(vocabulary),
            **(metadata or {}),
        },
    )
