"""TF Serving warm-up records (`assets.extra/tf_serving_warmup_requests`), written without
`tensorflow-serving-api`.

TF Serving replays the `PredictionLog` records of this TFRecord file when it loads a version,
so the first real request does not pay for graph tracing, table initialisation and memory
allocation. The messages live in `tensorflow_serving.apis`, whose PyPI package
(`tensorflow-serving-api==2.21.0`) requires the `tensorflow` distribution and would install it
next to `tensorflow-cpu`. So this module declares the four messages it needs (`ModelSpec`,
`PredictRequest`, `PredictLog`, `PredictionLog`) with the field numbers of TF Serving's
`.proto` files, in a private descriptor pool, reusing TensorFlow's own `TensorProto`. The bytes
are the ones `tensorflow_serving.apis.prediction_log_pb2.PredictionLog` writes and reads.

Field numbers (tensorflow_serving/apis): `PredictionLog.predict_log = 6`,
`PredictLog.request = 1`, `PredictRequest.model_spec = 1`, `PredictRequest.inputs = 2`
(`map<string, TensorProto>`), `ModelSpec.name = 1`, `ModelSpec.signature_name = 3`.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

WARMUP_FILE_NAME = "tf_serving_warmup_requests"
ASSETS_EXTRA = "assets.extra"
_PACKAGE = "tensorflow.serving"
_FILE_NAME = "seqlens/tensorflow_serving_prediction_log_subset.proto"


@functools.cache
def _message_classes() -> dict[str, Any]:
    """Build the `PredictionLog` message classes in a private descriptor pool (once)."""
    from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
    from tensorflow.core.framework import tensor_pb2

    pool = descriptor_pool.DescriptorPool()
    _add_file_with_dependencies(pool, tensor_pb2.DESCRIPTOR)

    file_proto = descriptor_pb2.FileDescriptorProto(
        name=_FILE_NAME,
        package=_PACKAGE,
        syntax="proto3",
        dependency=[tensor_pb2.DESCRIPTOR.name],
    )
    field = descriptor_pb2.FieldDescriptorProto
    optional, repeated = field.LABEL_OPTIONAL, field.LABEL_REPEATED

    def add_message(name: str, fields: list[tuple[str, int, int, int, str]], **options) -> Any:
        message = file_proto.message_type.add(name=name)
        for field_name, number, field_type, label, type_name in fields:
            message.field.add(
                name=field_name,
                number=number,
                type=field_type,
                label=label,
                type_name=type_name or None,
            )
        if options:
            message.options.map_entry = options["map_entry"]
        return message

    add_message(
        "ModelSpec",
        [
            ("name", 1, field.TYPE_STRING, optional, ""),
            ("signature_name", 3, field.TYPE_STRING, optional, ""),
        ],
    )
    request = add_message(
        "PredictRequest",
        [
            ("model_spec", 1, field.TYPE_MESSAGE, optional, f".{_PACKAGE}.ModelSpec"),
            ("inputs", 2, field.TYPE_MESSAGE, repeated, f".{_PACKAGE}.PredictRequest.InputsEntry"),
            ("output_filter", 3, field.TYPE_STRING, repeated, ""),
        ],
    )
    entry = request.nested_type.add(name="InputsEntry")
    entry.field.add(name="key", number=1, type=field.TYPE_STRING, label=optional)
    entry.field.add(
        name="value",
        number=2,
        type=field.TYPE_MESSAGE,
        label=optional,
        type_name=".tensorflow.TensorProto",
    )
    entry.options.map_entry = True
    add_message(
        "PredictLog",
        [
            ("request", 1, field.TYPE_MESSAGE, optional, f".{_PACKAGE}.PredictRequest"),
        ],
    )
    prediction_log = add_message(
        "PredictionLog",
        [
            ("predict_log", 6, field.TYPE_MESSAGE, optional, f".{_PACKAGE}.PredictLog"),
        ],
    )
    prediction_log.oneof_decl.add(name="log_type")
    prediction_log.field[0].oneof_index = 0
    pool.Add(file_proto)
    return {
        name: message_factory.GetMessageClass(pool.FindMessageTypeByName(f"{_PACKAGE}.{name}"))
        for name in ("ModelSpec", "PredictRequest", "PredictLog", "PredictionLog")
    }


def _add_file_with_dependencies(pool: Any, file_descriptor: Any) -> None:
    from google.protobuf import descriptor_pb2

    for dependency in file_descriptor.dependencies:
        _add_file_with_dependencies(pool, dependency)
    try:
        pool.FindFileByName(file_descriptor.name)
    except KeyError:
        file_proto = descriptor_pb2.FileDescriptorProto()
        file_descriptor.CopyToProto(file_proto)
        pool.Add(file_proto)


def prediction_log_bytes(
    model_name: str, inputs: Mapping[str, Any], signature_name: str = "serving_default"
) -> bytes:
    """Serialise one `PredictionLog` holding a `PredictRequest` for `inputs`.

    Args:
        model_name: the servable name (`ModelSpec.name`); TF Serving does not check it on warm-up.
        inputs: input alias -> array-like (`np.ndarray`, list); strings become `DT_STRING`.
        signature_name: the signature the request calls.

    Returns:
        The wire bytes of `tensorflow.serving.PredictionLog`.
    """
    import tensorflow as tf

    if not inputs:
        raise ValueError(f"Expected at least one input tensor. Received: inputs={inputs!r}")
    classes = _message_classes()
    request = classes["PredictRequest"]()
    request.model_spec.name = model_name
    request.model_spec.signature_name = signature_name
    for alias, value in inputs.items():
        # The private pool has its own TensorProto class: copy through the wire format.
        request.inputs[alias].ParseFromString(
            tf.make_tensor_proto(_as_array(value)).SerializeToString()
        )
    log = classes["PredictionLog"]()
    log.predict_log.request.CopyFrom(request)
    return log.SerializeToString()


def _as_array(value: Any) -> np.ndarray:
    array = np.asarray(value)
    if array.dtype.kind == "U":
        array = np.char.encode(array, "utf-8").astype(object)
    return array


def write_warmup_requests(
    saved_model_dir: str | Path,
    model_name: str,
    requests: Iterable[Mapping[str, Any]],
    signature_name: str = "serving_default",
) -> Path:
    """Write `assets.extra/tf_serving_warmup_requests` into a SavedModel folder.

    Args:
        saved_model_dir: the SavedModel version folder.
        model_name: the servable name written into each request.
        requests: one mapping input alias -> array per record (TF Serving reads up to 1,000).
        signature_name: the signature every request calls.

    Returns:
        The path of the written TFRecord file.
    """
    import tensorflow as tf

    records = [prediction_log_bytes(model_name, inputs, signature_name) for inputs in requests]
    if not records:
        raise ValueError("Expected at least one warm-up request. Received: requests=[]")
    path = Path(saved_model_dir) / ASSETS_EXTRA / WARMUP_FILE_NAME
    path.parent.mkdir(parents=True, exist_ok=True)
    with tf.io.TFRecordWriter(str(path)) as writer:
        for record in records:
            writer.write(record)
    return path


def read_warmup_requests(path: str | Path) -> list[dict[str, Any]]:
    """Decode a warm-up file: one dict per record with `model_name`, `signature_name`, `inputs`.

    `inputs` maps each alias to a NumPy array (strings as `bytes` objects).
    """
    import tensorflow as tf
    from tensorflow.core.framework import tensor_pb2

    log_class = _message_classes()["PredictionLog"]
    decoded = []
    for record in tf.data.TFRecordDataset(str(path)).as_numpy_iterator():
        log = log_class.FromString(record)
        request = log.predict_log.request
        decoded.append(
            {
                "model_name": request.model_spec.name,
                "signature_name": request.model_spec.signature_name,
                "inputs": {
                    alias: tf.make_ndarray(
                        tensor_pb2.TensorProto.FromString(tensor.SerializeToString())
                    )
                    for alias, tensor in request.inputs.items()
                },
            }
        )
    return decoded
