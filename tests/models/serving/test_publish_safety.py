"""Publish under hostile conditions: symlinks, failures after the commit, two publishes at once,
paths recorded in shipped artifacts, servable names."""

import json
import os
import subprocess
import sys

import pytest

from models.serving import versions as serving_versions
from models.serving.models_config import parse_model_server_config
from models.serving.publish import export_version, publish_candidate, roll_back_model
from tests.models.serving.test_publish import FAST, MAX_LENGTH, VOCABULARY, _candidate
from tests.paths import REPO_ROOT
from tests.serving_test_model import TinyAttentionRecommender

pytestmark = pytest.mark.slow  # a minute or more


@pytest.fixture(scope="module")
def model():
    return TinyAttentionRecommender(len(VOCABULARY), MAX_LENGTH)


def _published_entries(root, name="recommender"):
    return [
        entry
        for entry in serving_versions.read_publish_log(root)
        if entry["name"] == name and entry["decision"] == "published"
    ]


def test_a_symlinked_staging_folder_is_refused_before_anything_changes(tmp_path, model):
    root = tmp_path / "serving"
    assert publish_candidate(_candidate(model), root, "recommender", **FAST).published
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "keep.txt").write_text("not ours")
    link = root / "recommender" / ".incoming-7-deadbeef"
    link.symlink_to(outside, target_is_directory=True)
    with pytest.raises(ValueError, match=r"symbolic links.*Received: path='.*\.incoming-7-"):
        publish_candidate(_candidate(model, 0.31), root, "recommender", **FAST)
    assert (outside / "keep.txt").read_text() == "not ours" and link.is_symlink()
    assert serving_versions.list_versions(root / "recommender") == [1]
    assert len(serving_versions.read_publish_log(root)) == 1


def test_a_symlinked_version_is_refused_up_front_by_publish_export_and_rollback(tmp_path, model):
    root = tmp_path / "serving"
    assert publish_candidate(_candidate(model), root, "recommender", **FAST).published
    real = tmp_path / "elsewhere"
    (root / "recommender" / "1").rename(real)
    (root / "recommender" / "1").symlink_to(real, target_is_directory=True)
    before = serving_versions.read_publish_log(root)
    for call in (
        lambda: publish_candidate(_candidate(model, 0.31), root, "recommender", keep=1, **FAST),
        lambda: export_version(lambda *_: None, root, "recommender"),
        lambda: roll_back_model(root, "recommender"),
    ):
        with pytest.raises(ValueError, match=r"Received: path='.*recommender/1'"):
            call()
    assert serving_versions.read_publish_log(root) == before
    assert sorted(child.name for child in (root / "recommender").iterdir()) == ["1"]
    assert (real / "saved_model.pb").is_file()


def test_a_failure_while_pruning_is_logged_not_raised(tmp_path, model):
    root = tmp_path / "serving"
    assert publish_candidate(_candidate(model), root, "recommender", **FAST).published

    def fail_while_pruning(step):
        if step.startswith("retired:"):
            raise OSError(f"disk trouble at {step}")

    decision = publish_candidate(
        _candidate(model, 0.31), root, "recommender", keep=1, progress=fail_while_pruning, **FAST
    )
    assert decision.published and decision.version == 2
    assert "disk trouble at retired:1" in decision.extra["pruned_error"]
    assert [entry["version"] for entry in _published_entries(root)] == [1, 2]
    config = parse_model_server_config((root / "models.config").read_text())
    assert [config.name for config in config.model_config_list.config] == ["recommender"]
    assert serving_versions.list_versions(root / "recommender") == [2]
    # the leftover `.retired-1-<pid>-*` folder is deleted by the next publish
    assert publish_candidate(_candidate(model, 0.32), root, "recommender", keep=1, **FAST).published
    assert sorted(child.name for child in (root / "recommender").iterdir()) == ["3"]


def test_shipped_artifacts_record_paths_relative_to_the_artifacts_root(tmp_path, model):
    artifacts = tmp_path / "artifacts"
    root = artifacts / "serving"
    candidate = _candidate(model)
    candidate.source = str(artifacts / "models" / "recommender")
    decision = publish_candidate(candidate, root, "recommender", **FAST)
    assert decision.published
    metadata = serving_versions.read_export_metadata(root / "recommender" / "1")
    assert metadata["source"] == "models/recommender"
    (entry,) = serving_versions.read_publish_log(root)
    assert entry["path"] == "serving/recommender/1" and entry["source"] == "models/recommender"

    outside = _candidate(model, 0.31)
    outside.source = str(tmp_path / "elsewhere" / "trained-model")
    assert publish_candidate(outside, root, "recommender", **FAST).published
    assert serving_versions.read_export_metadata(root / "recommender" / "2")["source"] == (
        "trained-model"
    )
    text = (root / "publish_log.jsonl").read_text() + json.dumps(metadata)
    assert str(tmp_path) not in text


@pytest.mark.parametrize("name", ['evil" } config { name: "pwned', "", ".hidden", "a b", "a/b"])
def test_servable_names_are_validated_at_every_entry_point(tmp_path, model, name):
    for call in (
        lambda: publish_candidate(_candidate(model), tmp_path, name, **FAST),
        lambda: export_version(lambda *_: None, tmp_path, name),
        lambda: roll_back_model(tmp_path, name),
    ):
        with pytest.raises(ValueError, match="Received: name="):
            call()
    assert list(tmp_path.iterdir()) == []


def _start(root, ndcg, pause_at=None):
    command = [sys.executable, "-m", "tests.models.serving.publish_process"]
    command += [str(root), "recommender", str(ndcg), "3"] + ([pause_at] if pause_at else [])
    return subprocess.Popen(
        command,
        cwd=REPO_ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _read_until(process, prefix):
    lines = []
    for line in process.stdout:
        lines.append(line)
        if line.startswith(prefix):
            return line, lines
    raise AssertionError(f"no {prefix!r} line; stderr: {process.stderr.read()[-2000:]}")


def test_two_publish_processes_on_one_root_take_turns(tmp_path):
    root = tmp_path / "serving"
    first = _start(root, 0.30, pause_at="staged")
    _read_until(first, "PAUSED staged")  # holds the lock, its staging folder is written
    (staged,) = [path for path in (root / "recommender").iterdir()]
    second = _start(root, 0.31)
    _read_until(second, "STEP lock")  # about to wait for the lock
    assert staged.exists()  # the second publish did not delete a live staging folder
    first.stdin.write("go\n")
    first.stdin.close()
    decisions = []
    for process in (first, second):
        line, _ = _read_until(process, "DECISION ")
        decisions.append(json.loads(line.split(" ", 1)[1]))
        assert process.wait(timeout=600) == 0, process.stderr.read()[-2000:]
        process.stderr.close()
    assert [(entry["decision"], entry["version"]) for entry in decisions] == [
        ("published", 1),
        ("published", 2),
    ]
    assert decisions[1]["previous_version"] == 1  # the second gated against the first
    assert [entry["version"] for entry in _published_entries(root)] == [1, 2]
    assert sorted(child.name for child in (root / "recommender").iterdir()) == ["1", "2"]


def test_only_stale_staging_folders_are_removed(tmp_path):
    base = tmp_path / "m"
    base.mkdir()
    sleeper = subprocess.Popen(
        [sys.executable, "-c", "import sys; sys.stdin.read()"], stdin=subprocess.PIPE
    )
    try:
        dead = subprocess.run(
            [sys.executable, "-c", "import os; print(os.getpid())"],
            capture_output=True,
            text=True,
            check=True,
        )
        live_name = f".incoming-2-{sleeper.pid}-abcd1234"
        dead_name = f".incoming-3-{int(dead.stdout)}-abcd1234"
        for folder in (live_name, dead_name, f".retired-1-{int(dead.stdout)}-00ff00ff"):
            (base / folder).mkdir()
        assert serving_versions.remove_stale_staging(base) == [
            dead_name,
            f".retired-1-{int(dead.stdout)}-00ff00ff",
        ]
        assert sorted(child.name for child in base.iterdir()) == [live_name]
    finally:
        sleeper.stdin.close()
        sleeper.wait(timeout=60)
    assert serving_versions.remove_stale_staging(base) == [live_name]
    assert os.listdir(base) == []
