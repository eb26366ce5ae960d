"""The shared batch-path steps: settings, interval keys, input errors, idempotent outputs."""

from __future__ import annotations

import dataclasses
import hashlib

import pytest

from models.recommender.config import RecommenderConfig
from seqlens import batch
from seqlens.batch import BatchRun, BatchSettings
from seqlens.batch_settings import (
    BATCH_RECOMMENDER,
    FAST_RECOMMENDER,
    batch_recommender_config,
    setting_fields,
)


def test_fast_settings_are_smaller_than_the_defaults():
    fast, default = BatchSettings.fast(), BatchSettings()
    assert fast.num_users < default.num_users and fast.num_chats < default.num_chats


@pytest.mark.parametrize(
    "name",
    ["num_users", "num_items", "num_days", "num_chats", "text_epochs", "text_embedding_dim"]
    + ["top_k", "gate_requests"],
)
def test_positive_settings_reject_zero(name):
    with pytest.raises(ValueError, match=rf"Received: {name}=0"):
        BatchSettings(**{name: 0})


@pytest.mark.parametrize(
    "name", ["max_length", "epochs", "num_blocks", "num_heads", "batch_size", "hidden_dim"]
)
def test_positive_recommender_settings_reject_zero(name):
    with pytest.raises(ValueError, match=rf"Received: {name}=0"):
        BatchSettings.from_mapping({name: 0})
    with pytest.raises(ValueError, match=rf"Received: {name}=0"):
        BatchSettings(recommender=batch_recommender_config(**{name: 0}))


@pytest.mark.parametrize(
    ("legacy", "name"),
    [
        ("recommender_epochs", "epochs"),
        ("recommender_blocks", "num_blocks"),
        ("recommender_heads", "num_heads"),
        ("recommender_batch_size", "batch_size"),
        ("embedding_dim", "hidden_dim"),
    ],
)
def test_legacy_setting_names_still_reach_the_config(legacy, name):
    with pytest.raises(ValueError, match=rf"Received: {name}=0"):
        BatchSettings.from_mapping({legacy: 0})
    settings = BatchSettings.from_mapping({name: 1, legacy: 3})
    assert getattr(settings.recommender, name) == 3 and getattr(settings, legacy) == 3


def test_learning_rate_rejects_negative():
    with pytest.raises(ValueError, match=r"Received: learning_rate=-0.1"):
        BatchSettings.from_mapping({"learning_rate": -0.1})


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("dropout", 1.0),
        ("dropout", -0.1),
        ("weight_decay", -0.5),
    ],
)
def test_recommender_regularisation_is_validated(name, value):
    with pytest.raises(ValueError, match=rf"Received: {name}={value}"):
        BatchSettings.from_mapping({name: value})
    legacy = {"dropout": "recommender_dropout", "weight_decay": "recommender_weight_decay"}[name]
    with pytest.raises(ValueError, match=rf"Received: {name}={value}"):
        BatchSettings.from_mapping({legacy: value})


def test_latency_limit_must_be_positive():
    with pytest.raises(ValueError, match=r"Received: latency_p99_ms=0"):
        BatchSettings(latency_p99_ms=0)


def test_recommender_settings_are_a_config_with_the_runs_seed():
    fast = BatchSettings.fast(seed=7)
    assert fast.recommender == RecommenderConfig(
        **{**BATCH_RECOMMENDER, **FAST_RECOMMENDER}, seed=7
    )
    assert BatchSettings(seed=3).recommender.seed == 3
    # today's batch values (the demo's figures depend on them)
    assert BatchSettings.demo().recommender == RecommenderConfig(
        epochs=5,
        num_blocks=2,
        num_heads=2,
        batch_size=32,
        hidden_dim=32,
        max_length=50,
        dropout=0.2,
        weight_decay=0.1,
        learning_rate=1e-2,
        learning_rate_decay_epochs=None,
        seed=42,
    )
    assert (fast.recommender.epochs, fast.recommender.hidden_dim, fast.max_length) == (2, 16, 20)


def test_flat_settings_name_every_config_field_once():
    flat = BatchSettings().to_dict()
    assert [item.name for item in setting_fields()] == list(flat)
    assert {item.name for item in dataclasses.fields(RecommenderConfig)} <= set(flat)
    assert all(item.metadata["help"] for item in setting_fields())


def test_settings_from_airflow_params_ignore_other_keys():
    settings = BatchSettings.from_mapping({"seed": 3, "num_users": 50, "artifacts_root": "/x"})
    assert settings.seed == 3 and settings.num_users == 50
    assert BatchSettings.from_mapping(settings.to_dict()) == settings


def test_interval_run_root_is_keyed_on_the_interval(tmp_path):
    assert batch.interval_run_root(tmp_path, "2024-03-01") == tmp_path / "runs" / "2024-03-01"


@pytest.mark.parametrize("key", ["", "../escape", "a/b", " 2024"])
def test_interval_run_root_rejects_unsafe_keys(tmp_path, key):
    with pytest.raises(ValueError, match="Received: interval_key="):
        batch.interval_run_root(tmp_path, key)


def test_serving_root_defaults_to_the_layout(tmp_path):
    run = BatchRun(root=tmp_path)
    assert run.serving_root == tmp_path / "serving"
    assert BatchRun(root=tmp_path, serving_root=tmp_path / "shared").serving_root == (
        tmp_path / "shared"
    )


def test_missing_input_fails_the_step_at_once(tmp_path):
    run = BatchRun(root=tmp_path, settings=BatchSettings.fast())
    with pytest.raises(FileNotFoundError, match="Received: input="):
        batch.run_pipeline(run, "events", tmp_path / "missing.csv")


def test_steps_call_functions_not_the_command_line():
    assert not hasattr(batch, "run_command") and not hasattr(batch, "command_available")


def test_generate_inputs_is_idempotent(tmp_path):
    run = BatchRun(root=tmp_path, settings=BatchSettings.fast(seed=5))

    def digests() -> dict[str, str]:
        paths = batch.generate_inputs(run)
        return {
            kind: hashlib.sha256(open(path, "rb").read()).hexdigest()
            for kind, path in paths.items()
        }

    first = digests()
    assert set(first) == {"events", "news", "chats"}
    assert digests() == first


def test_unknown_pipeline_kind(tmp_path):
    with pytest.raises(ValueError, match="Received: kind='clicks'"):
        batch.run_pipeline(BatchRun(root=tmp_path), "clicks")


def test_unknown_text_task(tmp_path):
    with pytest.raises(ValueError, match="Received: task='topic'"):
        batch.train_text_model(BatchRun(root=tmp_path), "topic")
