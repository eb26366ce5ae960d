"""Vectorised parsing of a block of JSON Lines (one object a line) into string columns.

Arrow's JSON reader parses the whole block in one call. When it fails (a malformed line, a
line that is not an object, invalid UTF-8, or a column whose type changes inside the block),
the block is bisected and each half re-parsed, so the bad lines are isolated with a few
Arrow calls instead of a Python loop over every line; only single lines that still fail
become dead letters.
"""

from __future__ import annotations

import json

import numpy as np
import pyarrow as pa
import pyarrow.json as pajson

from pipeline import dead_letter
from pipeline.delimited import ParsedBlock, line_bounds


def parse_jsonl_block(
    block: bytes,
    first_line: int,
    fields: tuple[tuple[str, str], ...],
    source: str,
    id_fields: tuple[str, ...] = (),
) -> ParsedBlock:
    """Parse a line-aligned block of JSON Lines.

    Args:
        block: whole lines.
        first_line: physical line number of the block's first line.
        fields: `(output name, JSON key)` pairs; each becomes a string column (null when the
            key is absent or null; numbers and booleans are written as JSON, e.g. `12`, `true`).
        source: the file (for dead letters).
        id_fields: output names of fields that hold ids: a line whose id is an object, a list or
            a boolean (not a string or number) is dead-lettered as `invalid_id` instead of
            being stringified.
    """
    data = np.frombuffer(block, dtype=np.uint8)
    starts, ends, spans = line_bounds(data)
    nonempty = np.flatnonzero(ends > starts)
    tables: list[pa.Table] = []
    dead_reasons: list[str] = []
    dead_lines: list[int] = []
    dead_raws: list[str] = []
    try:
        block.decode("utf-8")  # Arrow's JSON reader does not validate UTF-8; check once
    except UnicodeDecodeError:
        valid = np.ones(len(nonempty), dtype=bool)
        for position, index in enumerate(nonempty):
            raw = block[starts[index] : ends[index]]
            try:
                raw.decode("utf-8")
            except UnicodeDecodeError:
                valid[position] = False
                dead_reasons.append(dead_letter.INVALID_UTF8)
                dead_lines.append(first_line + int(index))
                dead_raws.append(dead_letter.decode_raw(raw))
        parse = nonempty[valid]
    else:
        parse = nonempty
    pending = [parse] if len(parse) else []
    while pending:
        indices = pending.pop()
        if len(indices) == len(starts) and len(indices) == len(nonempty):
            buffer = block
        else:
            mask = np.zeros(len(starts), dtype=bool)
            mask[indices] = True
            buffer = data[np.repeat(mask, spans)].tobytes()
        try:
            table = pajson.read_json(
                pa.BufferReader(buffer),
                read_options=pajson.ReadOptions(block_size=max(len(buffer) + 1, 1 << 20)),
            )
            if table.num_rows != len(indices):
                raise pa.ArrowInvalid("row count differs from line count")
            selected, invalid = _select(table, fields, first_line + indices, id_fields)
            if invalid.any():
                for index in indices[invalid]:
                    dead_reasons.append(dead_letter.INVALID_ID)
                    dead_lines.append(first_line + int(index))
                    dead_raws.append(dead_letter.decode_raw(block[starts[index] : ends[index]]))
                selected = selected.filter(pa.array(~invalid))
            tables.append(selected)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError):
            if len(indices) == 1:
                index = int(indices[0])
                raw = block[starts[index] : ends[index]]
                dead_reasons.append(_reason(raw))
                dead_lines.append(first_line + index)
                dead_raws.append(dead_letter.decode_raw(raw))
            else:
                half = len(indices) // 2
                pending.extend([indices[half:], indices[:half]])
    schema = pa.schema([(name, pa.string()) for name, _ in fields] + [("line_number", pa.int64())])
    rows = pa.concat_tables(tables) if tables else schema.empty_table()
    dead = dead_letter.dead_letters_from_rows(dead_reasons, source, dead_lines, dead_raws)
    return ParsedBlock(
        rows=rows,
        dead_letters=dead,
        rows_in=len(nonempty),
        block=block,
        first_line=first_line,
        starts=starts,
        ends=ends,
    )


def _reason(raw: bytes) -> str:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return dead_letter.INVALID_UTF8
    try:
        json.loads(text)
    except ValueError:
        return dead_letter.MALFORMED_RECORD
    return dead_letter.MALFORMED_RECORD


def _as_strings(column: pa.ChunkedArray) -> pa.Array:
    column = column.combine_chunks()
    if pa.types.is_string(column.type):
        return column
    if pa.types.is_null(column.type):
        return pa.nulls(len(column), pa.string())
    if pa.types.is_boolean(column.type) or pa.types.is_integer(column.type):
        return (
            column.cast(pa.string())
            if not pa.types.is_boolean(column.type)
            else pa.array(
                [
                    None if value is None else ("true" if value else "false")
                    for value in column.to_pylist()
                ],
                pa.string(),
            )
        )
    if pa.types.is_floating(column.type) or pa.types.is_timestamp(column.type):
        return column.cast(pa.string())
    return pa.array(
        [None if value is None else json.dumps(value, default=str) for value in column.to_pylist()],
        pa.string(),
    )


def _is_scalar_id_type(data_type: pa.DataType) -> bool:
    return (
        pa.types.is_string(data_type)
        or pa.types.is_large_string(data_type)
        or pa.types.is_integer(data_type)
        or pa.types.is_floating(data_type)
        or pa.types.is_null(data_type)
    )


def _select(
    table: pa.Table,
    fields: tuple[tuple[str, str], ...],
    line_numbers: np.ndarray,
    id_fields: tuple[str, ...] = (),
) -> tuple[pa.Table, np.ndarray]:
    """`(string columns + line_number, mask of rows whose id is not a string or number)`."""
    columns = {}
    invalid = np.zeros(table.num_rows, dtype=bool)
    for name, key in fields:
        if key in table.column_names:
            column = table.column(key)
            if name in id_fields and not _is_scalar_id_type(column.type):
                invalid |= column.is_valid().to_numpy(zero_copy_only=False)
            columns[name] = _as_strings(column)
        else:
            columns[name] = pa.nulls(table.num_rows, pa.string())
    columns["line_number"] = pa.array(line_numbers, pa.int64())
    return pa.table(columns), invalid
