"""The recommender's training configuration (no heavy imports: the CLI reads its defaults)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

LOSSES = ("softmax", "sampled_softmax", "bce")
MODEL_KINDS = ("sasrec", "gru4rec")
PRECISIONS = ("float32", "mixed_bfloat16", "mixed_float16")
# Fields that may differ between an interrupted run and its resumption.
RESUMABLE_CHANGES = ("epochs", "patience")
FINAL_LEARNING_RATE_FRACTION = 0.01
# Fields newer than some saved checkpoints, with the value those older runs trained with.
FIELDS_ADDED_LATER = {
    "learning_rate_decay_epochs": None,
    "exclude_history_from_loss": False,
    "output_bias": False,
    "weight_decay": 0.0,
    "pairwise_weight": 0.0,
    "ema_momentum": None,
    "adam_epsilon": 1e-7,
    "label_smoothing": 0.0,
    "train_on_unmonitored_validation": False,
    "train_every_position": False,
}


@dataclass
class RecommenderConfig:
    """Everything a training run depends on (saved as `config.json`).

    `learning_rate_decay_epochs`: `None` keeps Adam's learning rate constant; an integer decays
    it along a cosine from `learning_rate` to `learning_rate * FINAL_LEARNING_RATE_FRACTION`
    over that many epochs (and holds it there after). `output_bias` adds a learned per-item
    bias to every score (the tied table then need not encode popularity). `weight_decay` is
    Adam's decoupled weight decay (AdamW) on the matrices (embeddings and kernels; not the
    biases, norms or item bias): each step shrinks them by `learning_rate * weight_decay`.
    `pairwise_weight` adds that many times a BPR term (the target against one uniformly sampled
    item per position) to the full softmax (`losses.uniform_pairwise_loss`); 0 = none.
    `label_smoothing` trains the full softmax against `(1 - e) * one_hot(target) + e * uniform`
    (`losses.full_softmax_loss`): an item that is never a target settles at probability `e / V`
    instead of sinking further; 0 = none.
    `adam_epsilon` is Adam's epsilon: gradients well below it move a weight less than the
    learning rate (Adam divides each gradient by its running root mean square plus epsilon). With
    the full softmax an item that is rarely or never a target gets only tiny gradients, as a
    negative; at Keras' 1e-7 Adam scales those up to full-size steps that push rare items down.
    `ema_momentum`: keep an exponential moving average of the weights (updated every step,
    `average = m * average + (1 - m) * weights`) and validate, keep and serve the average;
    `None` = the weights themselves.
    `validation_users`: early stopping monitors the validation targets of this many users, drawn
    with `seed` (`None` = every user with one). `train_on_unmonitored_validation`: the other
    users' validation targets are training targets too (their sequences are trained up to the
    test target), so the model learns from the data early stopping does not watch; test targets
    are never trained on. Off = SASRec's protocol, no validation target is trained on.
    `train_every_position`: a training sequence with more than `max_length` targets is cut into
    consecutive windows of `max_length` targets, so every position is a training target (its
    context is its own window); off = only the last `max_length` positions of each sequence are
    (SASRec's original; on MovieLens latest-small that drops 74% of the training positions).
    """

    model: str = "sasrec"
    hidden_dim: int = 64
    num_blocks: int = 2
    num_heads: int = 2
    max_length: int = 50
    attention_window: int | None = None
    dropout: float = 0.5
    loss: str = "softmax"
    exclude_history_from_loss: bool = False
    output_bias: bool = False
    pairwise_weight: float = 0.0
    label_smoothing: float = 0.0
    num_negatives: int = 1024
    batch_size: int = 16
    learning_rate: float = 5e-3
    learning_rate_decay_epochs: int | None = 22
    weight_decay: float = 0.6
    ema_momentum: float | None = None
    adam_epsilon: float = 1e-7
    epochs: int = 30
    patience: int = 3
    seed: int = 0
    precision: str = "float32"
    flash_attention: bool | None = False
    jit_compile: bool | str = "auto"
    validation_users: int | None = 10_000
    train_on_unmonitored_validation: bool = True
    train_every_position: bool = True

    def __post_init__(self) -> None:
        choices = {"model": MODEL_KINDS, "loss": LOSSES, "precision": PRECISIONS}
        for name, allowed in choices.items():
            if getattr(self, name) not in allowed:
                raise ValueError(
                    f"Expected {name} in {allowed}. Received: {name}={getattr(self, name)!r}"
                )
        for name in ("hidden_dim", "num_blocks", "num_heads", "max_length", "batch_size", "epochs"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ValueError(
                    f"Expected {name} to be a positive integer. Received: {name}={value!r}"
                )
        if self.exclude_history_from_loss and self.loss != "softmax":
            raise ValueError(
                "Expected exclude_history_from_loss only with loss='softmax'. "
                f"Received: loss={self.loss!r}, exclude_history_from_loss=True"
            )
        if not self.pairwise_weight >= 0:
            raise ValueError(
                f"Expected pairwise_weight >= 0. Received: pairwise_weight={self.pairwise_weight}"
            )
        if self.pairwise_weight and self.loss != "softmax":
            raise ValueError(
                "Expected pairwise_weight only with loss='softmax'. "
                f"Received: loss={self.loss!r}, pairwise_weight={self.pairwise_weight}"
            )
        if not 0 <= self.label_smoothing < 1:
            raise ValueError(
                f"Expected label_smoothing in [0, 1). Received: label_smoothing={self.label_smoothing}"
            )
        if self.label_smoothing and self.loss != "softmax":
            raise ValueError(
                "Expected label_smoothing only with loss='softmax'. "
                f"Received: loss={self.loss!r}, label_smoothing={self.label_smoothing}"
            )
        if self.patience < 1:
            raise ValueError(f"Expected patience >= 1. Received: patience={self.patience}")
        if not self.learning_rate >= 0:
            raise ValueError(
                f"Expected learning_rate >= 0. Received: learning_rate={self.learning_rate}"
            )
        if not self.weight_decay >= 0:
            raise ValueError(
                f"Expected weight_decay >= 0. Received: weight_decay={self.weight_decay}"
            )
        if not self.adam_epsilon > 0:
            raise ValueError(
                f"Expected adam_epsilon > 0. Received: adam_epsilon={self.adam_epsilon}"
            )
        if self.ema_momentum is not None and not 0 < self.ema_momentum < 1:
            raise ValueError(
                f"Expected ema_momentum None or in (0, 1). Received: ema_momentum={self.ema_momentum}"
            )
        if self.validation_users is not None and (
            isinstance(self.validation_users, bool)
            or not isinstance(self.validation_users, int)
            or self.validation_users < 1
        ):
            raise ValueError(
                f"Expected validation_users to be None or a positive integer. "
                f"Received: validation_users={self.validation_users!r}"
            )
        for name in ("train_on_unmonitored_validation", "train_every_position"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(
                    f"Expected {name} to be a bool. Received: {name}={getattr(self, name)!r}"
                )
        decay = self.learning_rate_decay_epochs
        if decay is not None and (not isinstance(decay, int) or decay < 1):
            raise ValueError(
                f"Expected learning_rate_decay_epochs to be None or a positive integer. "
                f"Received: learning_rate_decay_epochs={decay!r}"
            )

    @property
    def tokens_per_batch(self) -> int:
        """Positions per batch: `batch_size` full-length sequences' worth."""
        return self.batch_size * self.max_length

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_saved(cls, document: dict) -> RecommenderConfig:
        """The config a saved `config.json` (or checkpoint state) describes; other keys are ignored.

        A field the document lacks is newer than the run: it takes the value that run trained with
        (`FIELDS_ADDED_LATER`), else the default.
        """
        values = {}
        for field in dataclasses.fields(cls):
            if field.name in document:
                values[field.name] = document[field.name]
            elif field.name in FIELDS_ADDED_LATER:
                values[field.name] = FIELDS_ADDED_LATER[field.name]
        return cls(**values)
