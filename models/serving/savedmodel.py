"""The SavedModel export skeleton every seqlens servable goes through.

A signature module (`models.serving.recommender_signature`, `models.serving.text_signature`)
says *what* is served: a `tf.Module` holding one `tf.function` per signature, the text assets it
reads, representative requests and a description. `export_savedmodel` does the rest, the same
way for every kind of model:

1. refuse an `export_dir` that exists (a version folder is written once);
2. write each asset (one entry a line) into a temporary folder and build the module on them
   (`tf.saved_model.Asset` copies them to `assets/` on save);
3. track the plain `tf.Variable`s the signatures read (`track_function_variables`), so that TF
   Serving's session-based loader finds them;
4. `tf.saved_model.save` with the named signatures (method `tensorflow/serving/predict`);
5. write `assets.extra/tf_serving_warmup_requests` and `assets.extra/seqlens_export.json`.

`xla_compiled` is the optional XLA step a module may apply to its numeric core.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from models.serving.versions import write_export_metadata
from models.serving.warmup_requests import write_warmup_requests


def export_savedmodel(
    export_dir: str | Path,
    model_name: str,
    *,
    kind: str,
    build_module: Callable[[Mapping[str, str]], Any],
    signature_names: Sequence[str],
    assets: Mapping[str, Sequence[str]],
    warmup_inputs: Sequence[Mapping[str, np.ndarray]],
    metadata: Mapping[str, Any] | None = None,
) -> Path:
    """Write a servable SavedModel: signatures, assets, warm-up requests, export metadata.

    Args:
        export_dir: the folder to create (must not exist; normally a staging folder).
        model_name: the servable name written into the warm-up requests and the metadata.
        kind: `recommender`, `sentiment` or `intent` (the metadata's `kind`).
        build_module: `build_module(asset_paths)` -> a `tf.Module` holding each signature's
            `tf.function` under the signature's name; `asset_paths` maps each name of `assets`
            to the path of its file.
        signature_names: the signatures to export, `serving_default` first.
        assets: file name -> lines (entries without line breaks), e.g. a vocabulary.
        warmup_inputs: requests (input name -> array with a batch dimension) replayed by TF
            Serving when it loads the version.
        metadata: more JSON for `assets.extra/seqlens_export.json` (model figures, source,
            metrics); it may override the keys written here.

    Returns:
        `export_dir` as a `Path`.
    """
    import tensorflow as tf

    export_dir = Path(export_dir)
    if export_dir.exists():
        raise ValueError(
            f"Expected export_dir not to exist. Received: export_dir={str(export_dir)!r}"
        )
    if not signature_names:
        raise ValueError("Expected at least one signature. Received: signature_names=[]")
    with tempfile.TemporaryDirectory(prefix="seqlens-assets-") as staging:
        asset_paths = {}
        for file_name, lines in assets.items():
            path = Path(staging) / file_name
            path.write_text("\n".join(lines) + "\n", encoding="utf-8")
            asset_paths[file_name] = str(path)
        module = build_module(asset_paths)
        functions = [getattr(module, name) for name in signature_names]
        track_function_variables(module, functions)
        signatures = {
            name: function.get_concrete_function()
            for name, function in zip(signature_names, functions, strict=True)
        }
        tf.saved_model.save(module, str(export_dir), signatures=signatures)
    write_warmup_requests(export_dir, model_name, warmup_inputs)
    write_export_metadata(
        export_dir,
        {
            "kind": kind,
            "model_name": model_name,
            "signatures": list(signature_names),
            **(metadata or {}),
        },
    )
    return export_dir


def track_function_variables(module: Any, functions: Sequence[Any]) -> None:
    """Track the `tf.Variable`s the traced `functions` read, as `keras.export.ExportArchive` does.

    Tracking the Keras model object (or its Keras 3 variables) is enough for
    `tf.saved_model.load`, but TF Serving's session-based loader (and `saved_model_cli run`)
    then fails with "Could not find variable ...": it needs the plain `tf.Variable`s the
    functions capture. They are stored as `module.function_variables`.
    """
    variables: dict[int, Any] = {}
    for function in functions:
        for variable in function.get_concrete_function().variables:
            variables.setdefault(id(variable), variable)
    module.function_variables = list(variables.values())


def xla_compiled(function: Callable[..., Any], jit_compile: bool) -> Callable[..., Any]:
    """`function` as one XLA cluster when `jit_compile`, else unchanged.

    Retracing is reduced so that the cluster compiles once per input shape. TF Serving runs a
    SavedModel holding such a function only with `--xla_cpu_compilation_enabled=true` (CPU).
    """
    if not jit_compile:
        return function
    import tensorflow as tf

    return tf.function(function, jit_compile=True, reduce_retracing=True)
