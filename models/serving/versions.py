# Over 300 lines on purpose: the version protocol (lock, staging, commit, log, config) is one idea.
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
`name, version, time, decision, reasons, checks, metrics`; see docs/CONTRACTS.md). Paths in it
(and in `assets.extra/seqlens_export.json`) are relative to the artifacts root, the serving
root's parent (`portable_path`), so a model copied to another machine names no local folder.

Concurrency and crashes: every change under a serving root happens while holding
`serving_root_lock` (`fcntl.flock` on `<serving_root>/.publish.lock`), so two publishes never
pick the same version and never delete each other's staging folder. Staging and retired folders
carry the owner's process id (`.incoming-<version>-<pid>-<token>`); `remove_stale_staging`
deletes only those whose owner is gone. A committed version holds its own decision
(`assets.extra/seqlens_publish_decision.json`), so a publish killed between the rename and the
log line is logged by the next one (`log_unlogged_versions`). Symbolic links where seqlens
renames or deletes folders are refused up front (`refuse_symlinks`).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import re
import secrets
import shutil
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from models.serving.models_config import model_server_config_text

logger = logging.getLogger(__name__)

STAGING_PREFIX = ".incoming-"
RETIRED_PREFIX = ".retired-"
ROLLED_BACK_PREFIX = ".rolled-back-"
PUBLISH_LOG_NAME = "publish_log.jsonl"
MODELS_CONFIG_NAME = "models.config"
METADATA_FILE_NAME = "seqlens_export.json"
DECISION_FILE_NAME = "seqlens_publish_decision.json"
LOCK_FILE_NAME = ".publish.lock"
ASSETS_EXTRA = "assets.extra"
_ROLLED_BACK_PATTERN = re.compile(rf"^{re.escape(ROLLED_BACK_PREFIX)}(\d+)-")
# TF Serving's servable names: letters, digits, `_ . -`, not empty, not starting with `.`.
SERVABLE_NAME_PATTERN = re.compile(r"^[A-Za-z0-9_-][A-Za-z0-9_.-]*$")
_RESERVED_NAMES = (PUBLISH_LOG_NAME, MODELS_CONFIG_NAME)
# `<prefix><version>-<pid>-<token>`; older folders without a pid count as stale.
_OWNED_PATTERN = re.compile(r"^\.(?:incoming|retired)-\d+-(\d+)-[0-9a-f]+$")
_MANAGED_PREFIXES = (STAGING_PREFIX, RETIRED_PREFIX, ROLLED_BACK_PREFIX)


def validate_servable_name(name: str) -> str:
    """`name` if TF Serving accepts it as a servable name (and it is not a seqlens file name).

    Raises:
        ValueError: for an empty name, a name starting with `.`, or one holding anything but
            letters, digits, `_`, `.` and `-`.
    """
    if not isinstance(name, str) or not SERVABLE_NAME_PATTERN.match(name):
        raise ValueError(
            "Expected a servable name of letters, digits, '_', '.' and '-' that does not start "
            f"with '.'. Received: name={name!r}"
        )
    if name in _RESERVED_NAMES:
        raise ValueError(
            f"Expected a servable name other than the serving root's files {_RESERVED_NAMES}. "
            f"Received: name={name!r}"
        )
    return name


def model_base_path(serving_root: str | Path, name: str) -> Path:
    """`<serving_root>/<name>`, the `base_path` TF Serving watches for this model."""
    return Path(serving_root) / validate_servable_name(name)


@contextlib.contextmanager
def serving_root_lock(serving_root: str | Path) -> Iterator[Path]:
    """Hold the serving root's publish lock (`fcntl.flock` on `.publish.lock`; waits for it).

    Held for the whole of a publish, an export or a rollback: the version choice, the gate's
    comparison with the served version, the commit, the log line and `models.config`. The lock
    goes with the process: a killed publish releases it.
    """
    serving_root = Path(serving_root)
    serving_root.mkdir(parents=True, exist_ok=True)
    path = serving_root / LOCK_FILE_NAME
    descriptor = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW, 0o644)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX)
        yield path
    finally:
        os.close(descriptor)  # closing the last descriptor releases the lock


def refuse_symlinks(base_path: str | Path) -> None:
    """Raise if a version, staging, retired or rolled-back entry of `base_path` is a symlink.

    seqlens renames and deletes these entries; through a symbolic link it would act on files
    elsewhere (or fail half-way through a publish), so it refuses to start instead.

    Raises:
        ValueError: naming the first such link.
    """
    base_path = Path(base_path)
    if not base_path.is_dir():
        return
    for child in sorted(base_path.iterdir()):
        managed = child.name.isdigit() or child.name.startswith(_MANAGED_PREFIXES)
        if managed and child.is_symlink():
            raise ValueError(
                "Expected real folders, not symbolic links, for the versions and staging folders "
                "under a model's base path (remove the link). "
                f"Received: path={str(child)!r}"
            )


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
    """A fresh staging path `<base>/.incoming-<version>-<pid>-<token>` (exporters create it)."""
    base_path = Path(base_path)
    base_path.mkdir(parents=True, exist_ok=True)
    return base_path / f"{STAGING_PREFIX}{version}-{os.getpid()}-{secrets.token_hex(4)}"


def remove_stale_staging(base_path: str | Path) -> list[str]:
    """Delete leftovers of interrupted publishes (staging and half-deleted folders).

    Only folders whose owner process (the pid in the name) is gone, or that carry no pid, are
    deleted: another live publish's staging folder stays. Symbolic links are never followed.
    """
    base_path = Path(base_path)
    removed = []
    if base_path.is_dir():
        for child in sorted(base_path.iterdir()):
            if child.is_symlink() or not child.is_dir():
                continue
            if not child.name.startswith((STAGING_PREFIX, RETIRED_PREFIX)):
                continue
            owner = _OWNED_PATTERN.match(child.name)
            if owner and _process_alive(int(owner.group(1))):
                continue
            shutil.rmtree(child)
            removed.append(child.name)
    return removed


def _process_alive(pid: int) -> bool:
    if pid == os.getpid():
        return False  # this process holds the lock: its earlier folders are leftovers
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a killed child not yet reaped is a zombie: gone for our purpose
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


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
    if os.path.lexists(target):
        raise ValueError(f"Expected a new version number. Received: version={version} (exists)")
    _fsync_tree(staged)
    os.rename(staged, target)
    _fsync_directory(base_path)
    return target


def prune_versions(
    base_path: str | Path, keep: int, progress: Callable[[str], None] | None = None
) -> list[int]:
    """Delete the oldest versions so that at most `keep` remain; returns the deleted numbers.

    Each version is first renamed to `.retired-<version>-<pid>-<token>` (TF Serving unloads it
    at once), then deleted; a crash in between leaves a hidden folder the next publish deletes.
    `progress(step)` is called after each rename (`retired:<version>`), for fault injection.
    """
    if keep < 1:
        raise ValueError(f"Expected keep >= 1. Received: keep={keep}")
    base_path = Path(base_path)
    refuse_symlinks(base_path)
    versions = list_versions(base_path)
    removed = versions[:-keep] if len(versions) > keep else []
    for version in removed:
        retired = base_path / f"{RETIRED_PREFIX}{version}-{os.getpid()}-{secrets.token_hex(4)}"
        os.rename(base_path / str(version), retired)
        if progress is not None:
            progress(f"retired:{version}")
        shutil.rmtree(retired)
    return removed


def roll_back(base_path: str | Path) -> tuple[int, int]:
    """Take the newest version out of service; returns `(retired_version, now_serving_version)`.

    Raises:
        ValueError: if fewer than two versions are published (nothing to roll back to).
    """
    base_path = Path(base_path)
    refuse_symlinks(base_path)
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


def portable_path(path: str | Path, serving_root: str | Path) -> str:
    """`path` as recorded in artifacts: relative to the artifacts root (the serving root's
    parent) when it lies below it, else only its folder name (never a machine's absolute path).
    """
    if not str(path):
        return ""
    artifacts_root = Path(os.path.abspath(serving_root)).parent
    absolute = Path(os.path.abspath(path))
    try:
        return absolute.relative_to(artifacts_root).as_posix()
    except ValueError:
        return absolute.name


def append_publish_log(serving_root: str | Path, entry: dict[str, Any]) -> Path:
    """Append one decision to `<serving_root>/publish_log.jsonl` (one line, flushed).

    `path` and `source` are recorded with `portable_path`.
    """
    required = ("name", "version", "time", "decision", "reasons", "checks", "metrics")
    missing = [key for key in required if key not in entry]
    if missing:
        raise ValueError(f"Expected publish log keys {required}. Received: entry missing {missing}")
    entry = dict(entry)
    for key in ("path", "source"):
        if isinstance(entry.get(key), str | Path) and str(entry[key]):
            entry[key] = portable_path(entry[key], serving_root)
    path = Path(serving_root) / PUBLISH_LOG_NAME
    path.parent.mkdir(parents=True, exist_ok=True)
    line = json.dumps(entry, sort_keys=True, default=_json_default) + "\n"
    descriptor = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(descriptor, line.encode("utf-8"))  # one write: a line is never interleaved
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
    return path


def read_publish_log(serving_root: str | Path) -> list[dict[str, Any]]:
    """Every logged decision; a torn last line (a publish killed mid-write) is skipped."""
    path = Path(serving_root) / PUBLISH_LOG_NAME
    if not path.exists():
        return []
    entries = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            try:
                entries.append(json.loads(line))
            except json.JSONDecodeError:
                logger.warning("skipped a torn line of %s", path)
    return entries


def record_decision(version_dir: str | Path, entry: dict[str, Any]) -> Path:
    """Store the publish decision inside the (staged) version, before it is committed."""
    path = Path(version_dir) / ASSETS_EXTRA / DECISION_FILE_NAME
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(entry, sort_keys=True, default=_json_default), encoding="utf-8")
    return path


def log_unlogged_versions(serving_root: str | Path, name: str) -> list[int]:
    """Log the committed versions of `name` whose publish died before its log line.

    A version holding a recorded decision (`record_decision`) that the log does not list as
    published is appended with `"recovered": true`. Call it while holding the lock.
    """
    base_path = model_base_path(serving_root, name)
    logged = {
        entry.get("version")
        for entry in read_publish_log(serving_root)
        if entry.get("name") == name and entry.get("decision") == "published"
    }
    recovered = []
    for version in list_versions(base_path):
        decision_path = base_path / str(version) / ASSETS_EXTRA / DECISION_FILE_NAME
        if version in logged or not decision_path.is_file():
            continue
        try:
            entry = json.loads(decision_path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError):
            continue
        append_publish_log(serving_root, {**entry, "recovered": True})
        recovered.append(version)
    return recovered


def models_config_text(
    names: Iterable[str], serving_root_in_container: str = "/models", num_versions: int = 1
) -> str:
    """A TF Serving `--model_config_file` (text protobuf) serving the newest `num_versions`.

    Built as a `ModelServerConfig` message and printed with `text_format`
    (`models.serving.models_config`): names are validated, every string is escaped.
    """
    root = serving_root_in_container.rstrip("/") or "/"
    return model_server_config_text(
        ((validate_servable_name(name), f"{root.rstrip('/')}/{name}") for name in names),
        num_versions=num_versions,
    )


def published_servables(serving_root: str | Path) -> list[str]:
    """Names under `serving_root` that are published servables: a valid name, a real folder,
    at least one integer version holding a `saved_model.pb`."""
    serving_root = Path(serving_root)
    if not serving_root.is_dir():
        return []
    names = []
    for child in sorted(serving_root.iterdir()):
        if not SERVABLE_NAME_PATTERN.match(child.name) or child.name in _RESERVED_NAMES:
            continue
        if child.is_dir() and list_versions(child):
            names.append(child.name)
    return names


def write_models_config(
    serving_root: str | Path, serving_root_in_container: str = "/models", num_versions: int = 1
) -> Path:
    """Write `<serving_root>/models.config` for every published servable under the root.

    Written to a temporary file and renamed into place, so TF Serving never reads half a file.
    """
    serving_root = Path(serving_root)
    path = serving_root / MODELS_CONFIG_NAME
    text = models_config_text(
        published_servables(serving_root), serving_root_in_container, num_versions
    )
    temporary = serving_root / f".{MODELS_CONFIG_NAME}.{os.getpid()}.tmp"
    with open(temporary, "w", encoding="utf-8") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)
    _fsync_directory(serving_root)
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
