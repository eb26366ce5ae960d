"""`seqlens pipeline ...`: input errors exit 2 with one line; Beam flags pass through."""

import json

import pandas as pd
import pytest

from seqlens.cli import main
from seqlens.synthetic.generator import GenerateConfig, generate


@pytest.fixture(scope="module")
def raw(tmp_path_factory):
    config = GenerateConfig(
        num_users=20,
        num_items=20,
        num_days=2,
        num_tickers=2,
        num_chats=30,
        corrupt_fraction=0.05,
        seed=9,
    )
    return generate(tmp_path_factory.mktemp("raw"), config)


@pytest.mark.parametrize(
    "argv, message",
    [
        (
            ["pipeline", "events", "--input", "/no/such/file.csv", "--output", "o"],
            "input='/no/such/file.csv'",
        ),
        (
            ["pipeline", "events", "--input", ".", "--format", "xml", "--output", "o"],
            "format='xml'",
        ),
        (
            ["pipeline", "news", "--input", ".", "--format", "parquet", "--output", "o"],
            "format='parquet'",
        ),
        (
            ["pipeline", "chats", "--input", "/no/such/dir/", "--output", "o"],
            "input='/no/such/dir/'",
        ),
    ],
)
def test_input_errors_are_one_line_with_exit_code_2(argv, message, capsys):
    assert main(argv) == 2
    error = capsys.readouterr().err.strip()
    assert error.count("\n") == 0 and message in error


def test_wrong_column_is_exit_code_2(raw, tmp_path, capsys):
    code = main(
        [
            "pipeline",
            "events",
            "--input",
            str(raw["events"]),
            "--output",
            str(tmp_path),
            "--user-column",
            "customer",
        ]
    )
    assert code == 2
    assert "Received: user_column='customer'" in capsys.readouterr().err


def test_direct_runner_multi_processing_with_pass_through_flags(raw, tmp_path, capsys):
    output = tmp_path / "events"
    code = main(
        [
            "pipeline",
            "events",
            "--input",
            str(raw["events"]),
            "--output",
            str(output),
            "--max-timestamp",
            "2000000000",
            "--runner=DirectRunner",
            "--direct_num_workers=2",
            "--direct_running_mode=multi_processing",
        ]
    )
    assert code == 0
    stats = json.loads((output / "stats.json").read_text())
    assert stats["rows_in"] == stats["rows_out"] + stats["rows_dead"] and stats["users"] == 20
    run = json.loads((output / "run.json").read_text())
    assert run["runner"] == "DirectRunner"
    assert run["config"]["shuffle"] == "files" and run["config"]["num_buckets"] == 8
    assert "--direct_running_mode=multi_processing" in run["pipeline_args"]
    assert run["metrics"]["rows_in"] == stats["rows_in"]
    assert len(pd.read_parquet(output / "dead_letter")) == stats["rows_dead"]
    assert json.loads(capsys.readouterr().out.strip())["rows_in"] == stats["rows_in"]


@pytest.mark.parametrize(
    "flags, message",
    [
        (["--shuffle", "memory"], "Received: shuffle='memory'"),
        (["--num-buckets", "-1"], "Received: num_buckets=-1"),
    ],
)
def test_bad_grouping_options_are_exit_code_2(raw, tmp_path, capsys, flags, message):
    argv = ["pipeline", "events", "--input", str(raw["events"]), "--output", str(tmp_path / "o")]

    assert main(argv + flags) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_unknown_flags_still_fail_for_other_commands(tmp_path):
    with pytest.raises(SystemExit) as error:
        main(["generate", "--output", str(tmp_path), "--direct_num_workers=2"])
    assert error.value.code == 2


def test_time_split_cutoffs_accept_iso_and_reject_garbage(raw, tmp_path, capsys):
    code = main(
        [
            "pipeline",
            "events",
            "--input",
            str(raw["events"]),
            "--output",
            str(tmp_path / "o"),
            "--split",
            "time",
            "--valid-cutoff",
            "2024-01-10",
            "--test-cutoff",
            "soon",
        ]
    )
    assert code == 2
    assert "Received: test_cutoff='soon'" in capsys.readouterr().err
