"""Recommender training killed (SIGKILL) at every reported step: `--resume` ends with the
weights of an uninterrupted run."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tests.reliability.support import MIN_KILL_POINTS, kill_at, report, spread, training_case

pytestmark = pytest.mark.slow  # a minute or more


def _checkpoint_variables(folder: Path) -> dict[str, np.ndarray]:
    with np.load(folder / "checkpoint" / "variables.npz") as arrays:
        return {name: arrays[name] for name in arrays.files}


def test_training_killed_anywhere_resumes_to_the_uninterrupted_weights(tmp_path):
    from models.recommender.training import train_recommender

    data, config = training_case()
    steps: list[str] = []
    _, history = train_recommender(
        data, tmp_path / "straight", config, verbose=0, progress=steps.append
    )
    reference = _checkpoint_variables(tmp_path / "straight")
    kill_points = spread(len(steps), len(steps))  # every step: 3 epochs give 13
    violations = []
    for k in kill_points:
        folder = tmp_path / f"kill-{k}"
        seen = kill_at("training", k, [folder])
        if seen != steps[:k]:
            violations.append(f"step {k}: the killed run reported {seen[-1:]}, not {steps[k - 1]}")
            continue
        try:
            _, resumed = train_recommender(data, folder, config, resume=True, verbose=0)
        except Exception as error:  # noqa: BLE001 (any failure to resume is a violation)
            violations.append(f"{steps[k - 1]}: resume failed: {type(error).__name__}: {error}")
            continue
        weights = _checkpoint_variables(folder)
        if weights.keys() != reference.keys():
            violations.append(f"{steps[k - 1]}: other variables after resume")
        for name in reference:
            if name in weights and not np.allclose(
                weights[name], reference[name], rtol=1e-5, atol=1e-6
            ):
                violations.append(f"{steps[k - 1]}: {name} differs after resume")
                break
        if [entry["epoch"] for entry in resumed] != [entry["epoch"] for entry in history]:
            violations.append(f"{steps[k - 1]}: history {[e['epoch'] for e in resumed]}")
        leftovers = sorted(p.name for p in folder.iterdir() if p.name.startswith("checkpoint."))
        if leftovers or any(p.name.endswith(".partial.keras") for p in folder.iterdir()):
            violations.append(f"{steps[k - 1]}: leftovers {leftovers}")
    report("training", len(kill_points), kill_points, violations)
    assert len(kill_points) >= MIN_KILL_POINTS
    assert violations == []
