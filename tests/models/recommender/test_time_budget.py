"""The training time budget: its parser, the plan as a pure function, a run that stops by itself
at a budget of a few seconds with its best weights, and the setting on every path (CLI, batch
settings, Airflow Params)."""

from __future__ import annotations

import argparse
import ast
import dataclasses
import json
import logging

import numpy as np
import pytest

from models.recommender.config import FIELDS_ADDED_LATER, RESUMABLE_CHANGES, RecommenderConfig
from models.recommender.ranking_metrics import evaluate_scorer
from models.recommender.time_budget import (
    DEFAULT_TIME_BUDGET,
    format_duration,
    parse_time_budget,
    plan_training,
)
from models.recommender.training import model_scorer, train_recommender
from seqlens.batch_settings import BatchSettings, setting_fields
from seqlens.commands.recommender import add_config_arguments, config_from_args
from tests.paths import REPO_ROOT
from tests.recommender_fixtures import planted_data

TINY_BUDGET = "8s"


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("15m", 900.0),
        ("90s", 90.0),
        ("1h30m", 5400.0),
        ("2h", 7200.0),
        ("1.5h", 5400.0),
        ("1m30s", 90.0),
        (" 15M ", 900.0),
        ("900", 900.0),
        ("2.5", 2.5),
        (120, 120.0),
        (0.5, 0.5),
        ("none", None),
        ("None", None),
        ("off", None),
        ("0", None),
        (0, None),
        (None, None),
    ],
)
def test_parse_time_budget(text, seconds):
    assert parse_time_budget(text) == seconds


@pytest.mark.parametrize(
    "value", ["15 minutes", "-5", "m", "1m30", "1s30m", "15x", "nan", "inf", -1, True, [15]]
)
def test_parse_time_budget_rejects_with_a_precise_message(value):
    with pytest.raises(ValueError, match=r"Expected time_budget as a duration .* Received: "):
        parse_time_budget(value)


def test_config_field_default_normalisation_and_resume_rules():
    assert RecommenderConfig().time_budget == DEFAULT_TIME_BUDGET == "15m"
    assert RecommenderConfig().time_budget_seconds == 900.0
    assert RecommenderConfig(time_budget=90).time_budget == "90s"
    assert RecommenderConfig(time_budget=None).time_budget == "none"
    assert RecommenderConfig(time_budget="none").time_budget_seconds is None
    with pytest.raises(ValueError, match="Received: time_budget='fifteen'"):
        RecommenderConfig(time_budget="fifteen")
    assert "time_budget" in RESUMABLE_CHANGES  # more (or less) time for a resumed run
    assert FIELDS_ADDED_LATER["time_budget"] == "none"  # older runs had none
    assert RecommenderConfig.from_saved({"hidden_dim": 8}).time_budget == "none"


def test_format_duration():
    assert [format_duration(s) for s in (0, 45.4, 750, 3720)] == ["0s", "45s", "12m30s", "1h02m"]


def _plan(**overrides):
    arguments = dict(
        budget_seconds=100.0,
        epoch_start_seconds=10.0,
        epoch=0,
        seconds_per_step=0.1,
        steps_per_epoch=100,
        validation_seconds=5.0,
        max_epochs=30,
        decay_epochs=22,
    )
    arguments.update(overrides)
    return plan_training(**arguments)


def test_plan_fits_whole_epochs_and_ends_the_cosine_with_the_last_one():
    plan = _plan()  # 15 s an epoch, 90 s left: 6 epochs
    assert (plan.epochs, plan.decay_steps, plan.epoch_seconds) == (6, 600, 15.0)
    assert plan.limited_by_budget and not plan.cut_short
    assert _plan(decay_epochs=4).decay_steps == 400  # a shorter configured horizon stays
    assert _plan(decay_epochs=None).decay_steps is None  # constant rate stays constant
    later = _plan(epoch=3, epoch_start_seconds=60.0)  # 40 s left after 3 epochs: 2 more
    assert (later.epochs, later.decay_steps) == (5, 500)


def test_a_budget_that_does_not_bind_changes_nothing():
    configured = _plan(budget_seconds=None)
    assert (configured.epochs, configured.decay_steps) == (30, 2200)
    assert not configured.limited_by_budget
    roomy = _plan(budget_seconds=10_000.0)
    assert (roomy.epochs, roomy.decay_steps, roomy.limited_by_budget) == (30, 2200, False)
    short = _plan(budget_seconds=10_000.0, max_epochs=3)  # --epochs 3: the configured horizon
    assert (short.epochs, short.decay_steps) == (3, 2200)


def test_plan_cuts_an_epoch_longer_than_the_budget():
    plan = _plan(steps_per_epoch=1000, seconds_per_step=0.5)  # 505 s an epoch, 90 s left
    assert (plan.epochs, plan.cut_short, plan.limited_by_budget) == (1, True, True)
    assert plan.decay_steps == 170  # (90 - 5 s validation) / 0.5 s
    spent = _plan(epoch_start_seconds=150.0)
    assert (spent.epochs, spent.decay_steps) == (1, 1)


def test_plan_rejects_impossible_measurements():
    with pytest.raises(ValueError, match="Received: steps_per_epoch=0"):
        _plan(steps_per_epoch=0)
    with pytest.raises(ValueError, match="Received: seconds_per_step=-1"):
        _plan(seconds_per_step=-1)


class _Lines(logging.Handler):
    def __init__(self):
        super().__init__(logging.INFO)
        self.lines: list[str] = []

    def emit(self, record):
        self.lines.append(record.getMessage())


@pytest.fixture(scope="module")
def budget_run(tmp_path_factory):
    """A run with many epochs allowed and a budget of a few seconds (no wall-clock asserts)."""
    data = planted_data(num_users=200, num_items=80, seed=5)
    config = RecommenderConfig(
        hidden_dim=16,
        num_blocks=1,
        num_heads=1,
        max_length=12,
        batch_size=8,
        epochs=1000,
        patience=1000,
        seed=3,
        jit_compile=False,
        validation_users=None,
        time_budget=TINY_BUDGET,
    )
    folder = tmp_path_factory.mktemp("budget_run")
    lines = _Lines()
    logger = logging.getLogger("models.recommender.training")
    logger.addHandler(lines)
    previous_level = logger.level
    logger.setLevel(logging.INFO)
    try:
        model, history = train_recommender(data, folder, config, verbose=0)
    finally:
        logger.removeHandler(lines)
        logger.setLevel(previous_level)
    return data, config, folder, model, history, lines.lines


def test_a_run_stops_by_itself_at_the_budget(budget_run):
    _, config, folder, _, history, _ = budget_run
    document = json.loads((folder / "history.json").read_text())
    assert document["stop_reason"] == "budget"
    budget = document["time_budget"]
    assert budget["stop_reason"] == "budget" and budget["time_budget"] == TINY_BUDGET
    assert budget["budget_seconds"] == 8.0
    assert budget["seconds_used"] > 0 and budget["fraction_used"] == pytest.approx(
        budget["seconds_used"] / 8.0
    )
    assert budget["limited_by_budget"] and 1 <= budget["planned_epochs"] < config.epochs
    assert budget["seconds_per_step"] > 0 and budget["validation_seconds"] > 0
    assert 1 <= len(history) <= budget["planned_epochs"] < config.epochs
    assert document["epochs"] == history


def test_the_best_validated_weights_are_restored_and_usable(budget_run):
    data, config, folder, model, history, _ = budget_run
    best = max(history, key=lambda entry: entry["valid/full/NDCG@10"])
    document = json.loads((folder / "history.json").read_text())
    assert document["best_epoch"] == best["epoch"]
    users = np.flatnonzero(data.valid_positions > 0)
    metrics = evaluate_scorer(
        model_scorer(model, config.max_length),
        [data.sequences[u][: data.valid_positions[u]] for u in users],
        np.array([data.sequences[u][data.valid_positions[u]] for u in users]),
        [data.sequences[u] for u in users],
        data.vocabulary_size,
        protocols=("full",),
        seed=config.seed,
    )["full"]
    assert metrics["NDCG@10"] == pytest.approx(best["valid/full/NDCG@10"], abs=1e-6)
    assert (folder / "model.keras").exists()


def test_the_progress_line_says_the_budget_used_and_the_eta(budget_run):
    *_, lines = budget_run
    epoch_lines = [line for line in lines if line.startswith("epoch ")]
    assert epoch_lines and all("budget " in line and "ETA " in line for line in epoch_lines)
    assert any(line.startswith("stopped (budget)") for line in lines)


def test_the_flag_sets_the_field_and_rejects_a_bad_value():
    parser = argparse.ArgumentParser()
    add_config_arguments(parser)
    assert config_from_args(parser.parse_args([])).time_budget == "15m"
    assert config_from_args(parser.parse_args(["--time-budget", "1h30m"])).time_budget == "1h30m"
    assert (
        config_from_args(parser.parse_args(["--time-budget", "none"])).time_budget_seconds is None
    )
    with pytest.raises(ValueError, match="Received: time_budget='15 minutes'"):
        config_from_args(parser.parse_args(["--time-budget", "15 minutes"]))


def test_batch_settings_and_airflow_params_carry_the_budget():
    assert BatchSettings().recommender.time_budget == "15m"
    assert BatchSettings().to_dict()["time_budget"] == "15m"
    assert BatchSettings.from_mapping({"time_budget": "2m"}).recommender.time_budget == "2m"
    fields = {item.name: item for item in setting_fields()}
    assert (
        fields["time_budget"].type == "str" and "budget" in fields["time_budget"].metadata["help"]
    )
    # The DAG makes one Param per setting field, typed by PARAM_TYPES (read from its source:
    # importing Airflow costs ~15 s; tests/airflow_dags runs the DAG with every field in conf).
    source = (REPO_ROOT / "airflow_dags" / "seqlens_batch_training.py").read_text()
    assignment = next(
        node
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", "") == "PARAM_TYPES"
    )
    assert ast.literal_eval(assignment.value)[fields["time_budget"].type] == "string"
    assert "for setting in setting_fields()" in source


def test_demo_and_batch_runs_set_epochs_so_the_default_budget_never_lengthens_them():
    for settings in (BatchSettings.fast(), BatchSettings.demo(), BatchSettings()):
        assert settings.recommender.epochs <= 5
        assert settings.recommender.time_budget == "15m"
    fields = {item.name for item in dataclasses.fields(RecommenderConfig)}
    assert {"time_budget", "epochs"} <= fields


def test_a_resumed_run_keeps_its_plan_unless_given_another_budget():
    from models.recommender.training_budget import BudgetTracker

    config = RecommenderConfig(epochs=30, time_budget="1m")
    plan = dict(epochs=3, decay_steps=300, epoch_seconds=15.0, cut_short=False)
    saved = {
        "time_budget": "1m",
        "seconds_used": 50.0,
        "settled": True,
        "plan": {**plan, "limited_by_budget": True},
    }
    kept = BudgetTracker(config, steps_per_epoch=100, state=saved)
    assert kept.plan.epochs == 3 and kept.seconds_used() >= 50.0
    assert kept.stop_reason_before(3) == "budget" and kept.stop_reason_before(2) is None
    more_time = BudgetTracker(
        dataclasses.replace(config, time_budget="10m"), steps_per_epoch=100, state=saved
    )
    assert more_time.plan.epochs == 30 and not more_time.settled
    assert more_time.seconds_used() >= 50.0 and more_time.stop_reason_before(3) is None


def test_the_cosine_horizon_is_adjustable_and_matches_keras_cosine_decay():
    import keras

    from models.recommender.training_budget import AdjustableCosineDecay

    schedule = AdjustableCosineDecay(1e-2, decay_steps=100, alpha=0.01)
    reference = keras.optimizers.schedules.CosineDecay(1e-2, decay_steps=100, alpha=0.01)
    for step in (0, 30, 100, 150):
        assert float(schedule(step)) == pytest.approx(float(reference(step)), rel=1e-5)
    assert schedule.set_decay_steps(50) and not schedule.set_decay_steps(50)
    assert float(schedule(50)) == pytest.approx(1e-4, rel=1e-4)
    assert schedule.get_config()["decay_steps"] == 50.0
    with pytest.raises(ValueError, match="Received: decay_steps=0"):
        schedule.set_decay_steps(0)
