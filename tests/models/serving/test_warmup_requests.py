import numpy as np
import pytest

from models.serving.warmup_requests import (
    prediction_log_bytes,
    read_warmup_requests,
    write_warmup_requests,
)


def _read_varint(data: bytes, offset: int) -> tuple[int, int]:
    value, shift = 0, 0
    while True:
        byte = data[offset]
        offset += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return value, offset


def _fields(data: bytes) -> list[tuple[int, bytes]]:
    """Parse length-delimited / varint fields by hand: an independent check of the wire format."""
    fields, offset = [], 0
    while offset < len(data):
        key, offset = _read_varint(data, offset)
        number, wire_type = key >> 3, key & 7
        if wire_type == 2:
            length, offset = _read_varint(data, offset)
            fields.append((number, data[offset : offset + length]))
            offset += length
        elif wire_type == 0:
            value, offset = _read_varint(data, offset)
            fields.append((number, value))
        else:
            raise AssertionError(f"unexpected wire type {wire_type}")
    return fields


def test_bytes_follow_tf_serving_field_numbers():
    from tensorflow.core.framework import tensor_pb2

    data = prediction_log_bytes("recommender", {"k": np.array([7], dtype="int32")})
    ((number, predict_log),) = _fields(data)
    assert number == 6  # PredictionLog.predict_log
    ((number, request),) = _fields(predict_log)
    assert number == 1  # PredictLog.request
    request_fields = dict(_fields(request))
    model_spec = dict(_fields(request_fields[1]))
    assert model_spec[1] == b"recommender" and model_spec[3] == b"serving_default"
    entry = dict(_fields(request_fields[2]))  # map<string, TensorProto> entry
    assert entry[1] == b"k"
    tensor = tensor_pb2.TensorProto.FromString(entry[2])
    assert tensor.int_val == [7] and tensor.dtype == 3  # DT_INT32


def test_write_then_read_round_trip(tmp_path):
    history = np.array([["a", "é", ""], ["b", "", ""]])
    path = write_warmup_requests(
        tmp_path,
        "rec",
        [
            {"history": history, "k": np.array([10, 3], dtype="int32")},
            {"history": np.array([["x"]]), "k": np.array([1], dtype="int32")},
        ],
    )
    assert path == tmp_path / "assets.extra" / "tf_serving_warmup_requests"
    records = read_warmup_requests(path)
    assert len(records) == 2
    first = records[0]
    assert first["model_name"] == "rec" and first["signature_name"] == "serving_default"
    assert first["inputs"]["history"].tolist() == [[b"a", "é".encode(), b""], [b"b", b"", b""]]
    assert first["inputs"]["k"].tolist() == [10, 3]


def test_tensorflow_serving_apis_decode_when_installed(tmp_path):
    prediction_log_pb2 = pytest.importorskip("tensorflow_serving.apis.prediction_log_pb2")
    data = prediction_log_bytes("rec", {"k": np.array([5], dtype="int32")})
    log = prediction_log_pb2.PredictionLog.FromString(data)
    assert log.predict_log.request.model_spec.name == "rec"


def test_empty_inputs_and_requests_are_rejected(tmp_path):
    with pytest.raises(ValueError, match="Received: inputs="):
        prediction_log_bytes("rec", {})
    with pytest.raises(ValueError, match="Received: requests="):
        write_warmup_requests(tmp_path, "rec", [])
