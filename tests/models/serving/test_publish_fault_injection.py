"""Fault injection: a real `publish` process is killed with SIGKILL at each step of its run.

The kill points come from the process's own progress (`publish_candidate(progress=...)`: it
reports each step and pauses there until killed), not from a clock. Each run is a fresh process
forked from a server that imported TensorFlow once (`tests/reliability/fault_process.py`).
After each kill the serving root must satisfy the invariants TF Serving and rollback rely on:

1. every integer version folder is complete (`saved_model.pb` + `variables/`);
2. the previous version is still served, or the new one is served, complete and logged (a
   version committed just before the kill is logged by the next publish, from the decision it
   carries);
3. `models.config` parses (when present) and the next publish succeeds with a fresh number.
"""

import shutil

import pytest

from models.serving import versions as serving_versions
from models.serving.models_config import parse_model_server_config
from models.serving.publish import PUBLISH_STEPS, publish_candidate
from tests.models.serving.test_publish import FAST, MAX_LENGTH, VOCABULARY, _candidate
from tests.reliability.support import kill_at
from tests.serving_test_model import TinyAttentionRecommender

pytestmark = pytest.mark.slow  # a minute or more

NAME = "recommender"
# Every step of a publish that replaces version 2 and prunes version 1 (keep=1), in run order.
KILL_POINTS = [*PUBLISH_STEPS[:8], "retired:1", *PUBLISH_STEPS[8:]]


@pytest.fixture(scope="module")
def model():
    return TinyAttentionRecommender(len(VOCABULARY), MAX_LENGTH)


@pytest.fixture(scope="module")
def two_versions(tmp_path_factory, model):
    root = tmp_path_factory.mktemp("fault") / "serving"
    for ndcg in (0.30, 0.31):
        assert publish_candidate(_candidate(model, ndcg), root, NAME, **FAST).published
    return root


def _kill_at(root, step, steps_of_a_full_run):
    """Run a publish in a fresh process and SIGKILL it when it reports `step`."""
    pause_at = steps_of_a_full_run.index(step) + 1
    return kill_at("publish", pause_at, [root, NAME, "0.32", "1"])


def _violations(root, previous, new):
    base = root / NAME
    found = []
    for child in base.iterdir():
        if child.name.isdigit() and not (
            (child / "saved_model.pb").is_file() and (child / "variables").is_dir()
        ):
            found.append(f"incomplete version folder {child.name}")
    served = serving_versions.latest_version(base)
    published = {
        entry["version"]
        for entry in serving_versions.read_publish_log(root)
        if entry["name"] == NAME and entry["decision"] == "published"
    }
    if served == new:
        if new not in published:  # killed between the rename and the log line: recover
            with serving_versions.serving_root_lock(root):
                serving_versions.log_unlogged_versions(root, NAME)
            published = {entry["version"] for entry in serving_versions.read_publish_log(root)}
            if new not in published:
                found.append(f"version {new} served but never logged")
    elif served != previous:
        found.append(f"serving version {served}, expected {previous} or {new}")
    if (root / "models.config").exists():
        parse_model_server_config((root / "models.config").read_text())
    return found


def test_killing_publish_at_every_step_keeps_the_invariants(two_versions, model, tmp_path):
    tried, violations, committed = [], [], 0
    full_run = tmp_path / "full-run" / "serving"
    shutil.copytree(two_versions, full_run)
    steps_of_a_full_run = kill_at("publish", 0, [full_run, NAME, "0.32", "1"])
    assert set(KILL_POINTS) <= set(steps_of_a_full_run), steps_of_a_full_run
    for index, step in enumerate(KILL_POINTS):
        root = tmp_path / f"kill-{index}" / "serving"
        shutil.copytree(two_versions, root)
        steps = _kill_at(root, step, steps_of_a_full_run)
        assert steps[-1] == step, steps
        tried.append(step)
        found = _violations(root, previous=2, new=3)
        committed += serving_versions.latest_version(root / NAME) == 3
        after = publish_candidate(_candidate(model, 0.33), root, NAME, keep=1, **FAST)
        if not after.published:
            found.append(f"next publish rejected: {after.reasons}")
        elif after.version not in (3, 4) or serving_versions.list_versions(root / NAME) != [
            after.version
        ]:
            found.append(f"next publish gave version {after.version}")
        leftovers = [child.name for child in (root / NAME).iterdir() if child.name[0] == "."]
        if leftovers:
            found.append(f"leftovers after the next publish: {leftovers}")
        violations += [f"{step}: {problem}" for problem in found]
    print(
        f"kill points tried: {len(tried)}; committed before the kill: {committed}; "
        f"invariant violations: {len(violations)}"
    )
    assert len(tried) >= 10 and tried == KILL_POINTS
    assert violations == []
    assert 0 < committed < len(tried)  # both sides of the rename were hit
