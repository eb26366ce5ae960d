"""TF Serving's REST predict API, in-process: JSON request -> tensors -> signature -> JSON response.

Follows TF Serving's documented conversion (https://www.tensorflow.org/tfx/serving/api_rest):

- row format `{"signature_name": ..., "instances": [...]}`: a list of objects, one per example,
  each naming every input (or bare values when the signature has one input). Each input's values
  are stacked along a new batch dimension, so every input shares it and all instances must have
  the same shape; the response is `{"predictions": [...]}`, one object per example (or bare
  values when there is one output).
- columnar format `{"inputs": {...}}` (or a bare value for one input): each input given whole,
  with its own shape; the response is `{"outputs": {...}}` (or a bare value for one output).

JSON numbers become the dtype the signature declares (a non-integral number for an integer
input is an error, as in TF Serving, never truncated); strings become UTF-8 `DT_STRING`.
Used by the tests (a request exactly as an application would send it), the docs and the demo.
"""

from __future__ import annotations

from typing import Any

import numpy as np


def request_to_tensors(body: dict[str, Any], signature: Any) -> dict[str, Any]:
    """Convert a REST predict body into the keyword tensors of `signature` (a concrete function)."""
    import tensorflow as tf

    specs = signature.structured_input_signature[1]  # name -> TensorSpec
    if ("instances" in body) == ("inputs" in body):
        raise ValueError(
            "Expected exactly one of 'instances' (row format) or 'inputs' (columnar "
            f"format). Received: keys={sorted(body)}"
        )
    if "instances" in body:
        instances = body["instances"]
        if not isinstance(instances, list) or not instances:
            raise ValueError(
                f"Expected 'instances' to be a non-empty list. Received: instances={instances!r}"
            )
        if len(specs) == 1 and not isinstance(instances[0], dict):
            columns = {next(iter(specs)): instances}
        else:
            if not all(isinstance(instance, dict) for instance in instances):
                raise ValueError(
                    "Expected every instance to be an object naming each input. "
                    f"Received: instances[0]={instances[0]!r}"
                )
            missing = [name for name in specs if any(name not in row for row in instances)]
            if missing:
                raise ValueError(
                    f"Expected every instance to have the inputs {sorted(specs)}. "
                    f"Received: instances without {missing}"
                )
            columns = {name: [row[name] for row in instances] for name in specs}
    else:
        inputs = body["inputs"]
        columns = inputs if isinstance(inputs, dict) else {next(iter(specs)): inputs}
    tensors = {}
    for name, spec in specs.items():
        if name not in columns:
            raise ValueError(f"Expected input {name!r}. Received: inputs={sorted(columns)}")
        value = columns[name]
        if spec.dtype.is_integer and not all(
            isinstance(item, int) and not isinstance(item, bool)
            for item in np.asarray(value, dtype=object).ravel()
        ):  # TF Serving's JSON parser: "JSON Value: 2.7 ... not of expected type: int32"
            raise ValueError(
                f"Expected input {name!r} to hold integers ({spec.dtype.name}), not truncated "
                f"floats. Received: {name}={value!r}"
            )
        try:
            array = np.asarray(
                value, dtype=object if spec.dtype == tf.string else spec.dtype.as_numpy_dtype
            )
        except (TypeError, ValueError) as error:
            raise ValueError(
                f"Expected input {name!r} to convert to {spec.dtype.name}. "
                f"Received: {name}={value!r} ({error})"
            ) from error
        if spec.dtype == tf.string and not all(isinstance(item, str) for item in array.ravel()):
            raise ValueError(f"Expected input {name!r} to hold strings. Received: {name}={value!r}")
        if not spec.shape.is_compatible_with(array.shape):
            raise ValueError(
                f"Expected input {name!r} of shape {spec.shape}. "
                f"Received: shape {list(array.shape)}"
            )
        tensors[name] = tf.constant(array, dtype=spec.dtype)
    return tensors


def predict(loaded: Any, body: dict[str, Any]) -> dict[str, Any]:
    """Answer a REST predict body with a loaded SavedModel, as `/v1/models/NAME:predict` would."""
    signature = loaded.signatures[body.get("signature_name", "serving_default")]
    outputs = {
        name: _to_json(tensor.numpy())
        for name, tensor in signature(**request_to_tensors(body, signature)).items()
    }
    if "inputs" in body:
        return {"outputs": outputs if len(outputs) > 1 else next(iter(outputs.values()))}
    batch_size = len(next(iter(outputs.values())))
    if len(outputs) == 1:
        return {"predictions": next(iter(outputs.values()))}
    return {
        "predictions": [
            {name: value[row] for name, value in outputs.items()} for row in range(batch_size)
        ]
    }


def _to_json(array: np.ndarray) -> Any:
    if array.dtype == object:
        return (
            np.vectorize(lambda item: item.decode("utf-8"), otypes=[object])(array).tolist()
            if array.size
            else array.tolist()
        )
    return array.tolist()
