"""Run folders written beside the output and swapped in whole, under a lock.

A pipeline never writes into its output folder directly: `staged_output` takes an exclusive
lock on `.<name>.lock` next to the output folder (`fcntl.flock`; a second run on the same
output fails at once with a one-line `ValueError`), lets the run write into a staging folder
`.<name>.staging-<id>` beside it, and only when the run is complete swaps it in:

1. entries of the old output folder that the run did not write (files a user keeps there, the
   folders of another kind of run) are moved into the staging folder;
2. the old output folder is renamed `.<name>.previous-<id>`, the staging folder renamed to the
   output, and only then is the previous folder removed.

A run that fails or is killed leaves the previous output untouched (a killed run leaves its
staging folder, removed by the next run on that output). A run killed between the two renames
leaves no output folder but its `.previous-` one, which the next run renames back first. Outputs
on remote file systems (`gs://`, ...) are written in place, without lock or staging.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

_STAGING = "staging"
_PREVIOUS = "previous"


def _sibling(output: Path, role: str, run_id: str = "") -> Path:
    suffix = f"-{run_id}" if run_id else ""
    return output.parent / f".{output.name}.{role}{suffix}"


@contextlib.contextmanager
def output_lock(output_dir: str | Path) -> Iterator[Path]:
    """Hold an exclusive `fcntl.flock` on `.<name>.lock` beside `output_dir` (local folders).

    Raises:
        ValueError: another process holds the lock (a pipeline is writing that output).
    """
    import fcntl

    output = Path(output_dir)
    output.parent.mkdir(parents=True, exist_ok=True)
    lock_path = _sibling(output, "lock")
    descriptor = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise ValueError(
                "Expected no other pipeline writing the output folder; another run holds "
                f"{lock_path}. Received: output={str(output_dir)!r}"
            ) from None
        os.ftruncate(descriptor, 0)
        os.write(descriptor, f"{os.getpid()}\n".encode())
        yield lock_path
    finally:
        os.close(descriptor)  # releases the lock; the file stays (removing it would race)


def _recover(output: Path) -> None:
    """Undo what a killed run left beside `output` (call with the lock held)."""
    previous = sorted(output.parent.glob(f".{output.name}.{_PREVIOUS}-*"))
    if previous and not output.exists():
        previous.pop().rename(output)  # killed between the two renames of a swap
    for stale in previous + sorted(output.parent.glob(f".{output.name}.{_STAGING}-*")):
        shutil.rmtree(stale, ignore_errors=True)


def _swap_in(staging: Path, output: Path, run_id: str) -> None:
    """Replace `output` by `staging`, keeping the old folder's other entries."""
    if not output.exists():
        staging.rename(output)
        return
    for entry in output.iterdir():
        target = staging / entry.name
        if not target.exists():
            entry.rename(target)
    previous = _sibling(output, _PREVIOUS, run_id)
    output.rename(previous)
    staging.rename(output)
    shutil.rmtree(previous)


@contextlib.contextmanager
def staged_output(output_dir: str) -> Iterator[str]:
    """Yield the folder a run writes to; on success it becomes `output_dir` (see the module).

    Args:
        output_dir: the run folder (local path or URL).

    Raises:
        ValueError: `output_dir` exists and is not a folder, or another run holds its lock.
    """
    if "://" in output_dir:
        yield output_dir
        return
    output = Path(output_dir)
    if output.exists() and not output.is_dir():
        raise ValueError(f"Expected the output to be a folder. Received: output={output_dir!r}")
    with output_lock(output):
        _recover(output)
        run_id = f"{os.getpid()}-{uuid.uuid4().hex[:8]}"
        staging = _sibling(output, _STAGING, run_id)
        staging.mkdir()
        try:
            yield str(staging)
            _swap_in(staging, output, run_id)
        finally:
            if staging.exists():
                shutil.rmtree(staging, ignore_errors=True)
