"""The recommender's training configuration (no heavy imports: the CLI reads its defaults)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from models.recommender.time_budget import DEFAULT_TIME_BUDGET, parse_time_budget

LOSSES = ("softmax", "sampled_softmax", "bce")
# `loss="auto"` picks one of `LOSSES` by the catalogue's size (`loss_rule.choose_loss`).
LOSS_CHOICES = ("auto", *LOSSES)
SOFTMAX_ONLY_LOSSES = ("softmax", "auto")
MODEL_KINDS = ("sasrec", "gru4rec")
PRECISIONS = ("float32", "mixed_bfloat16", "mixed_float16")
# Fields that may differ between an interrupted run and its resumption.
RESUMABLE_CHANGES = ("epochs", "patience", "time_budget")
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
    "time_budget": "none",
    "in_batch_negatives": False,
    "time_intervals": False,
}


def setting(default: Any, help: str, **cli: Any) -> Any:
    """A `RecommenderConfig` field with its help text (and CLI details) in `field.metadata`.

    The CLI flags of `seqlens train recommender`, the batch settings and the Airflow Params are
    all derived from `dataclasses.fields(RecommenderConfig)`: flag `--num-blocks` <-> field
    `num_blocks` <-> Param `num_blocks`. Metadata keys: `help` (one line), `choices` (the allowed
    values of a string field) and `aliases` (other flags that set the field, e.g. a former name).

    Args:
        default: the field's default value.
        help: one line for `--help` and the Airflow trigger form.
        **cli: `choices` and `aliases`.
    """
    unknown = sorted(set(cli) - {"choices", "aliases"})
    if unknown:
        raise ValueError(f"Expected metadata keys choices or aliases. Received: cli={unknown}")
    return dataclasses.field(default=default, metadata={"help": help, **cli})


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
    `loss="auto"` picks the loss by the catalogue's size (`loss_rule.choose_loss`; a softmax-only
    option such as `label_smoothing` makes it the full softmax). `time_budget` bounds the run's
    wall-clock time (`time_budget.parse_time_budget`; "none" = epochs only): the trainer measures
    its step time and sizes the epochs and the cosine horizon to end inside it
    (`training_budget.BudgetTracker`); it only ever shortens a run.
    """

    model: str = setting(
        "sasrec",
        "sasrec (attention) or gru4rec (recurrent baseline, same trainer)",
        choices=MODEL_KINDS,
    )
    hidden_dim: int = setting(
        64,
        "width of the item embeddings and of every block",
        aliases=("--embedding-dim",),
    )
    num_blocks: int = setting(
        2,
        "attention (or GRU) blocks",
    )
    num_heads: int = setting(
        2,
        "attention heads per block",
    )
    max_length: int = setting(
        50,
        "history positions the model reads (the most recent ones)",
    )
    attention_window: int | None = setting(
        None,
        "local attention window (positions); none = full causal attention",
    )
    dropout: float = setting(
        0.5,
        "dropout of the embeddings, attention output and feed-forward",
    )
    loss: str = setting(
        "auto",
        (
            "auto (full softmax up to 30,000 items, sampled softmax above; see docs), softmax "
            "(full), sampled_softmax (log-Q corrected) or bce (one negative)"
        ),
        choices=LOSS_CHOICES,
    )
    exclude_history_from_loss: bool = setting(
        False,
        "full softmax: leave each position's history items out of the normaliser",
    )
    output_bias: bool = setting(
        False,
        "add a learned per-item bias to every item's score",
    )
    pairwise_weight: float = setting(
        0.0,
        (
            "full softmax: add this many times a BPR term against one uniformly sampled item per "
            "position; 0 = none"
        ),
    )
    label_smoothing: float = setting(
        0.0,
        (
            "full softmax: train against (1 - e) * one-hot + e * uniform, which holds an item "
            "that is never a target at probability e / V instead of sinking it; 0 = none"
        ),
    )
    num_negatives: int = setting(
        1024,
        "shared negatives per batch for --loss sampled_softmax",
    )
    in_batch_negatives: bool = setting(
        False,
        (
            "sampled softmax: the batch's own targets are negatives too, beside the drawn ones "
            "(mixed negative sampling, log-Q corrected for the mixture)"
        ),
    )
    batch_size: int = setting(
        16,
        "full-length sequences per batch (batches hold batch_size * max_length positions)",
    )
    learning_rate: float = setting(
        5e-3,
        "Adam's learning rate (0 trains nothing)",
    )
    learning_rate_decay_epochs: int | None = setting(
        22,
        "cosine-decay the learning rate to 1% over this many epochs; none = constant",
    )
    weight_decay: float = setting(
        0.6,
        "decoupled (AdamW) weight decay of the embeddings and kernels; 0 = none",
    )
    ema_momentum: float | None = setting(
        None,
        (
            "validate, keep and serve a moving average of the weights with this momentum (e.g. "
            "0.999); none = the weights themselves"
        ),
    )
    adam_epsilon: float = setting(
        1e-7,
        (
            "Adam's epsilon; larger values stop Adam from scaling the tiny gradients of rarely "
            "seen items up to full-size steps"
        ),
    )
    epochs: int = setting(
        30,
        "training epochs at most (early stopping or the time budget may end sooner)",
    )
    time_budget: str = setting(
        DEFAULT_TIME_BUDGET,
        (
            "wall-clock budget of the run, e.g. 15m, 90s, 1h30m or seconds: the trainer times its"
            " steps and sizes the epochs and learning-rate decay to end inside it; none = epochs"
            " only"
        ),
    )
    patience: int = setting(
        3,
        "epochs without a better validation NDCG@10 before stopping",
    )
    seed: int = setting(
        0,
        "seed of the initial weights, the batches and the validation sample",
    )
    precision: str = setting(
        "float32",
        "Keras dtype policy: float32, mixed_bfloat16 or mixed_float16",
        choices=PRECISIONS,
    )
    flash_attention: bool | None = setting(
        False,
        "MultiHeadAttention flash attention (on needs a GPU backend; auto lets Keras decide)",
    )
    jit_compile: bool | str = setting(
        "auto",
        "XLA compilation of the train step (auto: on for TensorFlow and JAX)",
    )
    validation_users: int | None = setting(
        10_000,
        "early stopping monitors this many users' validation targets (seeded sample); none = all",
    )
    train_on_unmonitored_validation: bool = setting(
        True,
        (
            "train on the validation targets of the users early stopping does not monitor (see "
            "--validation-users); --no-... = SASRec's protocol, none trained on"
        ),
    )
    train_every_position: bool = setting(
        True,
        (
            "cut histories longer than --max-length into windows so every position is trained on;"
            " --no-... = only the last --max-length positions of each history (SASRec's original)"
        ),
    )
    time_intervals: bool = setting(
        False,
        (
            "sasrec: time-aware attention (TiSASRec-style), a learned bias per head and log-spaced "
            "interval between events; needs timestamps in the data"
        ),
    )

    def __post_init__(self) -> None:
        choices = {"model": MODEL_KINDS, "loss": LOSS_CHOICES, "precision": PRECISIONS}
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
        if self.exclude_history_from_loss and self.loss not in SOFTMAX_ONLY_LOSSES:
            raise ValueError(
                "Expected exclude_history_from_loss only with loss='softmax' or 'auto'. "
                f"Received: loss={self.loss!r}, exclude_history_from_loss=True"
            )
        if not self.pairwise_weight >= 0:
            raise ValueError(
                f"Expected pairwise_weight >= 0. Received: pairwise_weight={self.pairwise_weight}"
            )
        if self.pairwise_weight and self.loss not in SOFTMAX_ONLY_LOSSES:
            raise ValueError(
                "Expected pairwise_weight only with loss='softmax' or 'auto'. "
                f"Received: loss={self.loss!r}, pairwise_weight={self.pairwise_weight}"
            )
        if not 0 <= self.label_smoothing < 1:
            raise ValueError(
                "Expected label_smoothing in [0, 1). "
                f"Received: label_smoothing={self.label_smoothing}"
            )
        if self.in_batch_negatives and self.loss not in ("sampled_softmax", "auto"):
            raise ValueError(
                "Expected in_batch_negatives only with loss='sampled_softmax' or 'auto'. "
                f"Received: loss={self.loss!r}, in_batch_negatives=True"
            )
        if self.label_smoothing and self.loss not in SOFTMAX_ONLY_LOSSES:
            raise ValueError(
                "Expected label_smoothing only with loss='softmax' or 'auto'. "
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
                "Expected ema_momentum None or in (0, 1). "
                f"Received: ema_momentum={self.ema_momentum}"
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
        if self.time_intervals and self.model != "sasrec":
            raise ValueError(
                "Expected time_intervals only with model='sasrec'. "
                f"Received: model={self.model!r}, time_intervals=True"
            )
        for name in (
            "train_on_unmonitored_validation",
            "train_every_position",
            "time_intervals",
            "in_batch_negatives",
        ):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(
                    f"Expected {name} to be a bool. Received: {name}={getattr(self, name)!r}"
                )
        budget = self.time_budget
        parse_time_budget(budget)  # a ValueError naming the value
        if not isinstance(budget, str):  # seconds or None: kept as the text config.json shows
            self.time_budget = "none" if budget in (None, 0) else f"{float(budget):g}s"
        decay = self.learning_rate_decay_epochs
        if decay is not None and (not isinstance(decay, int) or decay < 1):
            raise ValueError(
                f"Expected learning_rate_decay_epochs to be None or a positive integer. "
                f"Received: learning_rate_decay_epochs={decay!r}"
            )

    @property
    def time_budget_seconds(self) -> float | None:
        """The budget in seconds; `None` = no budget."""
        return parse_time_budget(self.time_budget)

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
