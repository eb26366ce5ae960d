import pytest

from seqlens.cli import build_parser, main
from seqlens.commands.dashboard import dashboard_app_file, streamlit_command


def test_dashboard_is_a_subcommand():
    args = build_parser().parse_args(["dashboard", "--artifacts", "x", "--port", "9000"])
    assert args.port == 9000 and str(args.artifacts) == "x"


def test_streamlit_command_passes_the_root(tmp_path):
    command = streamlit_command(tmp_path, 8600, headless=True)
    assert command[command.index("run") + 1] == str(dashboard_app_file())
    assert command[1:3] == ["-m", "dashboard.server"]  # warm start, then Streamlit
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


def _free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _children(pid: int) -> list[int]:
    from pathlib import Path

    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(child) for child in path.read_text().split()] if path.exists() else []


def _alive(pid: int) -> bool:
    """Whether `pid` runs (a zombie waiting for its reaper counts as gone)."""
    from pathlib import Path

    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state != "Z"


@pytest.mark.skipif(not __import__("sys").platform.startswith("linux"), reason="needs /proc")
def test_sigterm_to_the_parent_stops_the_streamlit_child(tmp_path):
    import signal
    import socket
    import subprocess
    import sys
    import time

    port = _free_port()
    parent = subprocess.Popen(
        [sys.executable, "-m", "seqlens.cli", "dashboard", "--headless"]
        + ["--port", str(port), "--address", "127.0.0.1", "--artifacts", str(tmp_path)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    child = None
    try:
        deadline = time.monotonic() + 120  # generous: a wait limit, not a timing assertion
        serving = False
        while time.monotonic() < deadline and parent.poll() is None and not serving:
            children = _children(parent.pid)
            child = children[0] if children else child
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                serving = child is not None
            except OSError:
                time.sleep(0.5)
        assert serving and child is not None, "the dashboard did not start serving"
        parent.send_signal(signal.SIGTERM)
        parent.wait(timeout=120)
        deadline = time.monotonic() + 120
        while _alive(child) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not _alive(child), "the Streamlit child outlived its parent"
    finally:
        for pid in (parent.pid, child):
            if pid is not None and _alive(pid):
                __import__("os").kill(pid, signal.SIGKILL)
        parent.wait(timeout=30)
