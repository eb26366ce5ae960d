"""Grouping large tables through files: the events pipeline's bounded-memory shuffle.

A runner's `GroupByKey` holds what it groups: the in-process `FnApiRunner` keeps every grouped
element in memory until the grouping stage has run (50M events: 14 GiB). Grouping *file paths*
instead bounds memory on any runner: each parsed block's per-bucket table is written once as an
Arrow IPC stream under the run folder (which every worker can already write: it receives the
outputs), the runner groups the small `(bucket, path)` pairs, and each bucket's tables are read
back just before it is deduplicated. Peak memory is then about one bucket, not the whole log.

- `spill_folder(output_dir)`: where a run's spilled tables live (`<run>/_spill`, removed when
  the run finishes).
- `write_spilled(table, folder, name)` -> path: atomic (written beside, then renamed), so that a
  retried or killed worker never leaves a partial file a reader could take for a whole one;
  a retry rewrites the same name with the same rows.
- `read_spilled(paths)` -> one table, the files read in sorted path order.
- `remove_spilled(folder)`: deletes the folder (local or remote).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable

import pyarrow as pa

SPILL_FOLDER = "_spill"


def _filesystems():
    from apache_beam.io.filesystems import FileSystems

    return FileSystems


def spill_folder(output_dir: str) -> str:
    """`<output_dir>/_spill`: where a run's spilled tables are written."""
    if not output_dir:
        raise ValueError(f"Expected an output folder. Received: output_dir={output_dir!r}")
    return f"{output_dir.rstrip('/')}/{SPILL_FOLDER}"


def write_spilled(table: pa.Table, folder: str, name: str) -> str:
    """Write `table` as `<folder>/<name>.arrow` (Arrow IPC stream) atomically; return the path."""
    if not name or "/" in name:
        raise ValueError(f"Expected a file name without '/'. Received: name={name!r}")
    filesystems = _filesystems()
    path = f"{folder}/{name}.arrow"
    partial = f"{folder}/.{name}.{uuid.uuid4().hex[:8]}.partial"
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    with filesystems.create(partial) as handle:
        handle.write(sink.getvalue().to_pybytes())
    filesystems.rename([partial], [path])  # replaces a retry's earlier file (POSIX, GCS copy)
    return path


def read_spilled(paths: Iterable[str], schema: pa.Schema) -> pa.Table:
    """The tables of `paths` (read in sorted order) as one table of `schema`."""
    filesystems = _filesystems()
    tables = []
    for path in sorted(paths):
        with filesystems.open(path) as handle:
            payload = handle.read()
        with pa.ipc.open_stream(pa.py_buffer(payload)) as reader:
            tables.append(reader.read_all())
    if not tables:
        return schema.empty_table()
    return pa.concat_tables(tables).cast(schema)


def remove_spilled(folder: str) -> None:
    """Delete the spill folder and everything in it (nothing happens when it does not exist).

    Files are matched and deleted one by one first: an object store (`gs://`) has no folder
    object that deleting would take its files with.
    """
    filesystems = _filesystems()
    files = [metadata.path for metadata in filesystems.match([f"{folder}/*"])[0].metadata_list]
    if files:
        filesystems.delete(files)
    if filesystems.exists(folder):  # a local folder (and a killed writer's hidden partial file)
        filesystems.delete([folder])
