"""Event log formats: how to read CSV, JSON Lines, Parquet, MovieLens and SASRec logs.

`resolve_event_format` runs once when the pipeline is built (it reads at most the first line of
each input) and fixes the columns; a wrong column name or an unknown format is a `ValueError`
there, before any work starts. `read_event_chunk` then turns one `sources.Chunk` into blocks of
string columns `user_id, item_id, timestamp, event_type, value, line_number` plus dead letters.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from pipeline import dead_letter, sources
from pipeline.delimited import DelimitedSpec, ParsedBlock, check_unique_columns, parse_block
from pipeline.formats import EVENT_FORMATS
from pipeline.jsonlines import parse_jsonl_block
from pipeline.sequence_lines import parse_sequence_lines_block

EVENT_FIELDS = ("user_id", "item_id", "timestamp", "event_type", "value")
MOVIELENS_COLUMNS = ("userId", "movieId", "rating", "timestamp")


@dataclass(frozen=True)
class EventColumns:
    """Names of the input columns that hold each event field (`None`: the log has none).

    Args:
        user_column / item_column / timestamp_column: required fields.
        event_type_column / value_column: optional fields; used when present in the log.
    """

    user_column: str = "user_id"
    item_column: str = "item_id"
    timestamp_column: str = "timestamp"
    event_type_column: str | None = "event_type"
    value_column: str | None = "value"

    def mapping(self) -> dict[str, str | None]:
        return {
            "user_id": self.user_column,
            "item_id": self.item_column,
            "timestamp": self.timestamp_column,
            "event_type": self.event_type_column,
            "value": self.value_column,
        }


@dataclass(frozen=True)
class EventReadSpec:
    """Everything a worker needs to parse one chunk of an event log.

    Attributes:
        kind: `delimited`, `jsonl`, `parquet` or `sequence_lines`.
        delimited: the column layout for `delimited` logs.
        json_fields: `(field, key)` pairs for JSON Lines and Parquet.
        has_header: whether each file starts with a header line.
        position_as_time: the log has no timestamps: the line number (SASRec) or the ordinal
            time of `pipeline.sequence_lines` orders the events; no plausibility check.
        fields_present: which of `EVENT_FIELDS` the log has.
    """

    kind: str
    delimited: DelimitedSpec | None
    json_fields: tuple[tuple[str, str], ...]
    has_header: bool
    position_as_time: bool
    fields_present: tuple[str, ...]


def resolve_event_format(
    input_format: str, paths: list[str], columns: EventColumns, delimiter: str = ","
) -> EventReadSpec:
    """Decide how to parse the logs at `paths` (reads only their first lines)."""
    if input_format not in EVENT_FORMATS:
        raise ValueError(
            f"Expected format to be one of {', '.join(EVENT_FORMATS)}. Received: "
            f"format={input_format!r}"
        )
    if input_format == "sasrec":
        spec = DelimitedSpec(" ", 2, (("user_id", 0), ("item_id", 1)), quoting=False)
        return EventReadSpec(
            "delimited", spec, (), False, True, ("user_id", "item_id", "timestamp")
        )
    if input_format == "sequence-lines":
        return EventReadSpec(
            "sequence_lines", None, (), False, True, ("user_id", "item_id", "timestamp")
        )
    if input_format == "movielens":
        return _resolve_movielens(paths)
    mapping = {field: column for field, column in columns.mapping().items() if column}
    if input_format in ("jsonl", "parquet"):
        available = _json_or_parquet_keys(input_format, paths[0])
        fields = _check_columns(mapping, available, paths[0])
        return EventReadSpec(
            input_format, None, fields, False, False, tuple(name for name, _ in fields)
        )
    header = _read_header(paths, delimiter)
    fields = _check_columns(mapping, header, paths[0])
    check_unique_columns(header, [column for _, column in fields], paths[0])
    index = {name: position for position, name in enumerate(header)}
    spec = DelimitedSpec(
        delimiter, len(header), tuple((field, index[key]) for field, key in fields), quoting=True
    )
    return EventReadSpec("delimited", spec, (), True, False, tuple(name for name, _ in fields))


def _check_columns(
    mapping: dict[str, str], available: list[str], path: str
) -> tuple[tuple[str, str], ...]:
    fields = []
    for field, column in mapping.items():
        if column in available:
            fields.append((field, column))
        elif field in ("user_id", "item_id", "timestamp"):
            option = {"user_id": "user", "item_id": "item", "timestamp": "timestamp"}[field]
            raise ValueError(
                f"Expected column {column!r} (--{option}-column) in {path}; it has "
                f"{', '.join(available)}. Received: {option}_column={column!r}"
            )
    return tuple(fields)


def _read_header(paths: list[str], delimiter: str) -> list[str]:
    headers = []
    for path in paths:
        line = sources.read_first_line(path).decode("utf-8", errors="replace").lstrip("\ufeff")
        headers.append(next(csv.reader([line], delimiter=delimiter), []))
    if any(header != headers[0] for header in headers):
        raise ValueError(
            f"Expected every input file to have the same header. Received: paths={paths}"
        )
    if not headers[0] or headers[0] == [""]:
        raise ValueError(f"Expected a header line in {paths[0]}. Received: an empty first line")
    return headers[0]


def _json_or_parquet_keys(input_format: str, path: str) -> list[str]:
    if input_format == "parquet":
        import pyarrow.parquet as pq

        with sources.open_binary(path, compressed=False) as handle:
            return list(pq.ParquetFile(handle).schema_arrow.names)
    keys: list[str] = []
    for raw in sources.read_head_lines(path):
        try:
            record = json.loads(raw)
        except ValueError:
            continue
        if isinstance(record, dict):
            keys.extend(key for key in record if key not in keys)
    return keys


def _resolve_movielens(paths: list[str]) -> EventReadSpec:
    """`ratings.csv` (header), `u.data` (tab separated) or `ratings.dat` (`::` separated)."""
    first = sources.read_first_line(paths[0]).decode("utf-8", errors="replace")
    present = ("user_id", "item_id", "timestamp", "value")
    if first.startswith("userId"):
        header = first.split(",")
        check_unique_columns(header, list(MOVIELENS_COLUMNS), paths[0])
        missing = [name for name in MOVIELENS_COLUMNS if name not in header]
        if missing:
            raise ValueError(
                f"Expected MovieLens columns {MOVIELENS_COLUMNS}. Received: header={first!r}"
            )
        position = {name: header.index(name) for name in MOVIELENS_COLUMNS}
        fields = (
            ("user_id", position["userId"]),
            ("item_id", position["movieId"]),
            ("timestamp", position["timestamp"]),
            ("value", position["rating"]),
        )
        return EventReadSpec(
            "delimited", DelimitedSpec(",", len(header), fields), (), True, False, present
        )
    if "::" in first:
        fields = (("user_id", 0), ("item_id", 2), ("value", 4), ("timestamp", 6))
        return EventReadSpec(
            "delimited", DelimitedSpec(":", 7, fields, quoting=False), (), False, False, present
        )
    if "\t" in first:
        fields = (("user_id", 0), ("item_id", 1), ("value", 2), ("timestamp", 3))
        return EventReadSpec(
            "delimited", DelimitedSpec("\t", 4, fields, quoting=False), (), False, False, present
        )
    raise ValueError(
        "Expected a MovieLens ratings.csv (header userId,movieId,rating,timestamp), u.data (tab "
        f"separated) or ratings.dat (:: separated). Received: first line={first[:80]!r}"
    )


def read_event_chunk(
    chunk: sources.Chunk, spec: EventReadSpec, block_bytes: int = sources.DEFAULT_BLOCK_BYTES
) -> Iterator[ParsedBlock]:
    """Parse one chunk into blocks with string columns `EVENT_FIELDS` + `line_number`."""
    if spec.kind == "parquet":
        yield from _read_parquet_chunk(chunk, spec)
        return
    for first_line, block in sources.iter_blocks(chunk, block_bytes):
        if spec.kind == "sequence_lines":
            parsed = parse_sequence_lines_block(block, first_line, chunk.path)
        elif spec.kind == "jsonl":
            parsed = parse_jsonl_block(
                block, first_line, spec.json_fields, chunk.path, id_fields=("user_id", "item_id")
            )
        else:
            parsed = parse_block(block, first_line, spec.delimited, chunk.path)
        parsed.rows = _complete(parsed.rows, spec)
        yield parsed


def _complete(rows: pa.Table, spec: EventReadSpec) -> pa.Table:
    """Add the missing optional fields as nulls; SASRec gets its line number as the timestamp."""
    if spec.position_as_time and "timestamp" not in rows.column_names:
        rows = rows.append_column("timestamp", rows.column("line_number"))
    columns = {}
    for field in EVENT_FIELDS:
        if field in rows.column_names:
            columns[field] = rows.column(field)
        else:
            columns[field] = pa.nulls(rows.num_rows, pa.string())
    columns["line_number"] = rows.column("line_number")
    return pa.table(columns)


def plan_parquet_chunks(path: str, file_index: int) -> list[sources.Chunk]:
    """One chunk per Parquet row group; `start`/`end` are row-group indices."""
    import pyarrow.parquet as pq

    with sources.open_binary(path, compressed=False) as handle:
        metadata = pq.ParquetFile(handle).metadata
    chunks, first_row = [], 1
    for group in range(metadata.num_row_groups):
        chunks.append(sources.Chunk(path, file_index, group, group + 1, first_row, False))
        first_row += metadata.row_group(group).num_rows
    return chunks


def _read_parquet_chunk(chunk: sources.Chunk, spec: EventReadSpec) -> Iterator[ParsedBlock]:
    import pyarrow.parquet as pq

    keys = [key for _, key in spec.json_fields]
    with sources.open_binary(chunk.path, compressed=False) as handle:
        table = pq.ParquetFile(handle).read_row_group(chunk.start, columns=keys)
    columns = {}
    for field, key in spec.json_fields:
        column = table.column(key)
        if pa.types.is_timestamp(column.type):
            column = column.cast(pa.timestamp("s", tz="UTC")).cast(pa.int64())
        columns[field] = column.cast(pa.string())
    line_numbers = chunk.first_line + np.arange(table.num_rows, dtype=np.int64)
    columns["line_number"] = pa.array(line_numbers)
    rows = _complete(pa.table(columns), spec)
    parsed = ParsedBlock(
        rows=rows, dead_letters=dead_letter.empty_dead_letters(), rows_in=table.num_rows
    )
    parsed.raw_lines = lambda numbers: _parquet_raw(rows, numbers, chunk.first_line)  # type: ignore[method-assign]
    yield parsed


def _parquet_raw(rows: pa.Table, line_numbers: np.ndarray, first_line: int) -> list[str]:
    picked = rows.take(pa.array(np.asarray(line_numbers) - first_line)).to_pylist()
    return [
        json.dumps({key: value for key, value in row.items() if key != "line_number"})
        for row in picked
    ]
