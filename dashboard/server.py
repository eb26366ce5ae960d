"""The dashboard's server process: start the models' warm-up, then run Streamlit in-process.

`python -m dashboard.server run dashboard/app.py [streamlit options] -- --artifacts DIR` takes
the same arguments as `streamlit run`. Before handing over to Streamlit's own command line it
starts `dashboard.warm_start` for the artifacts root (from `--artifacts` after `--`, else
`$SEQLENS_ARTIFACTS`, else `./seqlens-demo`): as soon as the server answers its health check the
models load in the background, and a first page visit finds them in the cache (a visit during the
warm-up waits for the load in progress instead of starting a second one: `st.cache_resource`
computes each entry once). `seqlens dashboard` runs this module.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence


def app_arguments(argv: Sequence[str]) -> list[str]:
    """The app's own arguments: everything after the first `--` of a `streamlit run` line."""
    arguments = list(argv)
    return arguments[arguments.index("--") + 1 :] if "--" in arguments else []


def server_url(argv: Sequence[str]) -> str | None:
    """The base URL the server will answer on (`--server.address`, `--server.port`; Streamlit's
    defaults `localhost`, 8501); None for port 0 (a port chosen at random)."""
    from dashboard.artifacts import flag_value

    options = list(argv)[: list(argv).index("--")] if "--" in argv else list(argv)
    port = flag_value(options, "--server.port") or "8501"
    address = flag_value(options, "--server.address") or "localhost"
    if address in ("0.0.0.0", "::", ""):
        address = "127.0.0.1"
    return None if port == "0" else f"http://{address}:{port}"


def main(argv: Sequence[str] | None = None) -> int:
    """Start the warm-up for the artifacts root (it begins once the server answers), then
    `streamlit <argv>` in this process."""
    from dashboard.artifacts import resolve_artifacts_root
    from dashboard.warm_start import follow_sidebar_roots, start_warm_start

    arguments = list(sys.argv[1:] if argv is None else argv)
    if not arguments or arguments[0] != "run":
        raise ValueError(
            "Expected `streamlit run` arguments (run APP [options] -- [app arguments]). "
            f"Received: argv={arguments!r}"
        )
    root = resolve_artifacts_root(app_arguments(arguments))
    if root.is_dir():
        start_warm_start(root, after_serving=server_url(arguments))
    follow_sidebar_roots()
    from streamlit.web import cli

    sys.argv = ["streamlit", *arguments]
    return cli.main(prog_name="streamlit")


if __name__ == "__main__":
    sys.exit(main())
