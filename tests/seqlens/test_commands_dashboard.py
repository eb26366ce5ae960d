import pytest

from seqlens.cli import build_parser, main
from seqlens.commands.dashboard import dashboard_app_file, streamlit_command


def test_dashboard_is_a_subcommand():
    args = build_parser().parse_args(["dashboard", "--artifacts", "x", "--port", "9000"])
    assert args.port == 9000 and str(args.artifacts) == "x"


def test_streamlit_command_passes_the_root(tmp_path):
    command = streamlit_command(tmp_path, 8600, headless=True)
    assert command[command.index("run") + 1] == str(dashboard_app_file())
    assert command[-3:] == ["--", "--artifacts", str(tmp_path)]
    assert command[command.index("run") + 1].endswith("dashboard/app.py")
    assert command[command.index("--server.port") + 1] == "8600"


def test_bad_port_raises():
    with pytest.raises(ValueError, match="Received: port=70000"):
        streamlit_command(__import__("pathlib").Path("."), 70000)


def test_missing_root_is_one_line_exit_2(tmp_path, capsys):
    assert main(["dashboard", "--artifacts", str(tmp_path / "absent")]) == 2
    error = capsys.readouterr().err.strip()
    assert error.count("\n") == 0 and "seqlens demo" in error


def test_item_metadata_is_passed_to_the_app(tmp_path):
    command = streamlit_command(tmp_path, 8600, item_metadata=tmp_path / "movies.csv")
    assert command[-2:] == ["--item-metadata", str(tmp_path / "movies.csv")]


def test_missing_item_metadata_is_one_line_exit_2(tmp_path, capsys):
    code = main(
        ["dashboard", "--artifacts", str(tmp_path), "--item-metadata", str(tmp_path / "no.csv")]
    )
    assert code == 2
    assert "Received: item_metadata=" in capsys.readouterr().err
