"""Fit the wide branch first: a linear SVM on the in-graph TF-IDF features, solved outside Keras.

On the texts measured here a linear SVM (one-vs-rest squared hinge with L2, the objective of
the TF-IDF baseline's LinearSVC) beats a softmax linear model on the same features: on the demo's
chats 0.850 against 0.825 validation accuracy for the best-regularised logistic regression and
0.82 for the wide branch trained jointly by Adam. So the wide branch's weights are fitted first,
to convergence (L-BFGS, full batch), on exactly the features the layer computes
(`tfidf_matrix` mirrors `WideTfidfLogits.call`), then frozen; the joint training learns how far
to trust them (the layer's learned scale) and the deep branch beside them.

The objective, for weights `W (V, C)`, bias `b (C,)`, texts `x_i` with labels `y_i` and sample
weights `s_i` (normalised to mean 1), `t_ic = +1` if `c == y_i` else `-1`:

    sum_c ||W_c||^2 / 2 + regularization * sum_i s_i sum_c max(0, 1 - t_ic (x_i W_c + b_c))^2

`regularization` is LinearSVC's `C` (the baseline's 0.5 by default); the bias is not penalised.
"""

from __future__ import annotations

import logging

import numpy as np

logger = logging.getLogger(__name__)


def tfidf_matrix(
    wide_ids: np.ndarray, wide_counts: np.ndarray, idf: np.ndarray, feature_count: int
):
    """The sparse TF-IDF matrix the wide layer multiplies its weights with.

    Args:
        wide_ids: `(N, T, K)` int feature ids per slot (0 = none).
        wide_counts: `(N, T, K)` term counts of each slot's id in its text.
        idf: `(V - 1,)` inverse document frequencies of ids 1.. (`WideVocabulary.idf`).
        feature_count: `V`, the feature ids including padding.

    Returns:
        A `scipy.sparse.csr_matrix` `(N, V)`: row `i` is text `i`'s sublinear TF-IDF vector, the
        word and the character parts each L2-normalised (column 0, padding, stays 0).
    """
    import scipy.sparse

    ids = np.asarray(wide_ids, dtype=np.int64)
    counts = np.asarray(wide_counts, dtype=np.float64)
    if ids.shape != counts.shape or ids.ndim != 3:
        raise ValueError(
            "Expected wide_ids and wide_counts of the same shape (N, T, K). "
            f"Received: {ids.shape} and {counts.shape}"
        )
    idf = np.concatenate([[0.0], np.asarray(idf, dtype=np.float64)])
    if idf.shape != (feature_count,):
        raise ValueError(
            f"Expected idf of shape ({feature_count - 1},). Received: shape=({len(idf) - 1},)"
        )
    present = (ids > 0) & (counts > 0)
    safe_counts = np.maximum(counts, 1.0)
    per_feature = (1.0 + np.log(safe_counts)) * idf[ids] * present
    squares = per_feature**2 / safe_counts  # each feature's slots sum to its square once
    word_norm = np.sqrt(squares[:, :, :2].sum(axis=(1, 2)))
    char_norm = np.sqrt(squares[:, :, 2:].sum(axis=(1, 2)))
    word_norm[word_norm == 0] = 1.0
    char_norm[char_norm == 0] = 1.0
    values = per_feature / safe_counts
    values[:, :, :2] /= word_norm[:, None, None]
    values[:, :, 2:] /= char_norm[:, None, None]
    rows = np.repeat(np.arange(len(ids)), ids.shape[1] * ids.shape[2])
    kept = values.ravel() != 0  # padding and unknown slots carry nothing
    return scipy.sparse.csr_matrix(
        (values.ravel()[kept], (rows[kept], ids.ravel()[kept])), shape=(len(ids), feature_count)
    )


def fit_linear_svm(
    features,
    label_ids: np.ndarray,
    num_classes: int,
    regularization: float = 0.5,
    sample_weight: np.ndarray | None = None,
    max_iterations: int = 1000,
    initial: tuple[np.ndarray, np.ndarray] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """One-vs-rest squared-hinge linear SVM with L2 (LinearSVC's objective), full-batch L-BFGS.

    Args:
        features: `(N, V)` sparse or dense feature matrix (`tfidf_matrix`).
        label_ids: `(N,)` class indices in `[0, num_classes)`.
        num_classes: `C`.
        regularization: `C` of the objective (larger = weaker L2).
        sample_weight: `(N,)` non-negative weights (default 1).
        max_iterations: L-BFGS iterations at most.
        initial: `(kernel (V, C), bias (C,))` to start from (a fit on a subset of the rows,
            for a refit on all of them); default zeros. The optimum does not depend on it.

    Returns:
        `(kernel (V, C), bias (C,))`, float32: the margins are `features @ kernel + bias`.
    """
    import scipy.optimize

    label_ids = np.asarray(label_ids, dtype=np.int64)
    count, width = features.shape
    if label_ids.shape != (count,):
        raise ValueError(
            f"Expected one label per row ({count}). Received: label_ids shape={label_ids.shape}"
        )
    if count == 0 or label_ids.min() < 0 or label_ids.max() >= num_classes:
        raise ValueError(
            f"Expected labels in [0, {num_classes}) for at least one row. "
            f"Received: {count} rows, labels {sorted(set(label_ids.tolist()))[:10]}"
        )
    if not regularization > 0:
        raise ValueError(
            f"Expected regularization > 0. Received: regularization={regularization!r}"
        )
    weights = np.ones(count) if sample_weight is None else np.asarray(sample_weight, np.float64)
    if weights.shape != (count,) or (weights < 0).any() or not weights.sum() > 0:
        raise ValueError(
            f"Expected {count} non-negative sample weights with a positive sum. "
            f"Received: shape={weights.shape}"
        )
    weights = weights * (count / weights.sum()) * regularization
    signs = np.where(np.arange(num_classes)[None, :] == label_ids[:, None], 1.0, -1.0)
    transposed = features.T.tocsr() if hasattr(features, "tocsr") else np.asarray(features).T

    def objective(flat: np.ndarray) -> tuple[float, np.ndarray]:
        kernel = flat[: width * num_classes].reshape(width, num_classes)
        bias = flat[width * num_classes :]
        margins = np.maximum(0.0, 1.0 - signs * (features @ kernel + bias))  # (N, C)
        loss = 0.5 * float(np.sum(kernel**2)) + float(weights @ np.sum(margins**2, axis=1))
        gradient = -2.0 * signs * margins * weights[:, None]  # d loss / d scores
        kernel_gradient = transposed @ gradient + kernel
        return loss, np.concatenate([np.ravel(kernel_gradient), gradient.sum(axis=0)])

    start = np.zeros(width * num_classes + num_classes)
    if initial is not None:
        kernel, bias = (np.asarray(part, dtype=np.float64) for part in initial)
        if kernel.shape != (width, num_classes) or bias.shape != (num_classes,):
            raise ValueError(
                f"Expected an initial kernel ({width}, {num_classes}) and bias ({num_classes},). "
                f"Received: {kernel.shape} and {bias.shape}"
            )
        start = np.concatenate([kernel.ravel(), bias])
    result = scipy.optimize.minimize(
        objective,
        start,
        jac=True,
        method="L-BFGS-B",
        options={"maxiter": max_iterations},
    )
    logger.info(
        "wide branch: linear SVM fitted in %d L-BFGS iterations (%s)", result.nit, result.message
    )
    kernel = result.x[: width * num_classes].reshape(width, num_classes)
    return kernel.astype(np.float32), result.x[width * num_classes :].astype(np.float32)


def out_of_fold_margins(
    features,
    label_ids: np.ndarray,
    num_classes: int,
    sample_weight: np.ndarray | None = None,
    folds: int = 5,
    seed: int = 42,
    **svm_arguments,
) -> np.ndarray:
    """Each row's margins from an SVM fitted without it (`folds` seeded folds, stratified by
    label): what the fitted weights give on texts they have not seen.

    Args:
        features, label_ids, num_classes, sample_weight, **svm_arguments: as `fit_linear_svm`.
        folds: number of folds (>= 2).
        seed: seed of the fold assignment.

    Returns:
        `(N, C)` float64 margins.
    """
    label_ids = np.asarray(label_ids, dtype=np.int64)
    if not isinstance(folds, int) or folds < 2:
        raise ValueError(f"Expected folds to be an int >= 2. Received: folds={folds!r}")
    weights = np.ones(len(label_ids)) if sample_weight is None else np.asarray(sample_weight)
    rng = np.random.default_rng(seed)
    fold_of = np.empty(len(label_ids), dtype=np.int64)
    for label in np.unique(label_ids):  # deal each class's rows round the folds
        members = rng.permutation(np.flatnonzero(label_ids == label))
        fold_of[members] = (np.arange(len(members)) + rng.integers(folds)) % folds
    margins = np.zeros((len(label_ids), num_classes))
    for fold in range(folds):
        held_out = fold_of == fold
        if not held_out.any() or held_out.all():
            continue
        kernel, bias = fit_linear_svm(
            features[~held_out],
            label_ids[~held_out],
            num_classes,
            sample_weight=weights[~held_out],
            **svm_arguments,
        )
        margins[held_out] = features[held_out] @ kernel + bias
    return margins


def fit_branch_blend(
    wide_logits: np.ndarray, deep_logits: np.ndarray, label_ids: np.ndarray
) -> dict:
    """Weights `(wide_weight, deep_weight)`, both >= 0, of `softmax(a * wide + b * deep)` fitted
    by maximum likelihood (L-BFGS-B from `(1, 1)`; a branch alone where that fits better): the
    stacked blend of two frozen branches.

    Args:
        wide_logits: `(N, C)` the wide branch's margins on held-out texts.
        deep_logits: `(N, C)` the deep branch's logits on the same texts.
        label_ids: `(N,)` their class indices.

    Returns:
        `wide_weight`, `deep_weight`, the examples used, and the mean cross-entropy and accuracy
        on those texts of the wide branch alone (its best scale), the deep branch alone and the
        blend.
    """
    import scipy.optimize

    wide = np.asarray(wide_logits, dtype=np.float64)
    deep = np.asarray(deep_logits, dtype=np.float64)
    label_ids = np.asarray(label_ids, dtype=np.int64)
    if wide.shape != deep.shape or wide.ndim != 2 or label_ids.shape != (len(wide),):
        raise ValueError(
            "Expected wide_logits and deep_logits of one shape (N, C) and label_ids (N,). "
            f"Received: {wide.shape}, {deep.shape}, {label_ids.shape}"
        )
    if len(wide) == 0:
        raise ValueError("Expected at least one held-out text to fit the blend. Received: 0")
    rows = np.arange(len(label_ids))

    def loss(weights: np.ndarray) -> tuple[float, np.ndarray]:
        scores = weights[0] * wide + weights[1] * deep
        scores = scores - scores.max(axis=1, keepdims=True)
        probabilities = np.exp(scores)
        probabilities /= probabilities.sum(axis=1, keepdims=True)
        value = -float(np.mean(np.log(probabilities[rows, label_ids] + 1e-12)))
        residual = probabilities.copy()
        residual[rows, label_ids] -= 1.0  # d loss / d scores, times N
        gradient = np.array([np.sum(residual * wide), np.sum(residual * deep)]) / len(rows)
        return value, gradient

    def fitted(start, bounds) -> np.ndarray:
        return scipy.optimize.minimize(
            loss, np.asarray(start, float), jac=True, method="L-BFGS-B", bounds=bounds
        ).x

    wide_alone = fitted((1.0, 0.0), [(0.0, None), (0.0, 0.0)])
    candidates = [fitted((1.0, 1.0), [(0.0, None), (0.0, None)]), wide_alone, np.array([0, 1.0])]
    blend = min(candidates, key=lambda weights: loss(weights)[0])  # never worse than either

    def summary(weights) -> dict:
        scores = weights[0] * wide + weights[1] * deep
        return {
            "loss": round(loss(np.asarray(weights, float))[0], 6),
            "accuracy": round(float(np.mean(scores.argmax(axis=1) == label_ids)), 6),
        }

    return {
        "wide_weight": float(blend[0]),
        "deep_weight": float(blend[1]),
        "examples": int(len(label_ids)),
        "wide_alone": summary(wide_alone),
        "deep_alone": summary((0.0, 1.0)),
        "blend": summary(blend),
    }
