"""Input files as line-aligned byte ranges ("chunks"), read in large blocks.

Over 300 lines on purpose: planning chunks and reading them (plain and compressed) share the
line-boundary rules that keep line numbers exact.

The event and text pipelines never read a log line by line through Beam: the input is split
into chunks of about `chunk_bytes` that start and end on line boundaries, a chunk is one Beam
element, and a worker reads it as a few large `bytes` blocks that are parsed vectorised.
Planning a chunk also counts its lines, so every row keeps its physical line number (1-based,
header included) for the dead-letter file. Gzip files cannot be split: one chunk each, read as a
stream of line-aligned blocks. Paths go through Beam's `FileSystems`, so `gs://`, `s3://` and
`hdfs://` inputs work on a cluster the same way local files do.

Compressed inputs are decompressed by Python's `gzip` / `bz2` modules, which notice a stream
that ends early (a truncated download) or is not what its name says; Beam's own decompressor
returns the lines it got so far as if the file were complete. Such a file raises
`CorruptInputError` (a `ValueError` naming the file): `check_compressed_inputs` reads local
compressed inputs through once before a pipeline starts, so the run stops with a one-line error
and writes nothing; a worker that still meets a bad stream (a remote file) raises the same
error, which the pipeline entry points re-raise as a `ValueError` (`corrupt_input_error`).
"""

from __future__ import annotations

import bz2
import gzip
import io
import re
import zlib
from collections.abc import Iterator
from dataclasses import dataclass

DEFAULT_CHUNK_BYTES = 32 * 1024 * 1024
DEFAULT_BLOCK_BYTES = 16 * 1024 * 1024
_PIECE_BYTES = 8 * 1024 * 1024


@dataclass(frozen=True)
class Chunk:
    """A line-aligned byte range of one input file.

    Args:
        path: the file.
        file_index: position of the file in the sorted list of inputs (a cheap tie-breaker).
        start: first byte (0 or just after a newline).
        end: one past the last byte; -1 for "to the end" (gzip streams).
        first_line: 1-based physical line number of the line starting at `start`.
        skip_header: whether the first line of the chunk is the file's header.
    """

    path: str
    file_index: int
    start: int
    end: int
    first_line: int
    skip_header: bool


_CORRUPT_PREFIX = "Expected a complete, valid compressed input"


class CorruptInputError(ValueError):
    """A compressed input that is truncated, corrupt, or not compressed as its name says."""

    def __init__(self, path: str, detail: str):
        super().__init__(f"{_CORRUPT_PREFIX} ({detail}). Received: input={path!r}")
        self.path = path
        self.detail = detail

    def __reduce__(self):  # picklable across Beam worker processes
        return (CorruptInputError, (self.path, self.detail))


def corrupt_input_error(error: BaseException) -> CorruptInputError | None:
    """The `CorruptInputError` behind a pipeline failure, if that is what it was.

    Beam runners may re-raise a worker's exception wrapped (as its cause or context) or as a
    new exception whose message embeds the original; both are recognised.
    """
    seen: set[int] = set()
    pending: list[BaseException | None] = [error]
    while pending:
        current = pending.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, CorruptInputError):
            return current
        pending.extend([current.__cause__, current.__context__])
    match = re.search(
        re.escape(_CORRUPT_PREFIX) + r" \((.*?)\)\. Received: input=(['\"])(.*?)\2", str(error)
    )
    if match:
        return CorruptInputError(match.group(3), match.group(1))
    return None


class _CheckedDecompressedStream(io.BufferedIOBase):
    """A decompressing reader whose stream errors become `CorruptInputError`."""

    def __init__(self, raw, path: str, kind: str):
        super().__init__()
        self._raw = raw
        self._path = path
        self._kind = kind
        if kind == "gzip":
            self._stream = gzip.GzipFile(fileobj=raw, mode="rb")
        else:
            self._stream = bz2.BZ2File(raw, mode="rb")

    def readable(self) -> bool:
        return True

    def read(self, size: int | None = -1) -> bytes:
        try:
            return self._stream.read(-1 if size is None else size)
        except EOFError:
            raise CorruptInputError(
                self._path, f"the {self._kind} stream ends early: truncated"
            ) from None
        except (zlib.error, gzip.BadGzipFile, OSError) as error:
            if isinstance(error, OSError) and not isinstance(error, gzip.BadGzipFile):
                if self._kind != "bz2" or "data stream" not in str(error).lower():
                    raise
            raise CorruptInputError(
                self._path, f"not a valid {self._kind} stream: {error}"
            ) from None

    def read1(self, size: int = -1) -> bytes:
        return self.read(size if size and size > 0 else 1 << 20)

    def close(self) -> None:
        try:
            self._stream.close()
        finally:
            self._raw.close()
            super().close()


def check_compressed_inputs(paths: list[str]) -> None:
    """Read each local `.gz` / `.bz2` input through to its end before a pipeline starts.

    A truncated, corrupt or mislabelled file raises here, before any output is touched, instead
    of being read as if complete. Remote inputs are checked by the workers as they read them.

    Raises:
        CorruptInputError: naming the file.
    """
    for path in paths:
        if "://" in path or not is_compressed(path):
            continue
        with open_binary(path) as handle:
            while handle.read(_PIECE_BYTES):
                pass


def is_compressed(path: str) -> bool:
    """Whether `path` is gzip/bzip2 compressed (by its extension)."""
    return path.endswith((".gz", ".bz2"))


def match_inputs(pattern: str) -> list[str]:
    """Sorted paths matching `pattern` (a file, a folder's files, or a glob).

    Raises:
        FileNotFoundError: nothing matches.
    """
    from apache_beam.io.filesystems import FileSystems

    candidates = [pattern]
    if FileSystems.exists(pattern) and _is_local_dir(pattern):
        candidates = [FileSystems.join(pattern, "*")]
    paths: list[str] = []
    for candidate in candidates:
        for result in FileSystems.match([candidate])[0].metadata_list:
            if result.size_in_bytes >= 0 and not _is_local_dir(result.path):
                paths.append(result.path)
    paths = sorted(path for path in paths if not _is_hidden(path))
    if not paths:
        raise FileNotFoundError(
            f"No input file matches the input path. Received: input={pattern!r}"
        )
    return paths


def total_bytes(paths: list[str]) -> int:
    """The summed size in bytes of `paths` as stored (compressed files count compressed)."""
    from apache_beam.io.filesystems import FileSystems

    return sum(
        metadata.size_in_bytes
        for result in FileSystems.match(list(paths))
        for metadata in result.metadata_list
    )


def _is_local_dir(path: str) -> bool:
    import os

    return "://" not in path and os.path.isdir(path)


def _is_hidden(path: str) -> bool:
    name = path.rstrip("/").rsplit("/", 1)[-1]
    return name.startswith((".", "_"))


def open_binary(path: str, compressed: bool | None = None):
    """Open `path` for reading bytes, decompressing `.gz`/`.bz2` when `compressed`.

    A compressed stream that is truncated or invalid raises `CorruptInputError` when read.
    """
    from apache_beam.io.filesystem import CompressionTypes
    from apache_beam.io.filesystems import FileSystems

    compressed = is_compressed(path) if compressed is None else compressed
    raw = FileSystems.open(
        path,
        mime_type="application/octet-stream",
        compression_type=CompressionTypes.UNCOMPRESSED,
    )
    if not compressed:
        return raw
    return _CheckedDecompressedStream(raw, path, "bz2" if path.endswith(".bz2") else "gzip")


def read_first_line(path: str) -> bytes:
    """The first line of a file (the header of a CSV), without its line end."""
    with open_binary(path) as handle:
        data = b""
        while b"\n" not in data:
            piece = handle.read(65_536)
            if not piece:
                break
            data += piece
    return data.split(b"\n", 1)[0].rstrip(b"\r")


def read_head_lines(path: str, max_lines: int = 1000, max_bytes: int = 4 << 20) -> list[bytes]:
    """Up to `max_lines` first lines of a file (decompressed), without line ends."""
    with open_binary(path) as handle:
        data = handle.read(max_bytes)
    lines = data.split(b"\n")
    if len(data) == max_bytes:
        lines = lines[:-1]
    return [line.rstrip(b"\r") for line in lines[:max_lines] if line.strip()]


def plan_chunks(
    path: str, file_index: int, has_header: bool, chunk_bytes: int = DEFAULT_CHUNK_BYTES
) -> list[Chunk]:
    """Split one file into line-aligned chunks of about `chunk_bytes`, counting their lines.

    Reads the file once (fast: `bytes.find`/`bytes.count`); compressed files give one chunk.
    """
    if chunk_bytes < 1:
        raise ValueError(f"Expected chunk_bytes >= 1. Received: chunk_bytes={chunk_bytes}")
    if is_compressed(path):
        return [Chunk(path, file_index, 0, -1, 1, has_header)]
    boundaries = [0]
    first_lines = [1]
    newlines_before = 0
    position = 0
    target = chunk_bytes
    with open_binary(path, compressed=False) as handle:
        while True:
            piece = handle.read(_PIECE_BYTES)
            if not piece:
                break
            search_from = 0
            while target < position + len(piece):
                newline = piece.find(b"\n", max(target - position, search_from))
                if newline < 0:
                    target = position + len(piece)
                    break
                boundary = position + newline + 1
                boundaries.append(boundary)
                first_lines.append(newlines_before + piece.count(b"\n", 0, newline + 1) + 1)
                search_from = newline + 1
                target = boundary + chunk_bytes
            newlines_before += piece.count(b"\n")
            position += len(piece)
    if boundaries[-1] < position:
        boundaries.append(position)
    else:
        first_lines.pop()
    return [
        Chunk(
            path,
            file_index,
            boundaries[k],
            boundaries[k + 1],
            first_lines[k],
            has_header and k == 0,
        )
        for k in range(len(boundaries) - 1)
    ]


def iter_blocks(
    chunk: Chunk, block_bytes: int = DEFAULT_BLOCK_BYTES
) -> Iterator[tuple[int, bytes]]:
    """Yield `(first_line, block)`: line-aligned blocks of the chunk, in order.

    The header line (when `chunk.skip_header`) is not part of any block; `first_line` is the
    physical line number of each block's first line.
    """
    line = chunk.first_line
    pending = b""
    with open_binary(chunk.path) as handle:
        if chunk.start > 0:
            handle.seek(chunk.start)
        remaining = None if chunk.end < 0 else chunk.end - chunk.start
        skip_header = chunk.skip_header
        while True:
            size = block_bytes if remaining is None else min(block_bytes, remaining)
            piece = handle.read(size) if size > 0 else b""
            if remaining is not None:
                remaining -= len(piece)
            data = pending + piece
            if not piece:
                if data:
                    if skip_header:
                        data, line = _drop_first_line(data, line)
                    if data:
                        yield line, data
                return
            cut = data.rfind(b"\n") + 1
            if cut == 0:
                pending = data
                continue
            block, pending = data[:cut], data[cut:]
            if skip_header:
                block, line = _drop_first_line(block, line)
                skip_header = False
            if block:
                yield line, block
                line += block.count(b"\n")


def _drop_first_line(data: bytes, line: int) -> tuple[bytes, int]:
    newline = data.find(b"\n")
    if newline < 0:
        return b"", line + 1
    return data[newline + 1 :], line + 1
