"""Next-item losses on hidden states and a tied item-embedding table (`keras.ops` only).

All take `hidden (B, T, D)` (the sequence encoder's output), `embeddings (V, D)` (the item
table, also the output layer), `targets (B, T)` where 0 marks "no loss at this position" and an
optional `bias (V,)` added to every item's logit; each returns the mean loss over the positions
with a target.

- `full_softmax_loss`: cross-entropy over the whole catalogue (the default; the strongest under
  full ranking, at `O(B T V D)`), optionally label-smoothed.
- `sampled_softmax_loss`: cross-entropy over the target and `K` shared sampled negatives, with
  the log-Q correction (subtract the log expected count of each item in the sample) and accidental
  hits removed: for catalogues too large for a full softmax. The negatives may hold the batch's
  own targets after the drawn ones (mixed negative sampling, `NextItemBatches(
  in_batch_negatives=True)`), their log-Q that of the mixed sample.
- `binary_cross_entropy_loss`: SASRec's original loss, one positive and one negative per
  position; kept for the ablation.
- `uniform_pairwise_loss`: a BPR term, the target against one uniformly sampled item per
  position; added to the full softmax with a small weight (`pairwise_weight`) it orders the
  long tail, where the softmax's gradient (proportional to each item's probability) hardly
  reaches.
"""

from __future__ import annotations

from keras import ops

NEGATIVE_INFINITY = -1e9


def _item_bias(bias, indices):
    """`bias (V,)` of `indices` (any shape) as float32, or 0 without a bias."""
    return 0.0 if bias is None else ops.take(ops.cast(bias, "float32"), indices, axis=0)


def _masked_mean(values, targets):
    weights = ops.cast(ops.not_equal(targets, 0), "float32")  # (B, T)
    return ops.sum(ops.cast(values, "float32") * weights) / ops.maximum(ops.sum(weights), 1.0)


def full_softmax_loss(hidden, embeddings, targets, inputs=None, bias=None, label_smoothing=0.0):
    """Mean cross-entropy of `targets (B, T)` against logits over all `V` items.

    The positions are flattened to one `(B * T, D) x (D, V)` matrix product: XLA then emits a
    plain GEMM whatever the batch shape, where the `(B, T, V)` einsum's gradient cost twice as
    much for wide, short batches (100 x 8 against 16 x 50, measured on CPU).

    Args:
        inputs: optional `(B, T)` item indices the hidden states were computed from. When given,
            the items of each position's history (`inputs[:, :t + 1]`) leave its normaliser, as
            they leave the ranking at evaluation and in serving; a target that repeats a history
            item stays.
        label_smoothing: `e` in [0, 1): the cross-entropy against `(1 - e) * one_hot(target) +
            e * uniform`, the uniform part spread over the items in the normaliser. The plain
            softmax only ever pushes an item that is never a target down (its gradient is its
            probability); the uniform part pulls it back once its probability falls below
            `e / N` (`N`: the items in the normaliser, about `V`), so it settles there, still
            below every item that is ever a target.
    """
    dimension = ops.shape(hidden)[-1]
    flat_hidden = ops.reshape(hidden, (-1, dimension))  # (B*T, D)
    flat_targets = ops.reshape(targets, (-1,))  # (B*T,)
    logits = ops.matmul(flat_hidden, ops.transpose(ops.cast(embeddings, hidden.dtype)))
    # Padding and OOV can never be a next item: keep them out of the normaliser.
    items = ops.arange(ops.shape(embeddings)[0])
    logits = (
        ops.cast(logits, "float32") + ops.where(items < 2, NEGATIVE_INFINITY, 0.0)[None, :]
    )  # (B*T, V)
    if bias is not None:
        logits = logits + ops.cast(bias, "float32")[None, :]
    if inputs is not None:
        seen = history_indicator(inputs, ops.shape(embeddings)[0])  # (B*T, V)
        seen = ops.logical_and(seen, ops.not_equal(items[None, :], flat_targets[:, None]))
        logits = ops.where(seen, NEGATIVE_INFINITY, logits)
    if not label_smoothing:
        losses = ops.sparse_categorical_crossentropy(
            flat_targets, logits, from_logits=True
        )  # (B*T,)
        return _masked_mean(losses, flat_targets)
    # -log p(target) = lse - logit[target]; the mean over candidates of -log p = lse - mean(logits).
    candidates = logits > NEGATIVE_INFINITY / 2  # (B*T, V): the items in each normaliser
    log_normaliser = ops.logsumexp(logits, axis=-1)  # (B*T,)
    target_logits = ops.take_along_axis(logits, ops.cast(flat_targets, "int32")[:, None], axis=-1)[
        :, 0
    ]
    candidate_means = ops.sum(ops.where(candidates, logits, 0.0), axis=-1) / ops.maximum(
        ops.sum(ops.cast(candidates, "float32"), axis=-1), 1.0
    )  # (B*T,)
    losses = (
        log_normaliser - (1.0 - label_smoothing) * target_logits - label_smoothing * candidate_means
    )
    return _masked_mean(losses, flat_targets)


def history_indicator(inputs, vocabulary_size):
    """`(B, T)` item indices -> `(B * T, V)` booleans: item `v` occurs in `inputs[b, :t + 1]`.

    The padding index 0 is never marked.

    Built by one scatter of the `B * T * T` (position, history item) pairs, not a cumulative sum
    over a `(B, T, V)` one-hot.
    """
    batch, length = ops.shape(inputs)[0], ops.shape(inputs)[1]
    inputs = ops.cast(inputs, "int32")
    earlier = ops.arange(length)[None, :] <= ops.arange(length)[:, None]  # (T, T): s <= t
    history = ops.where(
        earlier[None, :, :], inputs[:, None, :], 0
    )  # (B, T, T): inputs[b, s] if s <= t
    rows = ops.broadcast_to(
        ops.arange(batch * length, dtype="int32")[:, None], (batch * length, length)
    )
    indices = ops.stack(
        [ops.reshape(rows, (-1,)), ops.reshape(history, (-1,))], axis=1
    )  # (B*T*T, 2)
    counts = ops.scatter(
        indices, ops.ones((batch * length * length,), "float32"), (batch * length, vocabulary_size)
    )
    return ops.logical_and(counts > 0, ops.arange(vocabulary_size)[None, :] > 0)


def sampled_softmax_loss(
    hidden, embeddings, targets, negatives, target_log_q, negative_log_q, bias=None
):
    """Sampled softmax with log-Q correction.

    Args:
        negatives: `(K,)` sampled item indices shared by the batch.
        target_log_q: `(B, T)` log expected count of each target in the sample.
        negative_log_q: `(K,)` the same for each negative.
    """
    embeddings = ops.cast(embeddings, hidden.dtype)
    target_embeddings = ops.take(embeddings, targets, axis=0)  # (B, T, D)
    positive = ops.cast(ops.sum(hidden * target_embeddings, axis=-1), "float32")  # (B, T)
    negative_embeddings = ops.take(embeddings, negatives, axis=0)  # (K, D)
    negative = ops.cast(ops.einsum("btd,kd->btk", hidden, negative_embeddings), "float32")
    positive = positive + _item_bias(bias, targets) - ops.cast(target_log_q, "float32")
    negative = (
        negative + _item_bias(bias, negatives) - ops.cast(negative_log_q, "float32")
    )  # (B, T, K)
    hits = ops.equal(ops.expand_dims(targets, -1), negatives[None, None, :])  # (B, T, K)
    negative = ops.where(hits, NEGATIVE_INFINITY, negative)
    logits = ops.concatenate([ops.expand_dims(positive, -1), negative], axis=-1)  # (B, T, 1+K)
    losses = ops.logsumexp(logits, axis=-1) - positive
    return _masked_mean(losses, targets)


def _target_and_negative_scores(hidden, embeddings, targets, negatives, bias):
    """Float32 scores `(B, T)` of each position's target and of its negative `negatives (B, T)`."""
    embeddings = ops.cast(embeddings, hidden.dtype)
    positive = ops.sum(hidden * ops.take(embeddings, targets, axis=0), axis=-1)
    negative = ops.sum(hidden * ops.take(embeddings, negatives, axis=0), axis=-1)
    positive = ops.cast(positive, "float32") + _item_bias(bias, targets)
    negative = ops.cast(negative, "float32") + _item_bias(bias, negatives)
    return positive, negative


def binary_cross_entropy_loss(hidden, embeddings, targets, negatives, bias=None):
    """SASRec's loss: `-log s(h.e_pos) - log(1 - s(h.e_neg))`, `negatives (B, T)`."""
    positive, negative = _target_and_negative_scores(hidden, embeddings, targets, negatives, bias)
    losses = ops.softplus(-positive) + ops.softplus(negative)  # (B, T)
    return _masked_mean(losses, targets)


def uniform_pairwise_loss(hidden, embeddings, targets, negatives, bias=None):
    """Mean `softplus(s_neg - s_target)` (BPR) with `negatives (B, T)` drawn uniformly.

    A negative that equals its target contributes nothing (it is not a negative).
    """
    positive, negative = _target_and_negative_scores(hidden, embeddings, targets, negatives, bias)
    losses = ops.where(
        ops.equal(targets, negatives), 0.0, ops.softplus(negative - positive)
    )  # (B, T)
    return _masked_mean(losses, targets)
