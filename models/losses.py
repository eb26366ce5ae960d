"""Next-item losses on hidden states and a tied item-embedding table (`keras.ops` only).

All take `hidden (B, T, D)` (the sequence encoder's output), `embeddings (V, D)` (the item
table, also the output layer) and `targets (B, T)` where 0 marks "no loss at this position";
each returns the mean loss over the positions with a target.

- `full_softmax_loss`: cross-entropy over the whole catalogue (the default; the strongest under
  full ranking, at `O(B T V D)`).
- `sampled_softmax_loss`: cross-entropy over the target and `K` shared sampled negatives, with
  the log-Q correction (subtract the log expected count of each item in the sample) and accidental
  hits removed: for catalogues too large for a full softmax.
- `binary_cross_entropy_loss`: SASRec's original loss, one positive and one negative per
  position; kept for the ablation.
"""

from __future__ import annotations

from keras import ops

NEGATIVE_INFINITY = -1e9


def _masked_mean(values, targets):
    weights = ops.cast(ops.not_equal(targets, 0), "float32")  # (B, T)
    return ops.sum(ops.cast(values, "float32") * weights) / ops.maximum(ops.sum(weights), 1.0)


def full_softmax_loss(hidden, embeddings, targets):
    """Mean cross-entropy of `targets (B, T)` against logits over all `V` items.

    The positions are flattened to one `(B * T, D) x (D, V)` matrix product: XLA then emits a
    plain GEMM whatever the batch shape, where the `(B, T, V)` einsum's gradient cost twice as
    much for wide, short batches (100 x 8 against 16 x 50, measured on CPU).
    """
    dimension = ops.shape(hidden)[-1]
    flat_hidden = ops.reshape(hidden, (-1, dimension))  # (B*T, D)
    flat_targets = ops.reshape(targets, (-1,))  # (B*T,)
    logits = ops.matmul(flat_hidden, ops.transpose(ops.cast(embeddings, hidden.dtype)))
    # Padding and OOV can never be a next item: keep them out of the normaliser.
    special = ops.arange(ops.shape(embeddings)[0]) < 2
    logits = ops.cast(logits, "float32") + ops.where(special, NEGATIVE_INFINITY, 0.0)[None, :]  # (B*T, V)
    losses = ops.sparse_categorical_crossentropy(flat_targets, logits, from_logits=True)  # (B*T,)
    return _masked_mean(losses, flat_targets)


def sampled_softmax_loss(hidden, embeddings, targets, negatives, target_log_q, negative_log_q):
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
    positive = positive - ops.cast(target_log_q, "float32")
    negative = negative - ops.cast(negative_log_q, "float32")[None, None, :]
    hits = ops.equal(ops.expand_dims(targets, -1), negatives[None, None, :])  # (B, T, K)
    negative = ops.where(hits, NEGATIVE_INFINITY, negative)
    logits = ops.concatenate([ops.expand_dims(positive, -1), negative], axis=-1)  # (B, T, 1+K)
    losses = ops.logsumexp(logits, axis=-1) - positive
    return _masked_mean(losses, targets)


def binary_cross_entropy_loss(hidden, embeddings, targets, negatives):
    """SASRec's loss: `-log s(h.e_pos) - log(1 - s(h.e_neg))`, `negatives (B, T)`."""
    embeddings = ops.cast(embeddings, hidden.dtype)
    positive = ops.sum(hidden * ops.take(embeddings, targets, axis=0), axis=-1)
    negative = ops.sum(hidden * ops.take(embeddings, negatives, axis=0), axis=-1)
    positive, negative = ops.cast(positive, "float32"), ops.cast(negative, "float32")
    losses = ops.softplus(-positive) + ops.softplus(negative)  # (B, T)
    return _masked_mean(losses, targets)
