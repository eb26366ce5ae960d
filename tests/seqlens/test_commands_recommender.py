"""`seqlens train recommender` / `seqlens evaluate recommender` on a contract Parquet run."""

import json

import pytest

from seqlens.cli import main
from tests.recommender_fixtures import planted_sequences, write_events_run


def test_train_and_evaluate_with_baselines(tmp_path, capsys):
    data = write_events_run(tmp_path / "events", planted_sequences(num_users=200, num_items=100))
    common = [
        "--data",
        str(data),
        "--hidden-dim",
        "32",
        "--num-blocks",
        "1",
        "--max-length",
        "10",
        "--epochs",
        "3",
        "--batch-size",
        "32",
        "--learning-rate",
        "0.005",
        "--dropout",
        "0.3",
        "--jit-compile",
        "off",
    ]
    assert main(["train", "recommender", "--output", str(tmp_path / "sasrec"), *common]) == 0
    assert (
        main(
            [
                "train",
                "recommender",
                "--output",
                str(tmp_path / "gru"),
                "--model",
                "gru4rec",
                "--no-train-on-unmonitored-validation",
                "--no-train-every-position",
                *common,
            ]
        )
        == 0
    )
    gru_config, sasrec_config = (
        json.loads((tmp_path / name / "config.json").read_text()) for name in ("gru", "sasrec")
    )
    assert (
        gru_config["train_on_unmonitored_validation"] is False
        and gru_config["train_every_position"] is False
    )
    assert (
        sasrec_config["train_on_unmonitored_validation"] is True
        and sasrec_config["train_every_position"] is True
    )
    assert (
        main(
            [
                "evaluate",
                "recommender",
                "--model",
                str(tmp_path / "sasrec"),
                "--data",
                str(data),
                "--compare",
                str(tmp_path / "gru"),
            ]
        )
        == 0
    )
    report = json.loads((tmp_path / "sasrec" / "metrics.json").read_text())
    assert set(report["models"]) == {"recommender", "most_popular", "markov", "gru"}
    assert set(report["models"]["recommender"]) == {"full", "sampled100"}
    model = report["models"]["recommender"]
    assert model["full"]["HR@10"] > 0.9
    assert model["full"]["NDCG@10"] > report["models"]["most_popular"]["full"]["NDCG@10"]
    assert "full/NDCG@10" in report["headline"] and report["users"] == 200
    assert (
        f"test targets (200 users): full NDCG@10 {model['full']['NDCG@10']:.4f}"
        in capsys.readouterr().out
    )
    assert (
        main(
            [
                "evaluate",
                "recommender",
                "--model",
                str(tmp_path / "sasrec"),
                "--data",
                str(data),
                "--split",
                "valid",
                "--k",
                "5",
                "--output",
                str(tmp_path / "valid.json"),
            ]
        )
        == 0
    )
    valid = json.loads((tmp_path / "valid.json").read_text())
    printed = capsys.readouterr().out
    assert (
        valid["split"] == "valid"
        and f"valid targets (200 users): full NDCG@5 {valid['headline']['full/NDCG@5']:.4f}"
        in printed
    )
    assert f"written to {tmp_path / 'valid.json'}" in printed


def test_input_errors_exit_with_code_2(tmp_path, capsys):
    assert (
        main(
            [
                "train",
                "recommender",
                "--data",
                str(tmp_path / "missing"),
                "--output",
                str(tmp_path / "m"),
            ]
        )
        == 2
    )
    assert "events run folder" in capsys.readouterr().err
    assert (
        main(
            [
                "train",
                "recommender",
                "--data",
                str(tmp_path),
                "--output",
                str(tmp_path / "m"),
                "--epochs",
                "0",
            ]
        )
        == 2
    )
    assert "Received: epochs=0" in capsys.readouterr().err


@pytest.mark.parametrize("k", ["7", "1"])
def test_evaluate_rejects_an_unreported_cutoff(tmp_path, capsys, k):
    assert (
        main(
            ["evaluate", "recommender", "--model", str(tmp_path), "--data", str(tmp_path), "--k", k]
        )
        == 2
    )
    assert "Received: k=" in capsys.readouterr().err


# Every option `seqlens train recommender --help` listed before its flags were derived from
# RecommenderConfig's fields.
TRAIN_OPTIONS = (
    "--data --output --model --precision --epochs --seed --loss --num-negatives --num-blocks "
    "--num-heads --hidden-dim --embedding-dim --max-length --attention-window --dropout "
    "--batch-size --exclude-history-from-loss --no-exclude-history-from-loss --output-bias "
    "--no-output-bias --pairwise-weight --label-smoothing --learning-rate --weight-decay "
    "--adam-epsilon --ema-momentum --learning-rate-decay-epochs --patience --validation-users "
    "--train-on-unmonitored-validation --no-train-on-unmonitored-validation "
    "--train-every-position --no-train-every-position --flash-attention --jit-compile --resume"
).split()


def test_train_flags_are_the_config_fields(capsys):
    import dataclasses

    from models.recommender.config import RecommenderConfig
    from seqlens.cli import build_parser
    from seqlens.commands.recommender import config_flag, config_from_args

    with pytest.raises(SystemExit):
        main(["train", "recommender", "--help"])
    help_text = capsys.readouterr().out
    assert all(option in help_text.split() or f"{option}," in help_text for option in TRAIN_OPTIONS)
    for field in dataclasses.fields(RecommenderConfig):
        assert config_flag(field.name) in help_text and field.metadata["help"]
    parser = build_parser()
    defaults = parser.parse_args(["train", "recommender", "--data", "d", "--output", "o"])
    assert config_from_args(defaults) == RecommenderConfig()
    args = parser.parse_args(
        ["train", "recommender", "--data", "d", "--output", "o", "--embedding-dim", "8"]
        + ["--flash-attention", "auto", "--jit-compile", "off", "--validation-users", "none"]
    )
    config = config_from_args(args)
    assert (config.hidden_dim, config.flash_attention, config.jit_compile) == (8, None, False)
    assert config.validation_users is None
