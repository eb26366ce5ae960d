import subprocess
import sys

from seqlens.cli import build_parser, main


def test_help_lists_subcommands(capsys):
    parser = build_parser()
    help_text = parser.format_help()
    for command in ("pipeline", "train", "evaluate", "export", "generate"):
        assert command in help_text


def test_console_script_runs_generate(tmp_path):
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "seqlens.cli",
            "generate",
            "--output",
            str(tmp_path),
            "--users",
            "30",
            "--items",
            "30",
            "--days",
            "5",
            "--chats",
            "20",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "events.csv").exists()


def test_bad_value_is_one_line_with_exit_code_2(tmp_path, capsys):
    code = main(["generate", "--output", str(tmp_path), "--users", "0"])
    assert code == 2
    error = capsys.readouterr().err.strip()
    assert error.count("\n") == 0 and "num_users" in error
