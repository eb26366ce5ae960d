"""Version folders under a TF Serving model base path: stage, commit atomically, prune, roll back.

TF Serving polls `<serving_root>/<name>/` and loads the children whose names parse as integers
(`model_version_policy` picks which). Every other name is ignored, so a version is written to a
hidden staging folder `.incoming-<version>-<token>` and, once complete and flushed to disk,
renamed to `<version>` with one `os.rename` on the same filesystem: TF Serving sees either no
folder or a complete one, never half a SavedModel. Deletions go the other way round (rename to
`.retired-...`, then delete), and a rollback renames the newest version to
`.rolled-back-<version>-<time>` so the previous one becomes the newest again while the files stay
for inspection. Version numbers only grow: a rolled-back number is never reused.

Every gate decision is appended to `<serving_root>/publish_log.jsonl` (one JSON object a line:
`name, version, time, decision, reasons, checks, metrics`; see docs/CONTRACTS.md).
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

STAGING_PREFIX = ".incoming-"
RETIRED_PREFIX = ".retired-"
ROLLED_BACK_PREFIX = ".rolled-back-"
PUBLISH_LOG_NAME = "publish_log.jsonl"
MODELS_CONFIG_NAME = "models.config"
METADATA_FILE_NAME = "seqlens_export.json"
ASSETS_EXTRA = "assets.extra"
_ROLLED_BACK_PATTERN = re.compile(rf"^{re.escape(ROLLED_BACK_PREFIX)}(\d+)-")


def model_base_path(serving_root: str | Path, name: str) -> Path:
    """`<serving_root>/<name>`, the `base_path` TF Serving watches for this model."""
    if not name or "/" in name or name.startswith("."):
        raise ValueError(f"Expected a plain model name. Received: name={name!r}")
    return Path(serving_root) / name


def list_versions(base_path: str | Path) -> list[int]:
    """Published versions (integer folders holding a `saved_model.pb`), ascending."""
    base_path = Path(base_path)
    if not base_path.is_dir():
        return []
    return sorted(
        int(child.name)
        for child in base_path.iterdir()
        if child.name.isdigit() and (child / "saved_model.pb").is_file()
    )


def latest_version(base_path: str | Path) -> int | None:
    """The version TF Serving serves under the default policy `latest { num_versions: 1 }`."""
    versions = list_versions(base_path)
    return versions[-1] if versions else None


def next_version(base_path: str | Path) -> int:
    """One more than every version number ever used here (rolled-back ones included)."""
    base_path = Path(base_path)
    used = [0]
    if base_path.is_dir():
        for child in base_path.iterdir():
            match = _ROLLED_BACK_PATTERN.match(child.name)
            if child.name.isdigit():
                used.append(int(child.name))
            elif match:
                used.append(int(match.group(1)))
    return max(used) + 1


def staging_dir(base_path: str | Path, version: int) -> Path:
    """A fresh staging path `<base>/.incoming-<version>-<token>` (exporters create the folder)."""
    base_path = Path(base_path)
    base_path.mkdir(parents=True, exist_ok=True)
    return base_path / f"{STAGING_PREFIX}{version}-{secrets.token_hex(4)}"


def remove_stale_staging(base_path: str | Path) -> list[str]:
    """Delete leftovers of interrupted publishes (staging and half-deleted folders)."""
    base_path = Path(base_path)
    removed = []
    if base_path.is_dir():
        for child in sorted(base_path.iterdir()):
            if child.is_dir() and child.name.startswith((STAGING_PREFIX, RETIRED_PREFIX)):
                shutil.rmtree(child)
                removed.append(child.name)
    return removed


def commit_version(staged: str | Path, base_path: str | Path, version: int) -> Path:
    """Flush `staged` to disk and rename it to `<base_path>/<version>` in one atomic step.

    Raises:
        ValueError: if `staged` is not a complete SavedModel folder, or the version exists.
    """
    staged, base_path = Path(staged), Path(base_path)
    if not (staged / "saved_model.pb").is_file():
        raise ValueError(
            f"Expected a SavedModel folder with saved_model.pb. Received: staged={str(staged)!r}"
        )
    if staged.parent.resolve() != base_path.resolve():
        raise ValueError(
            "Expected the staging folder inside the model base path (same filesystem). "
            f"Received: staged={str(staged)!r}"
        )
    target = base_path / str(version)
    if target.exists():
        raise ValueError(f"Expected a new version number. Received: version={version} (exists)")
    _fsync_tree(staged)
    os.rename(staged, target)
    _fsync_directory(base_path)
    return target


def prune_versions(base_path: str | Path, keep: int) -> list[int]:
    """Delete the oldest versions so that at most `keep` remain; returns the deleted numbers."""
    if keep < 1:
        raise ValueError(f"Expected keep >= 1. Received: keep={keep}")
    base_path = Path(base_path)
    versions = list_versions(base_path)
    removed = versions[:-keep] if len(versions) > keep else []
    for version in removed:
        retired = base_path / f"{RETIRED_PREFIX}{version}-{secrets.token_hex(4)}"
        os.rename(base_path / str(version), retired)
        shutil.rmtree(retired)
    return removed


def roll_back(base_path: str | Path) -> tuple[int, int]:
    """Take the newest version out of service; returns `(retired_version, now_serving_version)`.

    Raises:
        ValueError: if fewer than two versions are published (nothing to roll back to).
    """
    base_path = Path(base_path)
    versions = list_versions(base_path)
    if len(versions) < 2:
        raise ValueError(
            "Expected at least two published versions to roll back. "
            f"Received: versions={versions} in {str(base_path)!r}"
        )
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    os.rename(
        base_path / str(versions[-1]),
        base_path / f"{ROLLED_BACK_PREFIX}{versions[-1]}-{stamp}-{secrets.token_hex(2)}",
    )
    _fsync_directory(base_path)
    return versions[-1], versions[-2]


def append_publish_log(serving_root: str | Path, entry: dict[str, Any]) -> Path:
    """Append one decision to `<serving_root>/publish_log.jsonl` (one line, flushed)."""
    required = ("name", "version", "time", "decision", "reasons", "checks", "metrics")
    missing = [key for key in required if key not in entry]
    if missing:
        raise ValueError(f"Expected publish log keys {required}. Received: entry missing {missing}")
    path = Path(serving_root) / PUBLISH_LOG_NAME
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a", encoding="utf-8") as log:
        log.write(json.dumps(entry, sort_keys=True, default=_json_default) + "\n")
        log.flush()
        os.fsync(log.fileno())
    return path


def read_publish_log(serving_root: str | Path) -> list[dict[str, Any]]:
    path = Path(serving_root) / PUBLISH_LOG_NAME
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def models_config_text(
    names: Iterable[str], serving_root_in_container: str = "/models", num_versions: int = 1
) -> str:
    """A TF Serving `--model_config_file` (text protobuf) serving the newest `num_versions`."""
    entries = []
    for name in names:
        model_base_path(".", name)  # validates the name
        entries.append(
            "  config {\n"
            f'    name: "{name}"\n'
            f'    base_path: "{serving_root_in_container}/{name}"\n'
            '    model_platform: "tensorflow"\n'
            f"    model_version_policy {{ latest {{ num_versions: {num_versions} }} }}\n"
            "  }\n"
        )
    return "model_config_list {\n" + "".join(entries) + "}\n"


def write_models_config(
    serving_root: str | Path, serving_root_in_container: str = "/models", num_versions: int = 1
) -> Path:
    """Write `<serving_root>/models.config` for every model folder under the root."""
    serving_root = Path(serving_root)
    names = sorted(
        child.name
        for child in serving_root.iterdir()
        if child.is_dir() and not child.name.startswith(".")
    )
    path = serving_root / MODELS_CONFIG_NAME
    path.write_text(
        models_config_text(names, serving_root_in_container, num_versions), encoding="utf-8"
    )
    return path


def write_export_metadata(export_dir: str | Path, metadata: dict[str, Any]) -> Path:
    """`assets.extra/seqlens_export.json`: what was exported (TF Serving ignores this file)."""
    path = Path(export_dir) / ASSETS_EXTRA / METADATA_FILE_NAME
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        json.dumps(metadata, indent=2, sort_keys=True, default=str) + "\n", encoding="utf-8"
    )
    return path


def read_export_metadata(export_dir: str | Path) -> dict[str, Any]:
    path = Path(export_dir) / ASSETS_EXTRA / METADATA_FILE_NAME
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}


def _fsync_tree(folder: Path) -> None:
    for directory, _, files in os.walk(folder):
        for file_name in files:
            with open(os.path.join(directory, file_name), "rb") as handle:
                os.fsync(handle.fileno())
        _fsync_directory(Path(directory))


def _fsync_directory(folder: Path) -> None:
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _json_default(value: Any) -> Any:
    if hasattr(value, "item"):
        return value.item()
    if hasattr(value, "tolist"):
        return value.tolist()
    return str(value)
