"""The shared batch-path steps: settings, interval keys, running commands, idempotent outputs."""

from __future__ import annotations

import hashlib

import pytest

from seqlens import batch
from seqlens.batch import BatchRun, BatchSettings


def test_fast_settings_are_smaller_than_the_defaults():
    fast, default = BatchSettings.fast(), BatchSettings()
    assert fast.num_users < default.num_users and fast.num_chats < default.num_chats


@pytest.mark.parametrize(
    "name",
    [
        "num_users",
        "num_items",
        "num_days",
        "num_chats",
        "max_length",
        "recommender_epochs",
        "recommender_blocks",
        "recommender_heads",
        "recommender_batch_size",
        "text_epochs",
        "embedding_dim",
        "text_embedding_dim",
        "top_k",
        "gate_requests",
    ],
)
def test_positive_settings_reject_zero(name):
    with pytest.raises(ValueError, match=rf"Received: {name}=0"):
        BatchSettings(**{name: 0})


def test_learning_rate_rejects_negative():
    with pytest.raises(ValueError, match=r"Received: learning_rate=-0.1"):
        BatchSettings(learning_rate=-0.1)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("recommender_dropout", 1.0),
        ("recommender_dropout", -0.1),
        ("recommender_weight_decay", -0.5),
    ],
)
def test_recommender_regularisation_is_validated(name, value):
    with pytest.raises(ValueError, match=rf"Received: {name}={value}"):
        BatchSettings(**{name: value})


def test_latency_limit_must_be_positive():
    with pytest.raises(ValueError, match=r"Received: latency_p99_ms=0"):
        BatchSettings(latency_p99_ms=0)


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


def test_command_available():
    assert batch.command_available("generate")
    assert not batch.command_available("no-such-command")
    assert not batch.command_available("train", "no-such-model")


def test_unregistered_command_is_unavailable():
    with pytest.raises(batch.StepUnavailableError, match="not registered"):
        batch.run_command(("train", "no-such-model"), [])


def test_failing_command_raises_with_its_exit_code(tmp_path):
    with pytest.raises(batch.StepFailedError, match="exited with code 2"):
        batch.run_command(("generate",), ["--output", tmp_path, "--users", 0])


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
