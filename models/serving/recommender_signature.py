# Over 300 lines on purpose: the serving spec and the graph that enforces it are one idea.
"""The recommender as a TF Serving SavedModel: item-id strings in, top-k item ids + attention out.

`export_recommender_savedmodel` wraps a Keras recommender that has
`encode_last(item_indices (B, T)) -> (last (B, D), attention (B, heads, T))` and
`score_items(last) -> scores (B, V)` in a `tf.Module`
whose signatures speak the application's language:

- inputs: `history`, `tf.string` `(B, W)`: each user's history, oldest first, **padded with
  empty strings** to a common width `W` (any position: `""` entries are dropped; TF Serving's
  REST `instances` format needs rectangular rows, so a ragged input would not be usable there);
  `k`, `tf.int32` `(B,)`: how many items each user wants (one value per row so that it works
  with the row format `instances`, where every input shares the batch dimension, and with the
  columnar format `inputs`, where it is a list of `B` numbers).
- outputs: `item_ids`, `tf.string` `(B, K)` with `K = max(k)` over the batch; `scores`,
  `float32` `(B, K)`; `attention`, `float32` `(B, W)`: the last position's attention over the
  history, averaged over heads, aligned with the *input* columns (0 for padding and for items
  dropped by truncation). A row that asked for fewer than `K` items, or for more items than
  are left after excluding its history, gets `""` ids and score 0 in the extra columns.
- `serving_default` excludes the items already in the history; `include_history` does not.
- a model trained with `time_intervals` (time-aware attention) takes one more input,
  `timestamps`, `tf.int64` `(B, W)`: the Unix seconds of each `history` entry (any value under
  `""` padding); its shape must equal `history`'s (`InvalidArgumentError` naming `timestamps`
  otherwise). Other models' signatures are unchanged (no `timestamps` input).

Rules, all in-graph: unknown ids map to the OOV index (never an error); a history longer than
`max_length` keeps its most recent `max_length` items; an empty history returns the most popular
items (scores = the popularity scores); `k` larger than the catalogue is clamped; `k <= 0` or a
`k` whose length differs from the batch fails with `InvalidArgumentError` naming `k` (a 400 in
TF Serving, not a crash). The item vocabulary is an asset (`assets/item_vocab.txt`) read by two
`tf.lookup.StaticHashTable`s, so clients never see internal indices.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from models.serving.savedmodel import export_savedmodel, xla_compiled

VOCABULARY_ASSET_NAME = "item_vocab.txt"
SIGNATURE_EXCLUDING_HISTORY = "serving_default"
SIGNATURE_INCLUDING_HISTORY = "include_history"


@dataclass(frozen=True)
class RecommenderServingSpec:
    """What the serving graph must know about a recommender's index conventions.

    Args:
        item_vocabulary: index -> item id for every score column `V`, special entries included
            (their names only need to be unique and non-empty).
        max_length: the model's sequence length `T`.
        padding_index: index fed for empty positions.
        oov_index: index fed for unknown item ids.
        non_item_indices: indices that are never recommended (padding, OOV, mask, ...).
        padding_side: `"left"` (most recent item at position `T - 1`) or `"right"`.
        popularity: `(V,)` scores used for an empty history; `None` ranks items by vocabulary
            order (the pipeline's vocabulary is sorted by count, most frequent first).
    """

    item_vocabulary: tuple[str, ...]
    max_length: int
    padding_index: int = 0
    oov_index: int = 1
    non_item_indices: tuple[int, ...] = (0, 1)
    padding_side: str = "left"
    popularity: tuple[float, ...] | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        vocabulary = tuple(self.item_vocabulary)
        object.__setattr__(self, "item_vocabulary", vocabulary)
        size = len(vocabulary)
        if self.max_length < 1:
            raise ValueError(f"Expected max_length >= 1. Received: max_length={self.max_length}")
        if self.padding_side not in ("left", "right"):
            raise ValueError(
                "Expected padding_side to be 'left' or 'right'. "
                f"Received: padding_side={self.padding_side!r}"
            )
        for name in ("padding_index", "oov_index"):
            if not 0 <= getattr(self, name) < size:
                raise ValueError(
                    f"Expected {name} in [0, {size}). Received: {name}={getattr(self, name)}"
                )
        if any(not item or "\n" in item or "\r" in item for item in vocabulary):
            bad = next(item for item in vocabulary if not item or "\n" in item or "\r" in item)
            raise ValueError(
                "Expected non-empty item ids without line breaks. "
                f"Received: item_vocabulary entry {bad!r}"
            )
        if len(set(vocabulary)) != size:
            raise ValueError(
                "Expected unique item ids. "
                f"Received: item_vocabulary with {size - len(set(vocabulary))} duplicates"
            )
        if self.popularity is not None and len(self.popularity) != size:
            raise ValueError(
                f"Expected popularity of length {size}. "
                f"Received: popularity of length {len(self.popularity)}"
            )
        if self.num_items < 1:
            raise ValueError(
                "Expected at least one recommendable item. "
                f"Received: non_item_indices={self.non_item_indices}"
            )

    @property
    def vocabulary_size(self) -> int:
        return len(self.item_vocabulary)

    @property
    def num_items(self) -> int:
        """Recommendable items (the catalogue size)."""
        return self.vocabulary_size - len(set(self.non_item_indices))

    def recommendable_mask(self) -> np.ndarray:
        mask = np.ones(self.vocabulary_size, dtype=bool)
        mask[list(self.non_item_indices)] = False
        return mask

    def popularity_scores(self) -> np.ndarray:
        """`(V,)` float32 scores for an empty history: higher = more popular."""
        if self.popularity is not None:
            return np.asarray(self.popularity, dtype="float32")
        return np.linspace(1.0, 0.0, self.vocabulary_size, dtype="float32")

    def most_popular(self, count: int) -> list[str]:
        scores = np.where(self.recommendable_mask(), self.popularity_scores(), -np.inf)
        order = np.argsort(-scores, kind="stable")[:count]
        return [self.item_vocabulary[index] for index in order]


def build_serving_module(
    model: Any, spec: RecommenderServingSpec, vocabulary_path: str, jit_compile: bool = False
) -> Any:
    """A `tf.Module` tracking `model`, the vocabulary tables and the two signature functions
    (`serving_default`, `include_history`; `export_savedmodel` tracks the variables they read).

    With `jit_compile`, the model's forward pass and the catalogue scoring (`(B, T)` indices ->
    masked `(B, V)` scores and the last position's attention) are one XLA cluster; the string
    lookups, the history exclusion and the top-k stay ordinary TensorFlow ops.
    """
    import tensorflow as tf

    module = tf.Module()
    module.vocabulary = tf.saved_model.Asset(vocabulary_path)
    line = tf.lookup.TextFileIndex
    module.index_of_item = tf.lookup.StaticHashTable(
        tf.lookup.TextFileInitializer(
            module.vocabulary, tf.string, line.WHOLE_LINE, tf.int64, line.LINE_NUMBER
        ),
        default_value=spec.oov_index,
    )
    module.item_of_index = tf.lookup.StaticHashTable(
        tf.lookup.TextFileInitializer(
            module.vocabulary, tf.int64, line.LINE_NUMBER, tf.string, line.WHOLE_LINE
        ),
        default_value="",
    )
    recommendable = tf.constant(spec.recommendable_mask())
    popularity = tf.constant(spec.popularity_scores())
    max_length, num_items = spec.max_length, spec.num_items

    time_aware = bool(getattr(model, "time_intervals", False))

    def score_model_input(model_input, count, model_times=None):
        """`(B, T)` int32 indices, `(B,)` history lengths -> `(B, V)` scores, `(B, T)` attention.

        Scores are the model's, the popularity scores for an empty history, and `-inf` for
        indices that are never recommended. `model_times`: `(B, T)` int32 seconds relative to
        each row's latest event, for a time-aware model.
        """
        if time_aware:
            model_input = {"item_ids": model_input, "timestamps": model_times}
        last, attention = model.encode_last(model_input)  # (B, D), (B, H, T)
        if attention is None:  # a model without attention (e.g. GRU4Rec): zero weights
            attention = tf.zeros(tf.shape(model_input), tf.float32)
        else:
            attention = tf.reduce_mean(tf.cast(attention, tf.float32), axis=1)  # (B, T)
        scores = tf.cast(model.score_items(tf.cast(last, tf.float32)), tf.float32)  # (B, V)
        scores = tf.where(count[:, None] > 0, scores, popularity[None, :])
        return tf.where(recommendable[None, :], scores, -np.inf), attention

    # With jit_compile, one XLA cluster from the model input to the masked catalogue scores: the
    # forward pass, the (1, D) x (D, V) product and the masks over V fuse, instead of three
    # (B, V) passes of separate TensorFlow ops. Its shapes are (B, max_length), so it compiles
    # once per batch size, whatever the request width. The history exclusion and the top-k
    # (whose `k` is a request value) stay ordinary TensorFlow ops.
    score_model_input = xla_compiled(score_model_input, jit_compile)

    def recommend(history, k, exclude_history: bool, timestamps=None):
        # TF Serving feeds a request without checking it against the signature's shapes, and a
        # wrong rank would fail deep in the graph ("slice index 0 ... out of bounds"). EnsureShape
        # checks at run time and names the input: "Shape of tensor history [2] is not compatible
        # with expected shape [?,?]" (an `InvalidArgumentError`, a 400 in TF Serving). An
        # `Assert` on the rank would not do: the rank is folded from the signature at trace time.
        history = tf.ensure_shape(history, [None, None], name="history_must_be_2D_batch_width")
        k = tf.ensure_shape(k, [None], name="k_must_be_1D_int32_one_per_row")
        batch_size = tf.shape(history)[0]
        checks = [
            tf.debugging.assert_positive(k, message="k must be >= 1 for every row"),
            tf.debugging.assert_equal(
                tf.shape(k)[0], batch_size, message="k needs one value per history row (shape [B])"
            ),
        ]
        if timestamps is not None:
            timestamps = tf.ensure_shape(timestamps, [None, None], name="timestamps_must_be_2D")
            checks.append(
                tf.debugging.assert_equal(
                    tf.shape(timestamps),
                    tf.shape(history),
                    message="timestamps needs one value per history entry (the shape of history)",
                )
            )
        with tf.control_dependencies(checks):
            present = tf.not_equal(history, "")  # (B, W)
        indices = module.index_of_item.lookup(history)  # (B, W) int64
        is_item = tf.logical_and(present, tf.gather(recommendable, indices))
        indices = tf.where(is_item, indices, tf.constant(spec.oov_index, tf.int64))
        # Position of each present entry in the model input (the most recent max_length kept).
        count = tf.reduce_sum(tf.cast(present, tf.int32), axis=1)  # (B,)
        kept = tf.minimum(count, max_length)
        compact = tf.cumsum(tf.cast(present, tf.int32), axis=1) - 1 - (count - kept)[:, None]
        used = tf.logical_and(present, compact >= 0)  # (B, W)
        position = (
            compact if spec.padding_side == "right" else compact + (max_length - kept)[:, None]
        )
        used_cells = tf.where(used)  # (N, 2)
        targets = tf.stack(
            [used_cells[:, 0], tf.cast(tf.gather_nd(position, used_cells), tf.int64)], axis=1
        )
        model_input = tf.tensor_scatter_nd_update(
            tf.fill([batch_size, max_length], tf.constant(spec.padding_index, tf.int32)),
            targets,
            tf.cast(tf.gather_nd(indices, used_cells), tf.int32),
        )  # (B, T)
        model_times = None
        if timestamps is not None:  # seconds relative to each row's latest used entry
            oldest = tf.constant(np.iinfo(np.int64).min, tf.int64)
            latest = tf.reduce_max(tf.where(used, timestamps, oldest), axis=1)  # (B,)
            relative = tf.clip_by_value(timestamps - latest[:, None], -(2**31 - 1), 0)
            model_times = tf.tensor_scatter_nd_update(
                tf.zeros([batch_size, max_length], tf.int32),
                targets,
                tf.cast(tf.gather_nd(relative, used_cells), tf.int32),
            )  # (B, T)
        scores, attention = score_model_input(model_input, count, model_times)  # (B,V), (B,T)
        attention = tf.where(
            used,
            tf.gather(attention, tf.clip_by_value(position, 0, max_length - 1), batch_dims=1),
            0.0,
        )  # (B, W)
        if exclude_history:
            seen = tf.where(is_item)
            seen_targets = tf.stack([seen[:, 0], tf.gather_nd(indices, seen)], axis=1)
            scores = tf.tensor_scatter_nd_update(
                scores, seen_targets, tf.fill(tf.shape(seen[:, :1])[:1], -np.inf)
            )
        row_k = tf.minimum(k, num_items)  # (B,)
        top = tf.math.top_k(scores, k=tf.maximum(tf.reduce_max(row_k), 1))
        wanted = tf.logical_and(
            tf.range(tf.shape(top.indices)[1])[None, :] < row_k[:, None],
            tf.math.is_finite(top.values),
        )  # (B, K)
        item_ids = module.item_of_index.lookup(tf.cast(top.indices, tf.int64))
        return {
            "item_ids": tf.where(wanted, item_ids, ""),
            "scores": tf.where(wanted, top.values, 0.0),
            "attention": attention,
        }

    input_signature = [
        tf.TensorSpec([None, None], tf.string, name="history"),
        tf.TensorSpec([None], tf.int32, name="k"),
    ]
    if time_aware:
        input_signature.append(tf.TensorSpec([None, None], tf.int64, name="timestamps"))
        module.serving_default = tf.function(
            lambda history, k, timestamps: recommend(history, k, True, timestamps),
            input_signature=input_signature,
        )
        module.include_history = tf.function(
            lambda history, k, timestamps: recommend(history, k, False, timestamps),
            input_signature=input_signature,
        )
        return module
    module.serving_default = tf.function(
        lambda history, k: recommend(history, k, exclude_history=True),
        input_signature=input_signature,
    )
    module.include_history = tf.function(
        lambda history, k: recommend(history, k, exclude_history=False),
        input_signature=input_signature,
    )
    return module


def warmup_inputs(
    spec: RecommenderServingSpec, request_length: int = 50, timestamps: bool = False
) -> list[dict[str, Any]]:
    """Representative requests for `assets.extra/tf_serving_warmup_requests` (with a
    `timestamps` input, one hour apart, for a time-aware model)."""
    popular = spec.most_popular(min(request_length, spec.num_items))
    padded = popular + [""] * (request_length - len(popular))
    requests = [
        {"history": np.array([padded]), "k": np.array([10], dtype="int32")},
        {"history": np.array([popular[:3], ["", "", ""]]), "k": np.array([10, 10], dtype="int32")},
    ]
    if timestamps:
        for request in requests:
            shape = request["history"].shape
            start = 1_700_000_000
            request["timestamps"] = np.broadcast_to(
                start + 3600 * np.arange(shape[1], dtype="int64"), shape
            ).copy()
    return requests


def export_recommender_savedmodel(
    model: Any,
    spec: RecommenderServingSpec,
    export_dir: str | Path,
    model_name: str,
    metadata: dict[str, Any] | None = None,
    jit_compile: bool = False,
) -> Path:
    """Write the SavedModel (signatures, vocabulary asset, warm-up requests, metadata) through
    the shared skeleton `models.serving.savedmodel.export_savedmodel`.

    Args:
        model: a Keras recommender with `encode_last` and `score_items`, TensorFlow backend.
        spec: the index conventions and vocabulary.
        export_dir: the folder to create (must not exist; normally a temporary publish folder).
        model_name: the servable name written into the warm-up requests.
        metadata: extra JSON written to `assets.extra/seqlens_export.json` (e.g. metrics).
        jit_compile: compile the numeric core with XLA (see `build_serving_module`). TF Serving
            runs such a model only with `--xla_cpu_compilation_enabled=true` (CPU).

    Returns:
        `export_dir` as a `Path`.
    """
    return export_savedmodel(
        export_dir,
        model_name,
        kind="recommender",
        build_module=lambda asset_paths: build_serving_module(
            model, spec, asset_paths[VOCABULARY_ASSET_NAME], jit_compile=jit_compile
        ),
        signature_names=[SIGNATURE_EXCLUDING_HISTORY, SIGNATURE_INCLUDING_HISTORY],
        assets={VOCABULARY_ASSET_NAME: spec.item_vocabulary},
        warmup_inputs=warmup_inputs(spec, timestamps=bool(getattr(model, "time_intervals", False))),
        metadata={
            "max_length": spec.max_length,
            "vocabulary_size": spec.vocabulary_size,
            "num_items": spec.num_items,
            "xla_jit_compile": bool(jit_compile),
            **(metadata or {}),
        },
    )


def pad_histories(histories: Sequence[Sequence[str]]) -> np.ndarray:
    """Client-side helper: `list[list[str]]` -> `(B, W)` array padded with `""` on the right."""
    width = max((len(history) for history in histories), default=0)
    padded = np.full((len(histories), width), "", dtype=object)
    for row, history in enumerate(histories):
        padded[row, : len(history)] = list(history)
    return padded
