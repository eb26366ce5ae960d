"""The settings of one text-model training run, validated; a model folder's `config.json`."""

from __future__ import annotations

from dataclasses import dataclass

TASKS = ("sentiment", "intent")


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
        linear_ensemble: also train the TF-IDF linear model and average probabilities.
        refit_linear: after the ensemble weight, the linear model's temperature and (intent) the
            OOS threshold are chosen on the validation texts, refit the linear member on the
            training *and* validation texts, as stacking ensembles refit their members (the
            attention model keeps its early-stopped fit, which needed the validation texts).
        distillation_weight: weight of the linear model's out-of-fold probabilities in the
            attention model's targets (0 disables distillation).
        auxiliary_weight: sample weight of auxiliary (multi-task) training examples.
        oos_keep_rate: intent only: share of in-scope validation texts the OOS threshold keeps.
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
    linear_ensemble: bool = True
    refit_linear: bool = True
    distillation_weight: float = 0.0
    auxiliary_weight: float = 1.0
    oos_keep_rate: float = 0.95
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
        if not 0.0 <= self.distillation_weight <= 1.0:
            raise ValueError(
                "Expected distillation_weight in [0, 1]. "
                f"Received: distillation_weight={self.distillation_weight!r}"
            )
        for name in ("epochs", "batch_size", "sequence_length"):
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
