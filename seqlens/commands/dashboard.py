"""`seqlens dashboard`: start the Streamlit dashboard over an artifacts root.

The server process (`python -m dashboard.server`, Streamlit in-process) starts loading the trained
models in a background thread as it comes up (`dashboard.warm_start`), so a first page visit does
not wait for TensorFlow.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import signal
import subprocess
import sys
from pathlib import Path

# Signals that stop the dashboard: forwarded to the Streamlit child, which shuts down cleanly.
FORWARDED_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)


def dashboard_app_file() -> Path:
    """The Streamlit script `dashboard/app.py`, found without importing the dashboard package.

    The dashboard sits above the application in the layering (it imports `seqlens`), so the
    command that starts it locates its script on the import path and runs it in a child
    process: `streamlit run` imports it there.
    """
    spec = importlib.util.find_spec("dashboard")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(
            "Expected the `dashboard` package to be installed beside `seqlens`. "
            "Received: no package named 'dashboard' on the import path"
        )
    return Path(next(iter(spec.submodule_search_locations))) / "app.py"


def register(commands) -> None:
    """Add `seqlens dashboard` to `commands` (see `seqlens.cli.CommandGroups`)."""
    parser = commands.top.add_parser(
        "dashboard",
        help="start the Streamlit dashboard (predictions and the attention behind them)",
        description="Start the Streamlit dashboard over the artifacts a seqlens run produced.",
    )
    parser.add_argument(
        "--artifacts",
        type=Path,
        default=None,
        help="artifacts root (default: $SEQLENS_ARTIFACTS, else ./seqlens-demo)",
    )
    parser.add_argument(
        "--item-metadata",
        type=Path,
        default=None,
        help="item titles: an item_id,title,category CSV or a MovieLens movies.csv "
        "(movieId,title,genres) (default: <artifacts>/raw/items.csv or raw/movies.csv if present)",
    )
    parser.add_argument("--port", type=int, default=8501, help="port to listen on (default 8501)")
    parser.add_argument(
        "--address",
        default="localhost",
        help="address to bind (default localhost; 0.0.0.0 to expose it)",
    )
    parser.add_argument("--headless", action="store_true", help="do not open a browser window")
    parser.set_defaults(handler=run_dashboard)


def streamlit_command(
    artifacts: Path,
    port: int,
    address: str = "localhost",
    headless: bool = False,
    item_metadata: Path | None = None,
) -> list[str]:
    """The command line of the dashboard's server: `streamlit run` arguments, run by
    `dashboard.server`, which starts loading the models in the background first (warm start)."""
    if not 1 <= port <= 65535:
        raise ValueError(f"Expected port in [1, 65535]. Received: port={port}")
    extra = ["--item-metadata", str(item_metadata)] if item_metadata else []
    return [
        sys.executable,
        "-m",
        "dashboard.server",
        "run",
        str(dashboard_app_file()),
        "--server.port",
        str(port),
        "--server.address",
        address,
        "--server.headless",
        "true" if headless else "false",
        "--browser.gatherUsageStats",
        "false",
        "--",
        "--artifacts",
        str(artifacts),
        *extra,
    ]


def _die_with_parent() -> None:
    """In the child before `exec` (Linux): receive SIGTERM when the parent dies, even by SIGKILL."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        pr_set_pdeathsig = 1
        libc.prctl(pr_set_pdeathsig, int(signal.SIGTERM))
    except (OSError, AttributeError):  # not Linux / no prctl: forwarding still covers SIGTERM
        pass


def run_child_forwarding_signals(command: list[str], environment: dict[str, str]) -> int:
    """Run `command` as a child process, forwarding SIGTERM, SIGINT and SIGHUP to it.

    A service manager, `docker stop` or `kill` signals this process only; without forwarding,
    the Streamlit child would keep serving after its parent is gone. On Linux the child also
    gets SIGTERM if this process dies without the chance to forward (SIGKILL).

    Returns:
        The child's exit code; 0 when it stopped because a forwarded signal asked it to.
    """
    preexec = _die_with_parent if sys.platform.startswith("linux") else None
    child = subprocess.Popen(command, env=environment, preexec_fn=preexec)
    received: list[int] = []

    def forward(signum, _frame) -> None:
        received.append(signum)
        if child.poll() is None:
            child.send_signal(signum)

    previous = {signum: signal.signal(signum, forward) for signum in FORWARDED_SIGNALS}
    try:
        while True:
            try:
                code = child.wait()
                break
            except KeyboardInterrupt:  # a SIGINT between handler swaps: forward and keep waiting
                forward(signal.SIGINT, None)
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        if child.poll() is None:
            child.terminate()
            child.wait()
    return 0 if received else code


def run_dashboard(args: argparse.Namespace) -> int:
    """Run `streamlit run dashboard/app.py` until stopped; returns Streamlit's exit code.

    SIGTERM, SIGINT and SIGHUP sent to `seqlens dashboard` are forwarded to Streamlit (see
    `run_child_forwarding_signals`), so stopping the parent stops the server.
    """
    from seqlens.layout import ARTIFACTS_ENV_VAR, default_artifacts_root

    # as given (relative stays relative: the sidebar shows it, the child shares the working
    # directory); checked through its resolved form
    artifacts = args.artifacts or default_artifacts_root()
    if not artifacts.resolve().is_dir():
        raise FileNotFoundError(
            f"Expected an existing artifacts folder (run `seqlens demo --output {artifacts}` "
            f"first). Received: artifacts={str(artifacts.resolve())!r}"
        )
    if args.item_metadata is not None and not args.item_metadata.is_file():
        raise FileNotFoundError(
            "Expected an existing item metadata CSV. "
            f"Received: item_metadata={str(args.item_metadata)!r}"
        )
    item_metadata = args.item_metadata  # as given, like the artifacts root
    command = streamlit_command(artifacts, args.port, args.address, args.headless, item_metadata)
    environment = {**os.environ, ARTIFACTS_ENV_VAR: str(artifacts)}
    print(f"seqlens dashboard: http://{args.address}:{args.port} over {artifacts}", flush=True)
    return run_child_forwarding_signals(command, environment)
