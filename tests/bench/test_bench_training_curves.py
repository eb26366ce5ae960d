"""The recommender benchmark's training-curve figure."""

import json

import pytest

from bench.training_curves import plot_validation_curves, read_history


def _history(values):
    return [
        {"epoch": i + 1, "valid/full/NDCG@10": v, "elapsed_seconds": 40.0 * (i + 1)}
        for i, v in enumerate(values)
    ]


def test_writes_a_png_with_every_run(tmp_path):
    path = plot_validation_curves(
        {"default": _history([0.01, 0.03, 0.02]), "bce": _history([0.005])},
        tmp_path / "figures" / "curves.png",
        "Games",
    )
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert path.stat().st_size > 10_000


def test_empty_runs_are_refused(tmp_path):
    with pytest.raises(ValueError, match=r"Received: empty runs=\['bce'\]"):
        plot_validation_curves(
            {"default": _history([0.01]), "bce": []}, tmp_path / "c.png", "Games"
        )
    with pytest.raises(ValueError, match="Received: empty runs=all"):
        plot_validation_curves({}, tmp_path / "c.png", "Games")


def test_read_history(tmp_path):
    (tmp_path / "history.json").write_text(
        json.dumps({"epochs": _history([0.02]), "best_epoch": 1})
    )
    assert read_history(tmp_path) == _history([0.02])
    with pytest.raises(FileNotFoundError, match="no such file"):
        read_history(tmp_path / "missing")


def test_compare_history_argument():
    from bench.recommender import parse_compare_history

    assert parse_compare_history("games:constant lr=bench/work/x") == (
        "games",
        "constant lr",
        "bench/work/x",
    )
    for text in ("constant=bench/work/x", "books:a=b", "games:=b", "games:a="):
        with pytest.raises(ValueError, match=f"Received: '{text}'"):
            parse_compare_history(text)


def test_attention_settings_argument():
    from bench.recommender import parse_setting

    assert parse_setting("dropout=0.2") == ("dropout", 0.2)
    assert parse_setting("learning_rate_decay_epochs=null") == ("learning_rate_decay_epochs", None)
    assert parse_setting("loss=bce") == ("loss", "bce")
    for text in ("dropout", "droput=0.2"):
        with pytest.raises(ValueError, match=f"Received: '{text}'"):
            parse_setting(text)
