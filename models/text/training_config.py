"""The settings of one text-model training run, validated; a model folder's `config.json`."""

from __future__ import annotations

from dataclasses import dataclass

TASKS = ("sentiment", "intent")
BRANCHES = ("wide_and_deep", "wide", "deep")
WIDE_FITS = ("stacked", "svm_first", "joint")
OOS_SCORES = ("max_softmax", "energy", "mahalanobis")


@dataclass(frozen=True)
class TextTrainingConfig:
    """Everything a text-model training run needs (written to config.json).

    Args:
        task: `sentiment` or `intent`.
        sequence_length: maximum tokens per text (longer texts are truncated).
        embedding_dim, num_blocks, num_heads, feed_forward_dim, attention_units, dropout:
            architecture (see `models.text.classifier.TextClassifierConfig`).
        max_tokens: token vocabulary size cap.
        max_ngrams: character n-gram vocabulary cap; 0 disables sub-word features.
        ngrams_per_token: n-gram ids kept per token.
        epochs, batch_size, learning_rate, weight_decay, warmup_fraction: optimisation.
        label_smoothing: label smoothing of the cross-entropy.
        class_weighting: weight examples by inverse class frequency (balanced).
        validation_fraction: share of the training data held out for validation.
        branches: `wide_and_deep` (the default, trained jointly), `wide` or `deep` (ablation).
        max_wide_features: wide feature cap (word 1-2-grams + character n-grams).
        wide_min_document_frequency: texts a bigram or character n-gram must occur in.
        wide_ngram_min, wide_ngram_max: the wide branch's character n-gram widths.
        wide_ngrams_per_token: character n-gram slots per token of the wide branch.
        wide_scale: learning-rate multiplier of the wide weights (`WideTfidfLogits.scale`).
        wide_fit: how the branches are fitted. `stacked` (the default): the wide weights are
            a linear SVM fitted first (`models.text.wide_fit`) and frozen, the deep branch is
            trained alone (its own cross-entropy), then `softmax(a * wide + b * deep)` with
            `a, b >= 0` fitted by maximum likelihood on the validation texts; once those and
            the OOS thresholds are chosen, the SVM is refitted on training + validation texts.
            `joint`: the wide weights are trained with the deep branch by the optimiser, from
            zero. `svm_first`: the SVM frozen, the training learns its scale and the deep
            branch beside it on out-of-fold margins (docs/text-models.md says what each
            measured).
        wide_regularization: `stacked` and `svm_first`: the SVM's `C` (as the TF-IDF baseline's).
        branch_loss_weight: wide and deep jointly: weight of each branch's own cross-entropy
            beside the served model's (keeps both branches predictive alone, so the deep
            branch's attention still explains the label); 0 trains the sum only.
        auxiliary_weight: sample weight of auxiliary (multi-task) training examples.
        oos_keep_rate: intent only: share of in-scope validation texts the OOS threshold keeps.
        oos_score: the out-of-scope score that decides `out_of_scope` (`max_softmax`, `energy`,
            `mahalanobis`; see `models.text.out_of_scope`); all three are computed and
            calibrated, this one is the default answer.
        pretraining_epochs: passes of masked-token pretraining of the encoder (see
            `models.text.pretraining`) over the training texts and the unlabelled texts given to
            `train_text_model`, before the classifier is fitted; 0 disables it.
        pretraining_mask_rate: share of each text's known tokens predicted in pretraining.
        seed: seed of every random choice.
    """

    task: str = "sentiment"
    sequence_length: int = 64
    embedding_dim: int = 96
    num_blocks: int = 1
    num_heads: int = 2
    feed_forward_dim: int = 192
    attention_units: int = 64
    dropout: float = 0.1
    max_tokens: int = 20_000
    max_ngrams: int = 20_000
    ngrams_per_token: int = 16
    epochs: int = 12
    batch_size: int = 64
    learning_rate: float = 2e-3
    weight_decay: float = 0.01
    warmup_fraction: float = 0.1
    label_smoothing: float = 0.1
    class_weighting: bool = True
    validation_fraction: float = 0.1
    branches: str = "wide_and_deep"
    max_wide_features: int = 100_000
    wide_min_document_frequency: int = 2
    wide_ngram_min: int = 2
    wide_ngram_max: int = 5
    wide_ngrams_per_token: int = 32
    wide_scale: float = 10.0
    wide_fit: str = "stacked"
    wide_regularization: float = 0.5
    branch_loss_weight: float = 1.0
    auxiliary_weight: float = 1.0
    oos_keep_rate: float = 0.95
    oos_score: str = "energy"
    pretraining_epochs: int = 0
    pretraining_mask_rate: float = 0.15
    seed: int = 42

    def __post_init__(self) -> None:
        if self.task not in TASKS:
            raise ValueError(f"Expected task in {TASKS}. Received: task={self.task!r}")
        if not 0.0 < self.validation_fraction < 0.5:
            raise ValueError(
                "Expected validation_fraction in (0, 0.5). "
                f"Received: validation_fraction={self.validation_fraction!r}"
            )
        if self.branches not in BRANCHES:
            raise ValueError(
                f"Expected branches in {BRANCHES}. Received: branches={self.branches!r}"
            )
        if not 0.0 <= self.branch_loss_weight <= 1.0:
            raise ValueError(
                "Expected branch_loss_weight in [0, 1]. "
                f"Received: branch_loss_weight={self.branch_loss_weight!r}"
            )
        if self.wide_fit not in WIDE_FITS:
            raise ValueError(
                f"Expected wide_fit in {WIDE_FITS}. Received: wide_fit={self.wide_fit!r}"
            )
        if not self.wide_regularization > 0:
            raise ValueError(
                "Expected wide_regularization > 0. "
                f"Received: wide_regularization={self.wide_regularization!r}"
            )
        if self.oos_score not in OOS_SCORES:
            raise ValueError(
                f"Expected oos_score in {OOS_SCORES}. Received: oos_score={self.oos_score!r}"
            )
        if self.oos_score == "mahalanobis" and self.branches == "wide":
            raise ValueError(
                "Expected a deep branch for oos_score='mahalanobis' (it measures the pooled "
                "embedding). Received: branches='wide'"
            )
        for name in (
            "epochs",
            "batch_size",
            "sequence_length",
            "max_wide_features",
            "wide_min_document_frequency",
            "wide_ngrams_per_token",
        ):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ValueError(
                    f"Expected {name} to be a positive int. Received: {name}={value!r}"
                )
        if not isinstance(self.pretraining_epochs, int) or self.pretraining_epochs < 0:
            raise ValueError(
                "Expected pretraining_epochs to be an int >= 0. "
                f"Received: pretraining_epochs={self.pretraining_epochs!r}"
            )
        if not 0.0 < self.pretraining_mask_rate < 1.0:
            raise ValueError(
                "Expected pretraining_mask_rate in (0, 1). "
                f"Received: pretraining_mask_rate={self.pretraining_mask_rate!r}"
            )
