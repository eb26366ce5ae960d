"""Run TensorFlow's `saved_model_cli` on an exported SavedModel, as an operator would.

Not a test module: the serving tests import it.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def saved_model_cli(*arguments: str) -> subprocess.CompletedProcess:
    """`saved_model_cli <arguments>` from this interpreter's environment; output as text."""
    cli = str(Path(sys.executable).with_name("saved_model_cli"))
    return subprocess.run(
        [cli, *arguments], capture_output=True, text=True, check=False, timeout=300
    )


def run_serving_default(export_dir: str | Path, input_exprs: str) -> subprocess.CompletedProcess:
    """`saved_model_cli run` of the `serve` tag's `serving_default` signature on `input_exprs`."""
    return saved_model_cli(
        "run",
        "--dir",
        str(export_dir),
        "--tag_set",
        "serve",
        "--signature_def",
        "serving_default",
        "--input_exprs",
        input_exprs,
    )
