"""TF Serving's `--model_config_file` as a protocol buffer, written with `text_format`.

TF Serving reads `models.config` as a text-format `tensorflow.serving.ModelServerConfig`. The
message types are declared here (the fields seqlens writes, with TF Serving's field numbers from
`tensorflow_serving/config/model_server_config.proto` and `file_system_storage_path_source.proto`)
so that the file is built from a message and printed by `google.protobuf.text_format`, which
escapes every string: a servable name or a base path can never change the file's structure.
`parse_model_server_config` reads a file back (the tests check every written file this way).
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import cache
from typing import Any

_PACKAGE = "seqlens.tensorflow_serving"


@cache
def _message_classes() -> dict[str, Any]:
    from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

    field = descriptor_pb2.FieldDescriptorProto
    file_proto = descriptor_pb2.FileDescriptorProto(
        name="seqlens/tensorflow_serving_model_server_config.proto",
        package=_PACKAGE,
        syntax="proto3",
    )

    def message(name: str, fields: list[tuple[str, int, int, str | None, bool]]) -> None:
        proto = file_proto.message_type.add(name=name)
        for field_name, number, field_type, type_name, repeated in fields:
            proto.field.add(
                name=field_name,
                number=number,
                type=field_type,
                type_name=f".{_PACKAGE}.{type_name}" if type_name else None,
                label=field.LABEL_REPEATED if repeated else field.LABEL_OPTIONAL,
            )

    message_type, string, uint32 = field.TYPE_MESSAGE, field.TYPE_STRING, field.TYPE_UINT32
    message("Latest", [("num_versions", 1, uint32, None, False)])
    message("ServableVersionPolicy", [("latest", 100, message_type, "Latest", False)])
    message(
        "ModelConfig",
        [
            ("name", 1, string, None, False),
            ("base_path", 2, string, None, False),
            ("model_platform", 4, string, None, False),
            ("model_version_policy", 7, message_type, "ServableVersionPolicy", False),
        ],
    )
    message("ModelConfigList", [("config", 1, message_type, "ModelConfig", True)])
    message("ModelServerConfig", [("model_config_list", 1, message_type, "ModelConfigList", False)])
    pool = descriptor_pool.DescriptorPool()
    pool.Add(file_proto)
    return {
        name: message_factory.GetMessageClass(pool.FindMessageTypeByName(f"{_PACKAGE}.{name}"))
        for name in ("ModelServerConfig", "ModelConfig")
    }


def model_server_config_text(
    models: Iterable[tuple[str, str]], num_versions: int = 1, platform: str = "tensorflow"
) -> str:
    """The text-format `ModelServerConfig` serving `(name, base_path)` pairs.

    Every value goes through a protobuf message and `text_format`; only the layout (one
    `model_version_policy { latest { num_versions: N } }` line per model) is chosen here.
    """
    from google.protobuf import text_format

    if num_versions < 1:
        raise ValueError(f"Expected num_versions >= 1. Received: num_versions={num_versions}")
    classes = _message_classes()
    entries = []
    for name, base_path in models:
        config = classes["ModelConfig"](name=name, base_path=base_path, model_platform=platform)
        policy = config.model_version_policy
        policy.latest.num_versions = num_versions
        without_policy = classes["ModelConfig"]()
        without_policy.CopyFrom(config)
        without_policy.ClearField("model_version_policy")
        entries.append(
            "  config {\n"
            + text_format.MessageToString(without_policy, indent=4)
            + "    model_version_policy { "
            + text_format.MessageToString(policy, as_one_line=True)
            + " }\n  }\n"
        )
    text = "model_config_list {\n" + "".join(entries) + "}\n"
    parse_model_server_config(text)  # the text is a valid ModelServerConfig, or this raises
    return text


def parse_model_server_config(text: str) -> Any:
    """Parse a `models.config` text into the `ModelServerConfig` message (raises on bad text)."""
    from google.protobuf import text_format

    return text_format.Parse(text, _message_classes()["ModelServerConfig"]())
