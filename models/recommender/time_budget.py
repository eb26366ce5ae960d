"""The training time budget: its parser and the plan that fits a run inside it (pure Python).

`seqlens train recommender --time-budget 15m` (field `RecommenderConfig.time_budget`) bounds a
run's wall-clock time. The trainer measures its own step time on the first batches after
compilation (`training_budget.BudgetTracker`), then `plan_training` sizes the number of epochs
and the cosine learning-rate horizon so that the run ends inside the budget; the epoch count the
user gives (`--epochs`) still caps the run, and a budget only ever shortens a run. No Keras here:
`config.py` validates the setting with `parse_time_budget` and the CLI reads it without imports.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

DEFAULT_TIME_BUDGET = "15m"
NO_BUDGET_WORDS = ("none", "off", "0", "")
STOP_REASONS = ("budget", "early_stopping", "epochs")
_DURATION_PATTERN = re.compile(
    r"^(?:(?P<hours>\d+(?:\.\d+)?)h)?(?:(?P<minutes>\d+(?:\.\d+)?)m)?(?:(?P<seconds>\d+(?:\.\d+)?)s)?$"
)


def _budget_error(value: object) -> ValueError:
    return ValueError(
        "Expected time_budget as a duration such as '15m', '90s', '1h30m' or '2h', a number of "
        "seconds > 0, or 'none' (no budget: epochs only). "
        f"Received: time_budget={value!r}"
    )


def parse_time_budget(value: str | float | int | None) -> float | None:
    """Seconds of a time budget; `None` when there is no budget.

    Args:
        value: a duration (`"15m"`, `"90s"`, `"1h30m"`, `"1.5h"`, units h, m, s in that order),
            a number of seconds (`900`, `"900"`), or `None`, `"none"`, `"off"`, `0`, `"0"` (no
            budget).

    Raises:
        ValueError: anything else (negative, not a number, unknown unit), naming the value.
    """
    if value is None:
        return None
    if isinstance(value, bool):
        raise _budget_error(value)
    if isinstance(value, (int, float)):
        if not math.isfinite(value) or value < 0:
            raise _budget_error(value)
        return None if value == 0 else float(value)
    if not isinstance(value, str):
        raise _budget_error(value)
    text = value.strip().lower().replace(" ", "")
    if text in NO_BUDGET_WORDS:
        return None
    try:
        seconds = float(text)
    except ValueError:
        match = _DURATION_PATTERN.match(text)
        if match is None or not any(match.groupdict().values()):
            raise _budget_error(value) from None
        parts = {name: float(part or 0) for name, part in match.groupdict().items()}
        seconds = parts["hours"] * 3600 + parts["minutes"] * 60 + parts["seconds"]
    if not math.isfinite(seconds) or seconds < 0:
        raise _budget_error(value)
    return None if seconds == 0 else seconds


def format_duration(seconds: float) -> str:
    """`seconds` as `1h02m`, `12m30s` or `45s` (for progress lines)."""
    seconds = max(0, int(round(seconds)))
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes:02d}m"
    if minutes:
        return f"{minutes}m{seconds:02d}s"
    return f"{seconds}s"


@dataclass(frozen=True)
class TrainingPlan:
    """How long a run trains: `epochs` in all (from epoch 1) and the cosine horizon.

    Attributes:
        epochs: planned epochs, counted from the start of the run (the last one may be cut
            short at the budget when `cut_short`).
        decay_steps: the cosine learning-rate horizon in train steps (`None`: constant rate).
        epoch_seconds: the estimated seconds of one epoch (train steps and validation).
        cut_short: the budget ends inside epoch `epochs` (not even the current epoch fits whole).
        limited_by_budget: the budget, not `--epochs`, sets `epochs`.
    """

    epochs: int
    decay_steps: int | None
    epoch_seconds: float
    cut_short: bool
    limited_by_budget: bool


def plan_training(
    *,
    budget_seconds: float | None,
    epoch_start_seconds: float,
    epoch: int,
    seconds_per_step: float,
    steps_per_epoch: int,
    validation_seconds: float,
    max_epochs: int,
    decay_epochs: int | None,
) -> TrainingPlan:
    """The epochs and cosine horizon that end a run inside its budget.

    Whole epochs of `steps_per_epoch * seconds_per_step + validation_seconds` are fitted into
    the time left from the start of the current epoch. Without a budget, or when `max_epochs`
    fit, the plan is `max_epochs` and the configured horizon `decay_epochs * steps_per_epoch`
    (the budget never lengthens nor changes a run it does not bind). When the budget binds, the
    horizon ends with the last planned epoch (`min(decay_epochs, epochs)` epochs of steps); when
    not even the current epoch fits, the horizon ends at the step the budget is expected to
    stop it (less one validation).

    Args:
        budget_seconds: the budget, `None` = none.
        epoch_start_seconds: budget seconds already used when the current epoch started.
        epoch: the current epoch's 0-based index (epochs already finished).
        seconds_per_step: measured seconds of one train step (after compilation).
        steps_per_epoch: train steps per epoch.
        validation_seconds: measured (or estimated) seconds of one validation.
        max_epochs: `--epochs`, the cap.
        decay_epochs: the configured cosine horizon in epochs, `None` = constant rate.
    """
    if steps_per_epoch < 1 or max_epochs < 1 or epoch < 0:
        raise ValueError(
            "Expected steps_per_epoch >= 1, max_epochs >= 1 and epoch >= 0. Received: "
            f"steps_per_epoch={steps_per_epoch}, max_epochs={max_epochs}, epoch={epoch}"
        )
    if not seconds_per_step >= 0 or not validation_seconds >= 0:
        raise ValueError(
            "Expected seconds_per_step >= 0 and validation_seconds >= 0. Received: "
            f"seconds_per_step={seconds_per_step}, validation_seconds={validation_seconds}"
        )
    epoch_seconds = steps_per_epoch * seconds_per_step + validation_seconds
    configured = None if decay_epochs is None else decay_epochs * steps_per_epoch
    if budget_seconds is None or epoch_seconds <= 0:
        return TrainingPlan(max_epochs, configured, epoch_seconds, False, False)
    left = budget_seconds - epoch_start_seconds
    fitting = epoch + int(max(0.0, left) // epoch_seconds)
    if fitting >= max_epochs:
        return TrainingPlan(max_epochs, configured, epoch_seconds, False, False)
    if fitting > epoch:
        decay = None if decay_epochs is None else min(decay_epochs, fitting) * steps_per_epoch
        return TrainingPlan(fitting, decay, epoch_seconds, False, True)
    steps = int(max(0.0, left - validation_seconds) // max(seconds_per_step, 1e-9))
    decay = None
    if configured is not None:
        decay = max(1, min(configured, epoch * steps_per_epoch + steps))
    return TrainingPlan(epoch + 1, decay, epoch_seconds, True, True)
