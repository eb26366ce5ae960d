# Over 300 lines on purpose: one training run (epochs, validation, budget, checkpoints, resume)
# shares its state; the budget, the loss rule and the schedule live in their own modules.
"""Train a sequence recommender: epochs of `model.fit`, validation NDCG@10, checkpoints, resume.

The trainer runs one `fit` epoch at a time, then ranks the validation targets against the whole
catalogue (`full` protocol) and keeps the epoch with the best NDCG@10 (early stopping with
`patience`). After every epoch it writes a checkpoint (all model and optimizer variables, the
random-generator states included, and the trainer's state) and `history.json`. Batches and
negatives depend only on `(seed, epoch)`, so `resume=True` after an interruption continues from
the last finished epoch and reaches the same weights as an uninterrupted run.

Model folder: `model.keras` (best epoch), `config.json` (the config, the vocabulary size and the
index conventions), `history.json`, `item_vocab.txt`, `data_run.json`, `checkpoint/`.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import time
import zipfile
from collections.abc import Callable
from pathlib import Path

import keras
import numpy as np

from models.recommender.config import (
    FIELDS_ADDED_LATER,
    FINAL_LEARNING_RATE_FRACTION,
    RESUMABLE_CHANGES,
    RecommenderConfig,
)
from models.recommender.loss_rule import LossChoice, choose_loss
from models.recommender.ranking_metrics import evaluate_scorer
from models.recommender.sequence_batches import NextItemBatches, tensorflow_epoch_dataset
from models.recommender.sequence_data import (
    ITEM_INDEX_OFFSET,
    OOV_INDEX,
    PADDING_INDEX,
    SequenceData,
    model_inputs,
)
from models.recommender.training_budget import AdjustableCosineDecay, BudgetTracker

logger = logging.getLogger(__name__)


def learning_rate(config: RecommenderConfig, steps_per_epoch: int):
    """Adam's learning rate: the constant or its cosine decay over `learning_rate_decay_epochs`.

    The decay's horizon is adjustable (`AdjustableCosineDecay`): a time budget that binds
    shortens it (`training_budget.BudgetTracker`).
    """
    if config.learning_rate_decay_epochs is None:
        return config.learning_rate
    return AdjustableCosineDecay(
        config.learning_rate,
        decay_steps=config.learning_rate_decay_epochs * steps_per_epoch,
        alpha=FINAL_LEARNING_RATE_FRACTION,
    )


def build_model(
    config: RecommenderConfig, vocabulary_size: int, steps_per_epoch: int = 1
) -> keras.Model:
    """A fresh, built, compiled model for `config`.

    `steps_per_epoch` sizes the learning-rate decay and, with `config.epochs`, decides whether
    `jit_compile="auto"` compiles with XLA (`resolve_jit_compile`). `loss="auto"` is resolved
    by the catalogue's size (`loss_rule.choose_loss`).
    """
    from models.recommender.baselines import GRU4RecModel
    from models.recommender.model import SASRecModel

    loss = choose_loss(config, vocabulary_size - ITEM_INDEX_OFFSET).loss

    if config.model == "sasrec":
        model = SASRecModel(
            vocabulary_size,
            config.hidden_dim,
            config.max_length,
            loss,
            config.num_blocks,
            config.num_heads,
            config.dropout,
            config.attention_window,
            config.flash_attention,
            exclude_history_from_loss=config.exclude_history_from_loss,
            output_bias=config.output_bias,
            pairwise_weight=config.pairwise_weight,
            label_smoothing=config.label_smoothing,
            time_intervals=config.time_intervals,
        )
    else:
        model = GRU4RecModel(
            vocabulary_size,
            config.hidden_dim,
            config.max_length,
            loss,
            config.dropout,
            exclude_history_from_loss=config.exclude_history_from_loss,
            output_bias=config.output_bias,
            pairwise_weight=config.pairwise_weight,
            label_smoothing=config.label_smoothing,
        )
    model.build((None, config.max_length))
    optimizer = keras.optimizers.Adam(
        learning_rate(config, steps_per_epoch),
        weight_decay=config.weight_decay or None,
        epsilon=config.adam_epsilon,
        use_ema=config.ema_momentum is not None,
        ema_momentum=config.ema_momentum or 0.99,
    )
    if config.ema_momentum is not None:
        # Keras' fit ends by overwriting the weights with their average; the trainer runs one fit
        # per epoch, trains on from its own weights and swaps the average in to validate and keep
        # it.
        optimizer.finalize_variable_values = lambda variables: None
    if config.weight_decay:  # decay the matrices only, as AdamW is usually run
        optimizer.exclude_from_weight_decay(
            var_list=[v for v in model.trainable_variables if len(v.shape) < 2]
        )
    jit_compile = resolve_jit_compile(config.jit_compile, steps_per_epoch * config.epochs)
    logger.info(
        "jit_compile=%r -> XLA %s (%d steps per epoch x %d epochs)",
        config.jit_compile,
        "on" if jit_compile else "off",
        steps_per_epoch,
        config.epochs,
    )
    model.compile(optimizer=optimizer, jit_compile=jit_compile)
    model.optimizer.build(model.trainable_variables)
    return model


# `jit_compile="auto"` on TensorFlow compiles the train step with XLA only for runs of at least
# this many steps (steps per epoch x epochs): compiling costs 30-60 s once per run on a 2-core CPU
# and saves about 10-20 ms a step for these models, so shorter runs are faster without it (the
# demo: 5 epochs of 63 steps, 74 s with XLA against 19 s without; Amazon Games: ~60,000 steps,
# ~50 s per epoch with XLA against ~250 s without).
AUTO_XLA_MIN_TRAINING_STEPS = 2_000


def resolve_jit_compile(jit_compile: bool | str, training_steps: int | None = None) -> bool:
    """Whether to compile the train step with XLA; `"auto"` decides by backend and run length.

    `"auto"`: off for PyTorch; on for JAX (its eager mode is far slower than its compiled one);
    on for TensorFlow when the run has at least `AUTO_XLA_MIN_TRAINING_STEPS` steps (or when
    `training_steps` is unknown). Keras' own `"auto"` turns XLA off for TensorFlow on machines
    without an accelerator; for these models a long run's XLA train step is about 3x faster on CPU
    too, so the recommender resolves `"auto"` itself.

    Args:
        jit_compile: `True`, `False` or `"auto"`.
        training_steps: planned train steps of the run (steps per epoch x epochs), if known.
    """
    if jit_compile != "auto":
        return bool(jit_compile)
    backend = keras.backend.backend()
    if backend == "torch":
        return False
    if backend == "tensorflow" and training_steps is not None:
        return training_steps >= AUTO_XLA_MIN_TRAINING_STEPS
    return True


@contextlib.contextmanager
def averaged_weights(model: keras.Model):
    """Inside the block the model holds its optimizer's moving average of the weights (`use_ema`).

    The average and the trained weights swap places on entry and swap back on exit, so training
    resumes from its own weights; without `use_ema` the block changes nothing. (Keras'
    `SwapEMAWeights` callback does the same swap for `evaluate`/`predict`; the trainer ranks the
    validation targets outside `fit`, and keeps the best epoch from here.)
    """
    optimizer = model.optimizer
    if not getattr(optimizer, "use_ema", False):
        yield model
        return

    def swap():
        averages = optimizer._model_variables_moving_average
        for weight, average in zip(optimizer._trainable_variables, averages, strict=True):
            trained = np.array(
                keras.ops.convert_to_numpy(weight.value), copy=True
            )  # not a view of the buffer
            weight.assign(average.value)
            average.assign(trained)

    swap()
    try:
        yield model
    finally:
        swap()


def model_scorer(model: keras.Model, max_length: int) -> Callable[[list[np.ndarray]], np.ndarray]:
    """`histories -> (B, V)` scores via the compiled predict function and the tied table."""
    table = np.asarray(
        keras.ops.convert_to_numpy(model.item_embedding.embeddings), dtype=np.float32
    )
    bias = (
        np.zeros(len(table), np.float32)
        if model.item_bias is None
        else np.asarray(keras.ops.convert_to_numpy(model.item_bias), dtype=np.float32)
    )

    def score(histories: list[np.ndarray]) -> np.ndarray:
        inputs = model_inputs(histories, max_length, getattr(model, "time_intervals", False))
        hidden = model.predict_on_batch(inputs)  # (B, T, D)
        scores = np.asarray(hidden, dtype=np.float32)[:, -1, :] @ table.T + bias[None, :]  # (B, V)
        scores[:, :ITEM_INDEX_OFFSET] = -np.inf
        return scores

    return score


# The checkpoint is one folder (`checkpoint/`: `variables.npz` + `state.json`) replaced whole: the
# next one is written and fsynced in `checkpoint.next/`, the current one renamed
# `checkpoint.previous/`, the next one renamed into place, the previous one removed. A process
# killed at any moment leaves a consistent pair (`_recover_checkpoint` finishes or undoes an
# interrupted swap), never new weights beside an old `state.json`.
CHECKPOINT_FILES = ("variables.npz", "state.json")
CHECKPOINT_STEPS = ("staged", "retired", "committed", "cleaned")


def _sync(path: Path) -> None:
    """fsync a file or a folder (so that a rename in it survives a crash)."""
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _checkpoint_siblings(folder: Path) -> tuple[Path, Path]:
    return folder.with_name(folder.name + ".next"), folder.with_name(folder.name + ".previous")


def _recover_checkpoint(folder: Path) -> bool:
    """Finish or undo a checkpoint swap a killed run left half done; return whether one exists.

    `checkpoint.previous/` exists only once `checkpoint.next/` was complete and synced, so
    without `checkpoint/` the next one is moved into place; any other leftover is removed.
    """
    staged, previous = _checkpoint_siblings(folder)
    if not folder.exists() and previous.exists():
        if staged.exists():
            staged.rename(folder)  # killed between the two renames: the new one is complete
        else:
            previous.rename(folder)
        _sync(folder.parent)
    for leftover in (staged, previous):
        if leftover.exists():
            shutil.rmtree(leftover)
    return folder.exists()


def _save_model_atomically(model: keras.Model, path: Path) -> None:
    """`model.save(path)` through a temporary file renamed into place (never half a file)."""
    temporary = path.with_name(f".{path.stem}.partial.keras")
    model.save(temporary)
    _sync(temporary)
    os.replace(temporary, path)
    _sync(path.parent)


def _save_checkpoint(
    model: keras.Model,
    folder: Path,
    state: dict,
    progress: Callable[[str], None] | None = None,
) -> None:
    """Replace the checkpoint folder by the model's and optimizer's variables and `state`.

    Args:
        model: the compiled, built model (its optimizer's variables are saved too).
        folder: the checkpoint folder.
        state: the trainer's state (JSON-serialisable).
        progress: called with `checkpoint:<epoch>:<step>` for each of `CHECKPOINT_STEPS`
            reached, for fault injection.
    """
    step = progress or (lambda _: None)
    folder = Path(folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    _recover_checkpoint(folder)
    staged, previous = _checkpoint_siblings(folder)
    staged.mkdir()
    arrays = {
        f"model_{i}": keras.ops.convert_to_numpy(v.value) for i, v in enumerate(model.variables)
    }
    arrays.update(
        {
            f"optimizer_{i}": keras.ops.convert_to_numpy(v.value)
            for i, v in enumerate(model.optimizer.variables)
        }
    )
    with (staged / "variables.npz").open("wb") as handle:
        np.savez(handle, **arrays)
        handle.flush()
        os.fsync(handle.fileno())
    with (staged / "state.json").open("w", encoding="utf-8") as handle:
        handle.write(json.dumps(state, indent=2))
        handle.flush()
        os.fsync(handle.fileno())
    _sync(staged)
    name = f"checkpoint:{state.get('epoch')}"
    step(f"{name}:staged")
    if folder.exists():
        folder.rename(previous)
        _sync(folder.parent)
        step(f"{name}:retired")
    staged.rename(folder)
    _sync(folder.parent)
    step(f"{name}:committed")
    if previous.exists():
        shutil.rmtree(previous)
        step(f"{name}:cleaned")


def _unusable_checkpoint(folder: Path, problem: str) -> ValueError:
    return ValueError(
        f"Expected a complete checkpoint to resume from in {folder} ({problem}); remove that "
        f"folder to train from scratch. Received: checkpoint={str(folder)!r}"
    )


def _read_checkpoint_state(folder: Path) -> dict:
    """The trainer state of a checkpoint; a clear `ValueError` naming the folder if unusable."""
    try:
        state = json.loads((folder / "state.json").read_text())
    except (OSError, ValueError) as error:
        raise _unusable_checkpoint(
            folder, f"state.json: {type(error).__name__}: {error}"
        ) from error
    keys = ("epoch", "best_epoch", "best_ndcg", "wait", "history", "config")
    missing = [key for key in keys if not isinstance(state, dict) or key not in state]
    if missing:
        raise _unusable_checkpoint(folder, f"state.json lacks {missing}")
    return state


def _load_checkpoint(model: keras.Model, folder: Path) -> dict:
    """Restore the variables saved by `_save_checkpoint` into `model`; return the state.

    Raises:
        ValueError: the checkpoint is missing a file, truncated, or does not fit the model.
    """
    folder = Path(folder)
    state = _read_checkpoint_state(folder)
    groups = (("model", model.variables), ("optimizer", model.optimizer.variables))
    try:
        with np.load(folder / "variables.npz") as arrays:
            expected = {
                f"{prefix}_{i}" for prefix, variables in groups for i in range(len(variables))
            }
            if set(arrays.files) != expected:
                raise ValueError(
                    f"{len(arrays.files)} arrays saved for {len(expected)} model and optimizer "
                    "variables"
                )
            for prefix, variables in groups:
                for i, variable in enumerate(variables):
                    variable.assign(arrays[f"{prefix}_{i}"])
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as error:
        raise _unusable_checkpoint(
            folder, f"variables.npz: {type(error).__name__}: {error}"
        ) from error
    return state


def monitored_validation_users(data: SequenceData, config: RecommenderConfig) -> np.ndarray:
    """`(N,)` sorted row numbers of the users whose validation targets early stopping monitors.

    Every user with a validation target, or `config.validation_users` of them drawn with
    `config.seed`.
    """
    users = np.flatnonzero(data.valid_positions > 0)
    if config.validation_users is not None and len(users) > config.validation_users:
        rng = np.random.default_rng(config.seed)
        users = users[np.sort(rng.choice(len(users), config.validation_users, replace=False))]
    return users


def validation_trained_users(data: SequenceData, config: RecommenderConfig) -> np.ndarray:
    """`(U,)` True for the users whose validation target the run trains on.

    With `config.train_on_unmonitored_validation`, every user with a validation target that early
    stopping does not monitor (`monitored_validation_users`); otherwise nobody.
    """
    trained = np.zeros(len(data.sequences), dtype=bool)
    if config.train_on_unmonitored_validation:
        trained[data.valid_positions > 0] = True
        trained[monitored_validation_users(data, config)] = False
    return trained


def _validation_subset(data: SequenceData, config: RecommenderConfig):
    monitored = monitored_validation_users(data, config)
    histories = [data.sequences[u][: data.valid_positions[u]] for u in monitored]
    targets = np.array(
        [data.sequences[u][data.valid_positions[u]] for u in monitored], dtype=np.int32
    )
    return histories, targets, monitored


def write_model_folder_files(
    output: Path,
    config: RecommenderConfig,
    data: SequenceData,
    data_run: str | None,
    loss_choice: LossChoice | None = None,
) -> None:
    """`config.json`, `item_vocab.txt`, `data_run.json`.

    `config.json` holds the config with the loss the run trains with (`loss="auto"` resolved by
    `loss_choice`; `loss_rule` says what was configured and why), the vocabulary size and the
    index conventions.
    """
    output.mkdir(parents=True, exist_ok=True)
    (output / "item_vocab.txt").write_text(
        "".join(f"{item}\n" for item in data.item_ids), encoding="utf-8"
    )
    document = {
        **config.to_dict(),
        "vocabulary_size": data.vocabulary_size,
        **(
            {}
            if loss_choice is None
            else {
                "loss": loss_choice.loss,
                "loss_rule": {"configured": config.loss, **loss_choice.to_dict()},
            }
        ),
        "index_conventions": {
            "padding_index": PADDING_INDEX,
            "oov_index": OOV_INDEX,
            "item_index_offset": ITEM_INDEX_OFFSET,
            "item_index": "line number (0-based) in item_vocab.txt + item_index_offset",
            "padding_side": "left (the most recent item is last)",
        },
    }
    (output / "config.json").write_text(json.dumps(document, indent=2))
    (output / "data_run.json").write_text(
        json.dumps(
            {"data_run": data_run, "users": len(data.sequences), "items": len(data.item_ids)},
            indent=2,
        )
    )


def _write_history(
    output: Path,
    state: dict,
    budget_summary: dict,
    loss_choice: LossChoice,
    batches: NextItemBatches,
) -> None:
    """`history.json`: the epochs, the best one, the time budget's use and the chosen loss."""
    document = {
        "training_targets_per_epoch": batches.num_targets,
        "train_steps_per_epoch": len(batches),
        "epochs": state["history"],
        "best_epoch": state["best_epoch"],
        "best_valid_full_ndcg_at_10": state["best_ndcg"],
        "seconds_to_best_epoch": state.get("best_elapsed_seconds"),
        "stop_reason": budget_summary["stop_reason"],
        "time_budget": budget_summary,
        "loss_rule": loss_choice.to_dict(),
    }
    (output / "history.json").write_text(json.dumps(document, indent=2))


def train_recommender(
    data: SequenceData,
    output_dir: str | Path,
    config: RecommenderConfig,
    resume: bool = False,
    data_run: str | None = None,
    on_epoch_end: Callable[[int, dict], None] | None = None,
    verbose: int = 2,
    progress: Callable[[str], None] | None = None,
) -> tuple[keras.Model, list[dict]]:
    """Train (or resume) a recommender; return the best-epoch model and the per-epoch history.

    Args:
        data: the sequences (training sequences and validation targets are taken from it; see
            `validation_trained_users` for which validation targets are trained on).
        output_dir: the model folder.
        config: the run's configuration; on resume it must equal the saved one except for
            `RESUMABLE_CHANGES`.
        resume: continue from `output_dir/checkpoint` if it exists (a `ValueError` naming the
            folder when it cannot be used).
        data_run: where the data came from (recorded in `data_run.json`).
        on_epoch_end: called with `(epoch, history entry)` after each epoch's checkpoint.
        verbose: `fit` verbosity (2 = one line per epoch).
        progress: called with `epoch:<n>:fitted` after each epoch's `fit` and with each
            checkpoint step (`_save_checkpoint`), for fault injection.
    """
    output = Path(output_dir)
    checkpoint = output / "checkpoint"
    resuming = resume and _recover_checkpoint(checkpoint)
    if resuming:
        saved = _read_checkpoint_state(checkpoint)["config"]
        differing = [
            k
            for k, v in config.to_dict().items()
            if saved.get(k, FIELDS_ADDED_LATER.get(k)) != v and k not in RESUMABLE_CHANGES
        ]
        if differing:
            raise ValueError(
                f"Expected the same config as the interrupted run (except {RESUMABLE_CHANGES}). "
                f"Received: differing fields={differing}"
            )
    previous_policy = keras.config.dtype_policy()
    keras.config.set_dtype_policy(config.precision)
    try:
        validation_trained = validation_trained_users(data, config)
        loss_choice = choose_loss(config, data.vocabulary_size - ITEM_INDEX_OFFSET)
        logger.info("loss %s (%s)", loss_choice.loss, loss_choice.reason)
        batches = NextItemBatches(
            data.training_sequences(validation_trained),
            config.max_length,
            data.vocabulary_size,
            config.tokens_per_batch,
            loss_choice.loss,
            config.seed,
            config.num_negatives,
            data.item_counts(validation_trained) if loss_choice.loss == "sampled_softmax" else None,
            uniform_negatives=config.pairwise_weight > 0,
            every_position=config.train_every_position,
            in_batch_negatives=config.in_batch_negatives and loss_choice.loss == "sampled_softmax",
            timestamps=config.time_intervals,
        )
        keras.utils.set_random_seed(config.seed)
        model = build_model(config, data.vocabulary_size, steps_per_epoch=len(batches))
        state = {
            "epoch": 0,
            "best_epoch": -1,
            "best_ndcg": -1.0,
            "wait": 0,
            "history": [],
            "elapsed": 0.0,
        }
        if resuming:
            state = _load_checkpoint(model, checkpoint)
            logger.info(
                "resuming from epoch %d (best %.4f at epoch %d)",
                state["epoch"],
                state["best_ndcg"],
                state["best_epoch"],
            )
        schedule = getattr(model.optimizer, "_learning_rate", None)
        budget = BudgetTracker(
            config,
            len(batches),
            schedule if isinstance(schedule, AdjustableCosineDecay) else None,
            state.get("budget"),
        )
        write_model_folder_files(output, config, data, data_run, loss_choice)
        histories, targets, users = _validation_subset(data, config)
        logger.info(
            "early stopping monitors %d users' validation targets; %d other users' validation "
            "targets are trained on",
            len(users),
            int(validation_trained.sum()),
        )
        logger.info(
            "%d training targets in %d sequences%s",
            batches.num_targets,
            batches.num_sequences,
            " (histories longer than max_length cut into windows)"
            if config.train_every_position
            else " (only the last max_length positions of each history)",
        )
        interacted = [data.sequences[u] for u in users]
        started = time.perf_counter() - state["elapsed"]
        stop_reason = None
        for epoch in range(state["epoch"], config.epochs):
            if state["wait"] >= config.patience:
                stop_reason = "early_stopping"
                break
            stop_reason = budget.stop_reason_before(epoch) if state["best_epoch"] > 0 else None
            if stop_reason is not None:
                break
            budget.refresh_train_function(model)
            budget.begin_epoch(epoch)
            epoch_start = time.perf_counter()
            batches.set_epoch(epoch)
            epoch_input = (
                tensorflow_epoch_dataset(batches)
                if keras.backend.backend() == "tensorflow"
                else batches
            )
            fitted = model.fit(
                epoch_input, epochs=1, verbose=verbose, shuffle=False, callbacks=budget.callbacks()
            )
            if progress is not None:
                progress(f"epoch:{epoch + 1}:fitted")
            train_seconds = time.perf_counter() - epoch_start
            validation_start = time.perf_counter()
            with averaged_weights(model):
                metrics = evaluate_scorer(
                    model_scorer(model, config.max_length),
                    histories,
                    targets,
                    interacted,
                    data.vocabulary_size,
                    protocols=("full",),
                    seed=config.seed,
                )["full"]
                improved = metrics["NDCG@10"] > state["best_ndcg"]
                if improved:  # keep what was validated: the average, when there is one
                    _save_model_atomically(model, output / "model.keras")
            entry = {
                "epoch": epoch + 1,
                "loss": float(fitted.history["loss"][-1]),
                **{f"valid/full/{name}": value for name, value in metrics.items()},
                "train_seconds": train_seconds,
                "epoch_seconds": time.perf_counter() - epoch_start,
                "elapsed_seconds": time.perf_counter() - started,
            }
            budget.end_epoch(train_seconds, time.perf_counter() - validation_start)
            entry["budget_used_seconds"] = budget.seconds_used()
            state["history"].append(entry)
            if improved:
                state.update(
                    best_ndcg=metrics["NDCG@10"],
                    best_epoch=epoch + 1,
                    wait=0,
                    best_elapsed_seconds=entry["elapsed_seconds"],
                )
            else:
                state["wait"] += 1
            state.update(
                epoch=epoch + 1,
                elapsed=entry["elapsed_seconds"],
                config=config.to_dict(),
                budget=budget.state(),
            )
            _save_checkpoint(model, checkpoint, state, progress)
            _write_history(output, state, budget.summary(None), loss_choice, batches)
            logger.info(
                "epoch %d: loss %.4f, valid full NDCG@10 %.4f HR@10 %.4f (%.1f s); %s",
                epoch + 1,
                entry["loss"],
                metrics["NDCG@10"],
                metrics["HR@10"],
                entry["epoch_seconds"],
                budget.progress_text(epoch + 1),
            )
            if on_epoch_end is not None:
                on_epoch_end(epoch, entry)
        if stop_reason is None:
            stop_reason = (
                "budget"
                if budget.stopped_inside_epoch
                else "early_stopping"
                if state["wait"] >= config.patience
                else "epochs"
            )
        _write_history(output, state, budget.summary(stop_reason), loss_choice, batches)
        logger.info(
            "stopped (%s) after %d epochs; best epoch %d restored (valid full NDCG@10 %.4f)",
            stop_reason,
            state["epoch"],
            state["best_epoch"],
            state["best_ndcg"],
        )
        best = keras.saving.load_model(output / "model.keras", compile=False)
        return best, state["history"]
    finally:
        keras.config.set_dtype_policy(previous_policy)
