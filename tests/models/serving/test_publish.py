import subprocess
import sys
from pathlib import Path

import pytest

from models.serving import versions as serving_versions
from models.serving.publish import publish_candidate, roll_back_model
from models.serving.recommender_candidate import recommender_candidate
from models.serving.recommender_signature import RecommenderServingSpec
from tests.paths import REPO_ROOT
from tests.serving_test_model import TinyAttentionRecommender, make_vocabulary, reference_recommend

VOCABULARY = make_vocabulary(30)
MAX_LENGTH = 6
HISTORIES = [["item_0001", "item_0004"], ["item_0010", "item_0002", "item_0007"], ["item_0020"]]
PROJECT_ROOT = REPO_ROOT
FAST = {"latency_requests": 10}


@pytest.fixture(scope="module")
def model():
    return TinyAttentionRecommender(len(VOCABULARY), MAX_LENGTH)


def _candidate(model, ndcg=0.30, reference_model=None):
    reference_model = reference_model or model
    return recommender_candidate(
        model,
        RecommenderServingSpec(tuple(VOCABULARY), max_length=MAX_LENGTH),
        HISTORIES,
        lambda histories, k: reference_recommend(reference_model, VOCABULARY, histories, k),
        metrics={"headline": {"full/NDCG@10": ndcg}},
        k=5,
        source="test",
    )


def _listing(base):
    return sorted(child.name for child in base.iterdir()) if base.exists() else []


def test_publish_then_reject_a_regression_then_roll_back(tmp_path, model):
    base = tmp_path / "recommender"
    first = publish_candidate(_candidate(model, 0.30), tmp_path, "recommender", **FAST)
    assert first.published and first.version == 1, first.reasons
    assert (base / "1" / "saved_model.pb").exists()
    assert (base / "1" / "assets.extra" / "tf_serving_warmup_requests").exists()
    assert (
        serving_versions.read_export_metadata(base / "1")["metrics"]["headline"]["full/NDCG@10"]
        == 0.30
    )
    assert first.checks["matches_keras"]["passed"] and first.checks["latency"]["p99_ms"] > 0

    before = _listing(base)
    worse = publish_candidate(_candidate(model, 0.10), tmp_path, "recommender", **FAST)
    assert not worse.published and worse.version == 2
    assert any("ndcg@10 regressed from 0.3000" in reason for reason in worse.reasons)
    assert _listing(base) == before  # the serving folder is untouched

    second = publish_candidate(_candidate(model, 0.305), tmp_path, "recommender", **FAST)
    assert second.published and second.version == 2
    rolled = roll_back_model(tmp_path, "recommender")
    assert rolled.decision == "rolled_back" and rolled.version == 1
    assert serving_versions.list_versions(base) == [1]
    log = serving_versions.read_publish_log(tmp_path)
    assert [entry["decision"] for entry in log] == [
        "published",
        "rejected",
        "published",
        "rolled_back",
    ]
    for entry in log:
        assert {"name", "version", "time", "decision", "reasons", "checks", "metrics"} <= set(entry)
    third = publish_candidate(_candidate(model, 0.31), tmp_path, "recommender", keep=1, **FAST)
    assert third.version == 3  # the rolled-back number is not reused
    assert third.extra["pruned_versions"] == [1] and serving_versions.list_versions(base) == [3]


def test_a_savedmodel_that_disagrees_with_keras_is_rejected(tmp_path, model):
    other = TinyAttentionRecommender(len(VOCABULARY), MAX_LENGTH, seed=99)
    decision = publish_candidate(
        _candidate(model, reference_model=other), tmp_path, "recommender", **FAST
    )
    assert not decision.published
    assert "differs from the Keras model" in decision.reasons[0]
    assert serving_versions.list_versions(tmp_path / "recommender") == []
    assert _listing(tmp_path / "recommender") == []  # no staging folder left behind


def test_latency_over_the_limit_is_rejected(tmp_path, model):
    decision = publish_candidate(
        _candidate(model), tmp_path, "recommender", latency_p99_ms=1e-6, **FAST
    )
    assert not decision.published and "p99 latency" in decision.reasons[0]


def test_bad_arguments(tmp_path, model):
    with pytest.raises(ValueError, match="Received: keep=0"):
        publish_candidate(_candidate(model), tmp_path, "m", keep=0)
    with pytest.raises(ValueError, match="at least two published versions"):
        roll_back_model(tmp_path, "m")


CRASH_SCRIPT = """
import os, signal, sys
from tests.models.serving.test_publish import (
    _candidate, TinyAttentionRecommender, VOCABULARY, MAX_LENGTH,
)
from models.serving.publish import publish_candidate

def die(staged):
    print("STAGED", staged, flush=True)
    os.kill(os.getpid(), signal.SIGKILL)  # a crash between the write and the rename

model = TinyAttentionRecommender(len(VOCABULARY), MAX_LENGTH)
publish_candidate(
    _candidate(model, 0.4), sys.argv[1], "recommender", latency_requests=5, before_commit=die
)
"""


def test_a_crash_mid_publish_leaves_no_version_behind(tmp_path, model):
    assert publish_candidate(_candidate(model, 0.30), tmp_path, "recommender", **FAST).published
    result = subprocess.run(
        [sys.executable, "-c", CRASH_SCRIPT, str(tmp_path)],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == -9, result.stderr[-2000:]
    staged = Path(result.stdout.split("STAGED ", 1)[1].strip())
    assert staged.exists() and (staged / "saved_model.pb").exists()  # fully written, never renamed
    base = tmp_path / "recommender"
    assert serving_versions.list_versions(base) == [1]  # TF Serving still sees only version 1
    assert not any(child.name.isdigit() and child.name != "1" for child in base.iterdir())
    after = publish_candidate(_candidate(model, 0.31), tmp_path, "recommender", **FAST)
    assert after.published and not staged.exists()  # the next publish cleans up
