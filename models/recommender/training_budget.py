# Over 300 lines on purpose: the budget's clock, measurements and plan are one object's state.
"""The trainer's side of the time budget: an adjustable cosine schedule and the budget's clock.

`BudgetTracker` runs the clock of one training run (resumed runs carry the seconds they already
used), measures the train step time on the first batches after compilation (the `keras`
callback it hands to `fit`), plans the run with `time_budget.plan_training`, sets the learning
rate's cosine horizon (`AdjustableCosineDecay`, whose horizon is a variable the compiled train
step reads, so no recompilation), stops an epoch at the budget, and reports what it used
(`summary`, `progress_text`).
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict

import keras
import numpy as np
from keras import ops

from models.recommender.config import RecommenderConfig
from models.recommender.time_budget import (
    TrainingPlan,
    format_duration,
    parse_time_budget,
    plan_training,
)

# Batches whose time is not measured (the first ones compile the train step for their shape),
# and batches measured after them; the step time is their median (a batch of a new length
# bucket compiles too, and the median ignores it).
UNMEASURED_STEPS = 3
MEASURED_STEPS = 20


@keras.saving.register_keras_serializable(package="seqlens_recommender")
class AdjustableCosineDecay(keras.optimizers.schedules.LearningRateSchedule):
    """Keras' `CosineDecay` (no warm-up) whose horizon can be changed while training.

    `lr(step) = initial * ((1 - alpha) * 0.5 * (1 + cos(pi * min(step, H) / H)) + alpha)`; `H`
    is a float32 variable (`set_decay_steps`), read by the compiled train step at every step.

    Args:
        initial_learning_rate: the rate at step 0.
        decay_steps: the horizon `H` (steps), >= 1.
        alpha: the final rate as a fraction of the initial one.
    """

    def __init__(self, initial_learning_rate: float, decay_steps: float, alpha: float = 0.0):
        if not decay_steps >= 1:
            raise ValueError(f"Expected decay_steps >= 1. Received: decay_steps={decay_steps}")
        self.initial_learning_rate = float(initial_learning_rate)
        self.alpha = float(alpha)
        self.decay_steps = keras.Variable(
            float(decay_steps), dtype="float32", trainable=False, name="cosine_decay_steps"
        )

    def __call__(self, step):
        horizon = ops.cast(self.decay_steps, "float32")
        progress = ops.minimum(ops.cast(step, "float32"), horizon) / horizon
        cosine = 0.5 * (1.0 + ops.cos(math.pi * progress))
        return self.initial_learning_rate * ((1.0 - self.alpha) * cosine + self.alpha)

    def set_decay_steps(self, decay_steps: float) -> bool:
        """Set the horizon; return whether it changed."""
        if not decay_steps >= 1:
            raise ValueError(f"Expected decay_steps >= 1. Received: decay_steps={decay_steps}")
        changed = float(decay_steps) != self.current_decay_steps
        self.decay_steps.assign(float(decay_steps))
        return changed

    @property
    def current_decay_steps(self) -> float:
        return float(keras.ops.convert_to_numpy(self.decay_steps.value))

    def get_config(self) -> dict:
        return {
            "initial_learning_rate": self.initial_learning_rate,
            "decay_steps": self.current_decay_steps,
            "alpha": self.alpha,
        }


class _BudgetCallback(keras.callbacks.Callback):
    """Times each batch for `BudgetTracker` and stops `fit` when the budget runs out.

    Not `async_safe`: JAX would call it from a thread pool, and a stop set from there broke the
    epoch's state sync ("Array has been deleted"); in line, each step waits for the previous one,
    so `BudgetTracker.callbacks` adds it only to epochs that measure or may hit the budget.
    """

    def __init__(self, tracker: BudgetTracker):
        super().__init__()
        self.tracker = tracker

    def on_train_batch_end(self, batch, logs=None):
        if self.tracker.batch_ended():
            self.model.stop_training = True


class BudgetTracker:
    """The clock, measurements and plan of one run under `config.time_budget`.

    Args:
        config: the run's configuration (`time_budget`, `epochs`, `learning_rate_decay_epochs`).
        steps_per_epoch: train steps per epoch.
        schedule: the optimizer's schedule when it decays (its horizon is set by the plan).
        state: the `state()` a resumed run saved (its seconds used, measurements and plan).
    """

    def __init__(
        self,
        config: RecommenderConfig,
        steps_per_epoch: int,
        schedule: AdjustableCosineDecay | None = None,
        state: dict | None = None,
    ):
        self.budget_seconds = parse_time_budget(config.time_budget)
        self.time_budget = config.time_budget
        self.steps_per_epoch = steps_per_epoch
        self.max_epochs = config.epochs
        self.decay_epochs = config.learning_rate_decay_epochs
        self.schedule = schedule
        state = dict(state or {})
        if state.get("time_budget", config.time_budget) != config.time_budget:
            state = {"seconds_used": state.get("seconds_used", 0.0)}  # resumed with a new budget
        self.clock_start = time.perf_counter() - float(state.get("seconds_used", 0.0))
        self.seconds_per_step: float | None = state.get("seconds_per_step")
        self.validation_seconds: float | None = state.get("validation_seconds")
        self.settled = bool(state.get("settled", False))
        configured = None if self.decay_epochs is None else self.decay_epochs * steps_per_epoch
        self.plan = TrainingPlan(**state["plan"]) if "plan" in state else None
        if self.plan is None or self.plan.epochs > self.max_epochs:  # --epochs lowered on resume
            self.plan = TrainingPlan(self.max_epochs, configured, 0.0, False, False)
        self.retrace_needed = False
        self._apply_plan()
        self.retrace_needed = False  # nothing was compiled yet
        self.epoch = 0
        self.measured_epoch = -1
        self.epoch_start_seconds = 0.0
        self.batch_ends: list[float] = []
        self.measured_this_process = False
        self.stopped_inside_epoch = False
        self.cut_epoch: tuple[int, int] | None = None  # (epoch, steps it ran) when cut short

    def seconds_used(self) -> float:
        return time.perf_counter() - self.clock_start

    def callbacks(self) -> list[keras.callbacks.Callback]:
        """The `fit` callbacks of the next epoch: the budget's, when that epoch measures the
        step time or may reach the budget (its estimated end within 1.5 epochs of it); none
        otherwise, so an epoch far from the budget runs as without one."""
        if not self.measured_this_process:
            return [_BudgetCallback(self)]
        if self.budget_seconds is None:
            return []
        estimate = 1.5 * self.plan.epoch_seconds
        if self.seconds_used() + estimate >= self.budget_seconds:
            return [_BudgetCallback(self)]
        return []

    def exhausted(self) -> bool:
        return self.budget_seconds is not None and self.seconds_used() >= self.budget_seconds

    def begin_epoch(self, epoch: int) -> None:
        self.epoch = epoch
        self.epoch_start_seconds = self.seconds_used()
        self.batch_ends = [time.perf_counter()]

    def batch_ended(self) -> bool:
        """Record a finished batch; return whether the epoch must stop here (budget)."""
        self.batch_ends.append(time.perf_counter())
        if not self.measured_this_process and len(self.batch_ends) > (
            UNMEASURED_STEPS + MEASURED_STEPS
        ):
            self.measured_this_process = True
            self.measured_epoch = self.epoch
            self.seconds_per_step = self._median_step_seconds()
            self._replan(self.epoch, self.epoch_start_seconds, keep_longer=self.settled)
        if self.budget_seconds is None:
            return False
        reserve = self.validation_seconds or 0.0
        if self.seconds_used() + reserve >= self.budget_seconds:
            self.stopped_inside_epoch = True
            self.cut_epoch = (self.epoch + 1, len(self.batch_ends) - 1)
            return True
        return False

    def end_epoch(self, train_seconds: float, validation_seconds: float) -> None:
        """Update the measurements with the finished epoch and re-plan the rest of the run.

        After the first two epochs (the first holds one-time costs such as compilation) the plan
        may only shorten (a longer one would move the learning rate's horizon back up).
        """
        steps = len(self.batch_ends) - 1 or self.steps_per_epoch  # 0: timed without callback
        if not self.measured_this_process:  # an epoch shorter than the measured batches
            self.measured_this_process = True
            self.measured_epoch = self.epoch
            self.seconds_per_step = (
                self._median_step_seconds()
                if steps > UNMEASURED_STEPS
                else train_seconds / max(steps, 1)
            )
        elif self.measured_epoch != self.epoch:  # no compilation in it: its mean
            self.seconds_per_step = train_seconds / max(steps, 1)
        self.validation_seconds = validation_seconds
        self._replan(self.epoch + 1, self.seconds_used(), keep_longer=self.settled)
        self.settled = self.epoch >= 1  # the first epoch holds one-time costs (compilation)

    def stop_reason_before(self, epoch: int) -> str | None:
        """`"budget"` when epoch `epoch` (0-based) is not to be started, else `None`."""
        if self.exhausted() or self.stopped_inside_epoch:
            return "budget"
        if epoch >= self.plan.epochs and self.plan.limited_by_budget:
            return "budget"
        return None

    def state(self) -> dict:
        """What a resumed run needs (saved in the checkpoint's state)."""
        return {
            "time_budget": self.time_budget,
            "seconds_used": self.seconds_used(),
            "seconds_per_step": self.seconds_per_step,
            "validation_seconds": self.validation_seconds,
            "settled": self.settled,
            "plan": asdict(self.plan),
        }

    def summary(self, stop_reason: str | None) -> dict:
        """`history.json`'s `time_budget` entry."""
        used = self.seconds_used()
        return {
            "time_budget": self.time_budget,
            "budget_seconds": self.budget_seconds,
            "seconds_used": used,
            "fraction_used": None if self.budget_seconds is None else used / self.budget_seconds,
            "stop_reason": stop_reason,
            "planned_epochs": self.plan.epochs,
            "limited_by_budget": self.plan.limited_by_budget,
            "seconds_per_step": self.seconds_per_step,
            "validation_seconds": self.validation_seconds,
            "learning_rate_decay_steps": self.plan.decay_steps,
            "epoch_cut_short": None
            if self.cut_epoch is None
            else {"epoch": self.cut_epoch[0], "steps_run": self.cut_epoch[1]},
        }

    def progress_text(self, epochs_done: int) -> str:
        """`budget 34% of 15m00s used, ETA 8m12s (12 epochs planned)` for the progress line."""
        left_epochs = max(0, self.plan.epochs - epochs_done)
        epoch_seconds = self.plan.epoch_seconds
        if self.seconds_per_step is not None:  # the latest measurements
            epoch_seconds = self.seconds_per_step * self.steps_per_epoch + (
                self.validation_seconds or 0.0
            )
        eta = left_epochs * epoch_seconds
        planned = f"{self.plan.epochs} epochs planned"
        if self.budget_seconds is None:
            return f"no time budget, ETA {format_duration(eta)} at most ({planned})"
        used = self.seconds_used()
        eta = min(eta, max(0.0, self.budget_seconds - used))
        return (
            f"budget {used / self.budget_seconds:.0%} of {format_duration(self.budget_seconds)} "
            f"used, ETA {format_duration(eta)} ({planned})"
        )

    def refresh_train_function(self, model: keras.Model) -> None:
        """Between epochs: make JAX retrace the train step after a horizon change.

        TensorFlow's compiled step reads the horizon variable at every step; JAX's traced step
        holds the value it was traced with.
        """
        if self.retrace_needed and keras.backend.backend() == "jax":
            model.train_function = None
        self.retrace_needed = False

    def _median_step_seconds(self) -> float:
        durations = np.diff(np.sort(self.batch_ends))[UNMEASURED_STEPS:]
        if not len(durations):
            durations = np.diff(np.sort(self.batch_ends))
        return float(np.median(durations))

    def _replan(self, epoch: int, epoch_start_seconds: float, keep_longer: bool) -> None:
        plan = plan_training(
            budget_seconds=self.budget_seconds,
            epoch_start_seconds=epoch_start_seconds,
            epoch=epoch,
            seconds_per_step=self.seconds_per_step or 0.0,
            steps_per_epoch=self.steps_per_epoch,
            validation_seconds=self.validation_seconds or 0.0,
            max_epochs=self.max_epochs,
            decay_epochs=self.decay_epochs,
        )
        if keep_longer and plan.epochs >= self.plan.epochs:
            return
        self.plan = plan
        self._apply_plan()

    def _apply_plan(self) -> None:
        if self.schedule is not None and self.plan.decay_steps is not None:
            if self.schedule.set_decay_steps(self.plan.decay_steps):
                self.retrace_needed = True
