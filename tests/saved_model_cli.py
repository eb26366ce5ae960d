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


def check_input_exprs(export_dir: str | Path, input_exprs: str, signature: str) -> None:
    """Refuse `input_exprs` that `saved_model_cli` would silently change.

    `saved_model_cli run` evaluates each expression with NumPy and the session casts it to the
    input's dtype: `k=[2.7]` for an int32 `k` runs as `k=[2]`, without a word. The SavedModel
    cannot see this (the graph receives 2), so it is checked here, before the run.

    Raises:
        ValueError: naming the input, for a non-integral number given to an integer input.
    """
    import numpy as np
    import tensorflow as tf

    specs = tf.saved_model.load(str(export_dir)).signatures[signature].structured_input_signature
    for assignment in filter(None, (part.strip() for part in input_exprs.split(";"))):
        name, expression = assignment.split("=", 1)
        spec = specs[1].get(name.strip())
        value = np.asarray(eval(expression, {"np": np}))  # what saved_model_cli does
        if spec is not None and spec.dtype.is_integer and value.dtype.kind == "f":
            if not np.all(np.equal(np.mod(value, 1), 0)):
                raise ValueError(
                    f"Expected integers for the {spec.dtype.name} input {name.strip()!r} "
                    "(saved_model_cli would truncate them). "
                    f"Received: {name.strip()}={expression.strip()}"
                )


def run_serving_default(
    export_dir: str | Path, input_exprs: str, check: bool = True
) -> subprocess.CompletedProcess:
    """`saved_model_cli run` of the `serve` tag's `serving_default` signature on `input_exprs`
    (checked first with `check_input_exprs` unless `check=False`)."""
    if check:
        check_input_exprs(export_dir, input_exprs, "serving_default")
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
