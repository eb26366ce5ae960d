"""Train a text model (sentiment or intent) from raw texts and write its model folder.

Over 300 lines on purpose: the seven steps of one training run, listed below, read top to bottom.

Training input needs no TensorFlow: texts are tokenised with the shared Python tokeniser and
mapped to integer arrays, so this runs on any Keras backend. What `train_text_model` does:

1. label set: sentiment is always `negative, neutral, positive`; intent is the sorted labels;
2. a stratified validation split (`validation_fraction`, seeded) unless one is given;
3. vocabularies from the training texts: tokens + character n-grams (deep branch), word 1-2-grams
   + character n-grams with their IDF weights (wide branch, `models.text.wide_features`);
4. optional masked-token pretraining of the deep branch's encoder;
5. the wide-and-deep model (`models.text.classifier`). By default (`wide_fit="stacked"`) the
   wide branch is a linear SVM fitted first and frozen, the deep branch is trained alone, and
   `softmax(a * wide + b * deep)` is weighted on the validation texts (`joint`: both branches
   trained together end to end). AdamW, linear warm-up + cosine decay, label smoothing,
   balanced class weights, dropout; the weights of the best validation epoch are kept;
6. out of scope: the class means and tied covariance of the training texts' pooled embeddings
   (Mahalanobis score, `models.text.out_of_scope`) go into the model; each score's threshold keeps
   `oos_keep_rate` of in-scope validation texts; `oos_score` picks the one that decides;
7. stacked: the SVM refitted on training + validation texts; then the model folder:
   `model.keras`, `config.json`, `labels.json`, `tokens.txt`, `ngrams.txt`,
   `wide_features.txt`, `wide_idf.npy`, `history.json`, `metrics.json`, `data_run.json`.

Validation metrics (before the refit) are reported for the served model and, from the same model,
for each branch's logits alone (`wide_branch`, `deep_branch`: what each branch contributes, not
a separately trained model; the ablation in bench/text_models.py trains those).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path

import numpy as np

from models.text.datasets import SENTIMENT_LABELS
from models.text.evaluation import classification_metrics, json_safe
from models.text.out_of_scope import OOS_SCORES, calibrate_score_threshold
from models.text.training_config import TextTrainingConfig
from models.text.vocabulary import TextVocabulary
from models.text.wide_features import WideVocabulary, encode_texts, model_inputs
from pipeline.text_normalization import tokenize

logger = logging.getLogger(__name__)


def _stratified_split(label_ids: np.ndarray, fraction: float, seed: int) -> np.ndarray:
    """Boolean validation mask with about `fraction` of each class (at least one if >= 2)."""
    rng = np.random.default_rng(seed)
    validation = np.zeros(len(label_ids), dtype=bool)
    for label in np.unique(label_ids):
        members = rng.permutation(np.flatnonzero(label_ids == label))
        take = int(round(len(members) * fraction)) if len(members) >= 2 else 0
        validation[members[: max(take, 1 if len(members) >= 2 else 0)]] = True
    return validation


def validation_split(
    labels: Sequence[str], config: TextTrainingConfig
) -> tuple[list[str], np.ndarray]:
    """The label names and the validation mask `train_text_model` uses when none is given.

    Args:
        labels: the training texts' string labels, shape (N,).
        config: the training configuration (`task`, `validation_fraction`, `seed`).

    Returns:
        The label names in the model's class order and a boolean mask, shape (N,), True for
        the texts held out for validation (stratified, seeded). Baselines that must be scored
        on the model's own validation texts (bench/demo.py) split with this.
    """
    labels = [str(label) for label in labels]
    label_names = _label_set(config.task, labels)
    index_of = {label: index for index, label in enumerate(label_names)}
    label_ids = np.array([index_of[label] for label in labels])
    return label_names, _stratified_split(label_ids, config.validation_fraction, config.seed)


def _label_set(task: str, labels: Sequence[str]) -> list[str]:
    if task == "sentiment":
        unknown = sorted(set(labels) - set(SENTIMENT_LABELS))
        if unknown:
            raise ValueError(
                f"Expected sentiment labels in {SENTIMENT_LABELS}. Received: labels={unknown[:5]}"
            )
        return list(SENTIMENT_LABELS)
    return sorted(set(labels))


def _fit_wide_first(model, config, wide_vocabulary, train_features, targets, svm_weight):
    """Fit the wide weights as a linear SVM on the training texts (`models.text.wide_fit`) and
    freeze them. `svm_weight (N,)`: 1 a text, `auxiliary_weight` an auxiliary one; no class
    weights (as the TF-IDF baseline).

    Returns:
        `svm_first`: `(N, C)` margin offsets of the training texts, their out-of-fold margins
        (5 folds) minus the fitted weights' in-sample ones, the training view's
        `wide_margin_offset`. `stacked`: None (the deep branch trains alone).
    """
    from models.text.wide_fit import fit_linear_svm, out_of_fold_margins

    started = time.perf_counter()
    features = _wide_tfidf(train_features, wide_vocabulary)
    label_ids = np.asarray(targets).argmax(axis=1)
    arguments = {"regularization": config.wide_regularization}
    kernel, bias = fit_linear_svm(
        features, label_ids, targets.shape[1], sample_weight=svm_weight, **arguments
    )
    model.get_layer("wide").set_fitted(kernel, bias)
    if config.wide_fit == "stacked":
        logger.info("wide branch fitted first in %.1f s", time.perf_counter() - started)
        return None
    held_out = out_of_fold_margins(
        features, label_ids, targets.shape[1], svm_weight, seed=config.seed, **arguments
    )
    logger.info("wide branch fitted first in %.1f s", time.perf_counter() - started)
    return (held_out - (features @ kernel + bias)).astype("float32")


def _wide_tfidf(features: dict, wide_vocabulary: WideVocabulary):
    """The sparse `(N, V)` TF-IDF matrix the wide layer computes for encoded texts."""
    from models.text.wide_fit import tfidf_matrix

    return tfidf_matrix(
        features["wide_ids"], features["wide_counts"], wide_vocabulary.idf, wide_vocabulary.size
    )


def _wide_logits(model, outputs: dict) -> np.ndarray:
    """`(N, C)` the wide branch's logits in `outputs` of `model.predict`: the tokens'
    contributions plus the (scaled) bias."""
    wide_layer = model.get_layer("wide")
    scale = 1.0 if wide_layer.logit_scale is None else float(np.asarray(wide_layer.logit_scale))
    bias = np.asarray(wide_layer.bias) * wide_layer.scale * scale
    return np.asarray(outputs["wide_contributions"]).sum(axis=1) + bias


def _set_stacked_blend(model, validation_features: dict, validation_ids: np.ndarray) -> dict:
    """Weigh the frozen SVM margins and the deep logits by `fit_branch_blend` on the validation
    texts: the wide layer's learned scale and the deep logits' kernel and bias are multiplied,
    so the served graph computes `softmax(a * wide + b * deep)`.

    Returns:
        The fit (`fit_branch_blend`'s dict), for `metrics.json`.
    """
    from models.text.wide_fit import fit_branch_blend

    outputs = model.predict(model_inputs(model, validation_features), batch_size=256, verbose=0)
    wide_logits = _wide_logits(model, outputs)
    deep_logits = np.asarray(outputs["logits"]) - wide_logits
    blend = fit_branch_blend(wide_logits, deep_logits, validation_ids)
    scale = model.get_layer("wide").logit_scale
    scale.assign(np.asarray(scale) * blend["wide_weight"])
    dense = model.get_layer("deep_logits")
    dense.kernel.assign(np.asarray(dense.kernel) * blend["deep_weight"])
    dense.bias.assign(np.asarray(dense.bias) * blend["deep_weight"])
    logger.info("stacked blend of the branches: %s", json.dumps(blend))
    return blend


def _refit_wide_on_all(model, config, wide_vocabulary, parts) -> int:
    """Refit the frozen wide SVM on every labelled text (`parts`: `(features, label_ids,
    svm_weight)` of the training and the validation texts) once the blend weights and the OOS
    thresholds are chosen on validation; the TF-IDF baseline trains on all of them too.

    Returns:
        The number of texts the SVM was refitted on.
    """
    import scipy.sparse

    from models.text.wide_fit import fit_linear_svm

    started = time.perf_counter()
    wide_layer = model.get_layer("wide")
    matrices = [_wide_tfidf(features, wide_vocabulary) for features, _, _ in parts]
    label_ids = np.concatenate([ids for _, ids, _ in parts])
    kernel, bias = fit_linear_svm(
        scipy.sparse.vstack(matrices).tocsr(),
        label_ids,
        wide_layer.num_classes,
        regularization=config.wide_regularization,
        sample_weight=np.concatenate([weights for _, _, weights in parts]),
        initial=(
            np.asarray(wide_layer.kernel) * wide_layer.scale,
            np.asarray(wide_layer.bias) * wide_layer.scale,
        ),
    )
    wide_layer.set_fitted(kernel, bias)
    logger.info(
        "wide SVM refitted on %d texts in %.1f s", len(label_ids), time.perf_counter() - started
    )
    return int(len(label_ids))


STACKED_MONITOR = "val_accuracy"  # the deep branch's (the stacked fit's only training output)


def _fit_model(
    config,
    classifier_config,
    wide_vocabulary,
    train_features,
    train_targets,
    sample_weight,
    validation_features,
    validation_ids,
    pretraining_features=None,
    svm_weight=None,
):
    import keras

    from models.text.classifier import (
        MARGIN_OFFSET_INPUT,
        branch_training_model,
        build_text_classifier,
        deep_training_model,
        probabilities_model,
    )

    keras.utils.set_random_seed(config.seed)
    model = build_text_classifier(classifier_config)
    if wide_vocabulary is not None:
        model.get_layer("wide").set_idf(wide_vocabulary.idf)
        offsets = None
        if config.wide_fit in ("svm_first", "stacked"):
            offsets = _fit_wide_first(
                model, config, wide_vocabulary, train_features, train_targets, svm_weight
            )
        if offsets is not None:
            train_features = {**train_features, MARGIN_OFFSET_INPUT: offsets}
            validation_features = {
                **validation_features,
                MARGIN_OFFSET_INPUT: np.zeros((len(validation_ids), offsets.shape[1]), "float32"),
            }
    pretraining_history = {}
    if pretraining_features is not None and classifier_config.deep:
        from models.text.pretraining import pretrain_masked_tokens

        def report(epoch, logs):
            logger.info(
                "masked-token pretraining epoch %d/%d: %s",
                epoch + 1,
                config.pretraining_epochs,
                json.dumps({key: round(value, 4) for key, value in logs.items()}),
            )

        _, pretraining_history = pretrain_masked_tokens(
            model,
            pretraining_features,
            config.pretraining_epochs,
            batch_size=config.batch_size,
            learning_rate=config.learning_rate,
            mask_rate=config.pretraining_mask_rate,
            seed=config.seed,
            on_epoch_end=report,
        )
    joint = classifier_config.deep and classifier_config.wide_feature_count > 0
    stacked = joint and config.wide_fit == "stacked"
    branch_weight = config.branch_loss_weight if joint else 0.0
    offset = MARGIN_OFFSET_INPUT in train_features
    if stacked:  # the deep branch learns alone beside the frozen SVM; the blend comes after
        trainer = deep_training_model(model)
    elif branch_weight:
        trainer = branch_training_model(model, margin_offset=offset)
    else:
        trainer = probabilities_model(model, margin_offset=offset)
    steps_per_epoch = int(np.ceil(len(train_targets) / config.batch_size))
    total_steps = steps_per_epoch * config.epochs
    warmup_steps = max(1, int(total_steps * config.warmup_fraction))
    schedule = keras.optimizers.schedules.CosineDecay(
        initial_learning_rate=config.learning_rate * 0.05,
        decay_steps=max(1, total_steps - warmup_steps),
        warmup_target=config.learning_rate,
        warmup_steps=warmup_steps,
        alpha=0.02,
    )
    loss = keras.losses.CategoricalCrossentropy(label_smoothing=config.label_smoothing)
    validation_targets = np.eye(classifier_config.num_classes, dtype="float32")[validation_ids]
    monitor = "val_accuracy"
    if stacked:
        train_targets = {"deep_probabilities": train_targets}
        validation_targets = {"deep_probabilities": validation_targets}
        compile_arguments = {
            "loss": {"deep_probabilities": loss},
            "metrics": {"deep_probabilities": ["accuracy"]},
        }
        monitor = STACKED_MONITOR
    elif branch_weight:
        names = ("probabilities", "deep_probabilities", "wide_probabilities")
        train_targets = dict.fromkeys(names, train_targets)
        validation_targets = dict.fromkeys(names, validation_targets)
        compile_arguments = {
            "loss": dict.fromkeys(names, loss),
            "loss_weights": {"probabilities": 1.0} | dict.fromkeys(names[1:], branch_weight),
            "metrics": {"probabilities": ["accuracy"]},
        }
        monitor = "val_probabilities_accuracy"
    else:
        compile_arguments = {"loss": loss, "metrics": ["accuracy"]}
    trainer.compile(
        optimizer=keras.optimizers.AdamW(
            learning_rate=schedule, weight_decay=config.weight_decay, clipnorm=1.0
        ),
        **compile_arguments,
    )
    best = keras.callbacks.EarlyStopping(
        monitor=monitor, mode="max", patience=config.epochs, restore_best_weights=True
    )
    history = trainer.fit(
        model_inputs(trainer, train_features),
        train_targets,
        sample_weight=sample_weight,
        validation_data=(model_inputs(trainer, validation_features), validation_targets),
        epochs=config.epochs,
        batch_size=config.batch_size,
        shuffle=True,
        verbose=0,
        callbacks=[best],
    )
    if monitor not in history.history:  # EarlyStopping would only warn and keep the last epoch
        raise RuntimeError(
            f"Expected the training to report {monitor!r}. Received: {sorted(history.history)}"
        )
    if best.best_weights is not None:  # keep the best validation epoch
        trainer.set_weights(best.best_weights)
    blend = _set_stacked_blend(model, validation_features, validation_ids) if stacked else None
    return (
        model,
        {
            **pretraining_history,
            **{key: [float(v) for v in values] for key, values in history.history.items()},
        },
        blend,
    )


def train_text_model(
    texts: Sequence[str],
    labels: Sequence[str],
    config: TextTrainingConfig,
    output_dir: str | Path,
    validation: tuple[Sequence[str], Sequence[str]] | None = None,
    auxiliary: tuple[Sequence[str], Sequence[str]] | None = None,
    data_run: dict | None = None,
    unlabelled: Sequence[str] | None = None,
) -> dict:
    """Train a text model and write its folder; return the validation metrics.

    Args:
        texts: raw training texts.
        labels: their string labels.
        config: the training configuration.
        output_dir: model folder to write (created).
        validation: explicit `(texts, labels)` validation set; default: a stratified split.
        auxiliary: extra `(texts, labels)` used for training only (multi-task / joint training,
            e.g. other finance sentiment sets), weighted by `config.auxiliary_weight`.
        data_run: provenance written to data_run.json.
        unlabelled: raw texts without labels for masked-token pretraining (with
            `config.pretraining_epochs > 0`; the training texts are always part of that corpus).
            The vocabulary stays that of the labelled training texts.

    Returns:
        `metrics.json`'s content: validation accuracy / macro-F1 of the served model
        (`served_model`) and of each branch's logits alone, the OOS thresholds, training seconds.
    """
    from models.text.classifier import TextClassifierConfig

    started = time.perf_counter()
    texts = ["" if text is None else str(text) for text in texts]
    labels = [str(label) for label in labels]
    if len(texts) != len(labels):
        raise ValueError(
            f"Expected one label per text. Received: len(texts)={len(texts)}, "
            f"len(labels)={len(labels)}"
        )
    if len(texts) < 4:
        raise ValueError(f"Expected at least 4 training texts. Received: len(texts)={len(texts)}")
    label_names = _label_set(config.task, labels + (list(validation[1]) if validation else []))
    if len(label_names) < 2:
        raise ValueError(f"Expected at least 2 distinct labels. Received: labels={label_names}")
    index_of = {label: index for index, label in enumerate(label_names)}
    label_ids = np.array([index_of[label] for label in labels])
    if validation is None:
        held_out = _stratified_split(label_ids, config.validation_fraction, config.seed)
        validation_texts = [t for t, h in zip(texts, held_out, strict=False) if h]
        validation_ids = label_ids[held_out]
        train_texts = [t for t, h in zip(texts, held_out, strict=False) if not h]
        train_ids = label_ids[~held_out]
    else:
        validation_texts = [str(text) for text in validation[0]]
        validation_ids = np.array([index_of[str(label)] for label in validation[1]])
        train_texts, train_ids = texts, label_ids
    auxiliary_count = 0
    if auxiliary is not None and len(auxiliary[0]):
        auxiliary_ids = np.array([index_of[str(label)] for label in auxiliary[1]])
        auxiliary_count = len(auxiliary_ids)
        train_texts = train_texts + [str(text) for text in auxiliary[0]]
        train_ids = np.concatenate([train_ids, auxiliary_ids])
    num_classes = len(label_names)

    vocabulary = TextVocabulary.fit(
        train_texts,
        max_tokens=config.max_tokens,
        max_ngrams=config.max_ngrams if config.branches != "wide" else 0,
        ngrams_per_token=config.ngrams_per_token,
    )
    train_tokens = [tokenize(text) for text in train_texts]
    validation_tokens = [tokenize(text) for text in validation_texts]
    sequence_length = int(
        min(config.sequence_length, max(8, np.percentile([len(t) for t in train_tokens], 99) + 1))
    )
    wide_vocabulary = None
    if config.branches != "deep":
        wide_vocabulary = WideVocabulary.fit(
            train_tokens,
            sequence_length,
            max_features=config.max_wide_features,
            min_document_frequency=config.wide_min_document_frequency,
            ngram_min=config.wide_ngram_min,
            ngram_max=config.wide_ngram_max,
            ngrams_per_token=config.wide_ngrams_per_token,
        )
    train_features = encode_texts(vocabulary, wide_vocabulary, train_tokens, sequence_length)
    validation_features = encode_texts(
        vocabulary, wide_vocabulary, validation_tokens, sequence_length
    )
    pretraining_features = None
    if unlabelled is not None and len(unlabelled) and not config.pretraining_epochs:
        raise ValueError(
            "Expected pretraining_epochs > 0 when unlabelled texts are given. "
            f"Received: pretraining_epochs=0, {len(unlabelled)} unlabelled texts"
        )
    if config.pretraining_epochs and config.branches != "wide":
        corpus = train_tokens + [
            tokenize("" if text is None else str(text)) for text in (unlabelled or [])
        ]
        pretraining_features = vocabulary.encode_tokens(corpus, sequence_length)

    targets = np.eye(num_classes, dtype="float32")[train_ids]
    counts = np.bincount(train_ids, minlength=num_classes).astype("float64")
    class_weight = np.where(counts > 0, len(train_ids) / (num_classes * np.maximum(counts, 1)), 0.0)
    sample_weight = class_weight[train_ids] if config.class_weighting else np.ones(len(train_ids))
    svm_weight = np.ones(len(train_ids))  # the wide SVM's: no class weights, as the baseline's
    if auxiliary_count:
        sample_weight = sample_weight.copy()
        sample_weight[-auxiliary_count:] *= config.auxiliary_weight
        svm_weight[-auxiliary_count:] = config.auxiliary_weight
    classifier_config = TextClassifierConfig(
        vocabulary_size=vocabulary.size,
        num_classes=num_classes,
        sequence_length=sequence_length,
        ngram_vocabulary_size=vocabulary.ngram_size,
        ngrams_per_token=config.ngrams_per_token,
        embedding_dim=config.embedding_dim,
        num_blocks=config.num_blocks,
        num_heads=config.num_heads,
        feed_forward_dim=config.feed_forward_dim,
        attention_units=config.attention_units,
        dropout=config.dropout,
        wide_feature_count=wide_vocabulary.size if wide_vocabulary is not None else 0,
        wide_slots_per_token=config.wide_ngrams_per_token + 2,
        wide_scale=config.wide_scale,
        wide_learned_scale=config.wide_fit in ("svm_first", "stacked"),
        deep=config.branches != "wide",
    )
    model, history, blend = _fit_model(
        config,
        classifier_config,
        wide_vocabulary,
        train_features,
        targets,
        sample_weight.astype("float32"),
        validation_features,
        validation_ids,
        pretraining_features,
        svm_weight,
    )
    if classifier_config.deep:  # the Mahalanobis score's statistics, from the training texts
        from models.text.out_of_scope import fit_class_statistics

        pooled = model.predict(model_inputs(model, train_features), batch_size=256, verbose=0)
        means, precision = fit_class_statistics(pooled["pooled"], train_ids, num_classes)
        model.get_layer("mahalanobis").set_statistics(means, precision)

    outputs = model.predict(model_inputs(model, validation_features), batch_size=256, verbose=0)
    validation_labels = [label_names[i] for i in validation_ids]

    def metrics_of(scores: np.ndarray) -> dict:
        return classification_metrics(
            validation_labels, [label_names[i] for i in np.asarray(scores).argmax(axis=1)]
        )

    metrics: dict = {
        "protocol": (
            "validation split: "
            + (
                "given"
                if validation is not None
                else f"stratified {config.validation_fraction:.0%} of the training "
                f"data, seed {config.seed}"
            )
        ),
        "served_model": metrics_of(outputs["probabilities"]),
        "branches": config.branches,
        "wide_fit": None if config.branches == "deep" else config.wide_fit,
    }
    if config.branches == "wide_and_deep":
        wide_logits = _wide_logits(model, outputs)
        metrics["wide_branch"] = metrics_of(wide_logits)
        metrics["deep_branch"] = metrics_of(np.asarray(outputs["logits"]) - wide_logits)
        if blend is not None:
            metrics["stacked_blend"] = blend
    oos_thresholds = None
    if config.task == "intent":
        oos_thresholds = {
            name: calibrate_score_threshold(
                np.asarray(outputs[f"oos_{name}"]), config.oos_keep_rate
            )
            for name in OOS_SCORES
            if f"oos_{name}" in outputs
        }
        metrics["oos_score"] = config.oos_score
        metrics["oos_thresholds"] = oos_thresholds
        metrics["oos_threshold"] = oos_thresholds[config.oos_score]
        metrics["oos_threshold_rule"] = (
            f"the threshold keeping {config.oos_keep_rate:.0%} of in-scope validation texts "
            f"(quantile of the {config.oos_score} score; out of scope above it)"
        )
    if blend is not None:  # the validation figures above are those before the refit
        blend["svm_refitted_on"] = _refit_wide_on_all(
            model,
            config,
            wide_vocabulary,
            [
                (train_features, train_ids, svm_weight),
                (validation_features, validation_ids, np.ones(len(validation_ids))),
            ],
        )
    metrics["training_seconds"] = round(time.perf_counter() - started, 1)
    metrics["train_count"] = int(len(train_ids))
    metrics["auxiliary_count"] = int(auxiliary_count)
    metrics["wide_feature_count"] = 0 if wide_vocabulary is None else len(wide_vocabulary.features)
    metrics["pretraining_text_count"] = (
        0 if pretraining_features is None else len(pretraining_features["token_ids"])
    )

    output = Path(output_dir)
    output.mkdir(parents=True, exist_ok=True)
    model.save(output / "model.keras")
    vocabulary_settings = vocabulary.save(output)
    wide_settings = wide_vocabulary.save(output) if wide_vocabulary is not None else None
    (output / "labels.json").write_text(json.dumps(label_names, indent=2))
    (output / "config.json").write_text(
        json.dumps(
            {
                "task": config.task,
                "labels": label_names,
                "sequence_length": sequence_length,
                "vocabulary": vocabulary_settings,
                "wide_vocabulary": wide_settings,
                "classifier": classifier_config.to_dict(),
                "training": asdict(config),
                "oos_score": config.oos_score if config.task == "intent" else None,
                "oos_thresholds": oos_thresholds,
                "oos_threshold": None if oos_thresholds is None else metrics["oos_threshold"],
                "score": "p(positive) - p(negative)" if config.task == "sentiment" else None,
            },
            indent=2,
        )
    )
    (output / "history.json").write_text(json.dumps(history, indent=2))
    # strict JSON: undefined figures (NaN) are written as null (`json_safe`)
    (output / "metrics.json").write_text(json.dumps(json_safe(metrics), indent=2, allow_nan=False))
    (output / "data_run.json").write_text(json.dumps(data_run or {}, indent=2, default=str))
    logger.info(
        "trained %s model in %.1fs: %s",
        config.task,
        metrics["training_seconds"],
        json.dumps({k: v for k, v in metrics.items() if isinstance(v, dict)}),
    )
    return metrics
