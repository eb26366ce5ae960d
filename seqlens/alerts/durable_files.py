"""Crash-safe file writes for the alert files: write a temporary file, fsync, rename, fsync folder.

A process killed at any moment (SIGKILL, power loss after the fsyncs) leaves either the old file
or the new one, never half of it: `os.replace` is atomic on POSIX, and syncing the folder makes
the rename itself durable.
"""

from __future__ import annotations

import os
from pathlib import Path


def _sync_folder(folder: Path) -> None:
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def write_text_atomically(path: str | Path, text: str) -> None:
    """Replace `path` by a file holding `text` (UTF-8): the old content or the new, never half.

    Args:
        path: the file to (re)write; its folder is created if missing.
        text: the whole new content.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.tmp")  # one writer per file; a leftover is reused
    with temporary.open("w", encoding="utf-8") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)
    _sync_folder(path.parent)


def remove_durably(path: str | Path) -> None:
    """Remove `path` if it exists, and make the removal durable."""
    path = Path(path)
    if path.exists():
        path.unlink()
        _sync_folder(path.parent)
