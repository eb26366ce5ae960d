"""Vectorised parsing of a block of delimited text lines (CSV, TSV, space separated).

Over 300 lines on purpose: the fast vectorised path and the per-line fallback must agree row for
row, so they sit side by side.

The fast path never loops over lines in Python: numpy finds line ends and counts delimiters per
line, lines with the wrong column count are dead-lettered, and the remaining lines are parsed
by Arrow's CSV reader in one call. Only unusual lines take the per-line Python path: lines with
quotes (CSV quoting), lines with a stray carriage return, and, when the block holds invalid
UTF-8, the lines that fail to decode.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

from pipeline import dead_letter

_NEWLINE = 10
_CARRIAGE_RETURN = 13
_QUOTE = 34


@dataclass(frozen=True)
class DelimitedSpec:
    """How to cut one log's lines into fields.

    Args:
        delimiter: a single character (`,`, a tab, a space).
        num_columns: the number of fields every line must have.
        fields: `{output name: column index}` of the fields to keep.
        quoting: whether `"` quotes fields (CSV); off for space/tab-separated formats.
    """

    delimiter: str
    num_columns: int
    fields: tuple[tuple[str, int], ...]
    quoting: bool = True

    def __post_init__(self) -> None:
        if len(self.delimiter) != 1:
            raise ValueError(
                f"Expected a one-character delimiter. Received: delimiter={self.delimiter!r}"
            )
        if self.num_columns < 1:
            raise ValueError(f"Expected num_columns >= 1. Received: num_columns={self.num_columns}")
        for name, index in self.fields:
            if not 0 <= index < self.num_columns:
                raise ValueError(
                    f"Expected the column index of {name!r} in [0, {self.num_columns}). "
                    f"Received: index={index}"
                )

    @property
    def field_names(self) -> list[str]:
        return [name for name, _ in self.fields]


@dataclass
class ParsedBlock:
    """The result of parsing one block.

    Attributes:
        rows: one string column per field of the spec, plus `line_number: int64`.
        dead_letters: rows of `dead_letter.DEAD_LETTER_SCHEMA`.
        rows_in: non-empty lines seen (each is in `rows` or `dead_letters`).
    """

    rows: pa.Table
    dead_letters: pa.Table
    rows_in: int
    block: bytes = b""
    first_line: int = 1
    starts: np.ndarray | None = None
    ends: np.ndarray | None = None

    def raw_lines(self, line_numbers: np.ndarray) -> list[str]:
        """The raw text of the given lines of this block (for dead letters)."""
        indices = np.asarray(line_numbers, dtype=np.int64) - self.first_line
        return [
            dead_letter.decode_raw(self.block[self.starts[index] : self.ends[index]])
            for index in indices
        ]


def check_unique_columns(header: list[str], used: list[str], path: str) -> None:
    """Raise when a column the pipeline reads appears more than once in a CSV header.

    A duplicated name is ambiguous (which of the columns is `user_id`?): rather than read one of
    them silently, the run stops before it starts. Duplicated columns that are not read are
    harmless and allowed.

    Raises:
        ValueError: naming the duplicated column.
    """
    for column in used:
        positions = [index + 1 for index, name in enumerate(header) if name == column]
        if len(positions) > 1:
            raise ValueError(
                f"Expected each column name once in the header of {path}; column {column!r} "
                f"appears {len(positions)} times (columns {positions}). "
                f"Received: header={','.join(header)!r}"
            )


def line_bounds(data: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """`(starts, ends, spans)`: each line's first byte, end without terminator, bytes incl. it."""
    newlines = np.flatnonzero(data == _NEWLINE)
    starts = np.concatenate([[0], newlines + 1]).astype(np.int64)
    ends = np.concatenate([newlines, [len(data)]]).astype(np.int64)
    if len(starts) and starts[-1] == len(data):
        starts, ends = starts[:-1], ends[:-1]
    spans = np.diff(np.concatenate([starts, [len(data)]]))
    has_cr = (ends > starts) & (data[np.maximum(ends - 1, 0)] == _CARRIAGE_RETURN)
    return starts, ends - has_cr, spans


def _lines_containing(positions: np.ndarray, starts: np.ndarray, num_lines: int) -> np.ndarray:
    mask = np.zeros(num_lines, dtype=bool)
    if len(positions):
        mask[np.searchsorted(starts, positions, side="right") - 1] = True
    return mask


def parse_block(block: bytes, first_line: int, spec: DelimitedSpec, source: str) -> ParsedBlock:
    """Parse a line-aligned block of a delimited log.

    Args:
        block: whole lines (the last one may lack its newline).
        first_line: physical line number of the block's first line.
        spec: the columns.
        source: the file the block came from (for dead letters).
    """
    data = np.frombuffer(block, dtype=np.uint8)
    starts, ends, spans = line_bounds(data)
    num_lines = len(starts)
    nonempty = ends > starts
    # one pass: the delimiters from each line's start to the next line's start
    delimiters_per_line = (
        np.add.reduceat(data == ord(spec.delimiter), starts, dtype=np.int64)
        if num_lines
        else np.zeros(0, dtype=np.int64)
    )
    carriage_returns = np.flatnonzero(data == _CARRIAGE_RETURN)
    stray_cr = (
        carriage_returns[~np.isin(carriage_returns, ends)]
        if len(carriage_returns)
        else carriage_returns
    )
    slow = _lines_containing(stray_cr, starts, num_lines)
    if spec.quoting:
        slow |= _lines_containing(np.flatnonzero(data == _QUOTE), starts, num_lines)
    slow &= nonempty
    shape_ok = delimiters_per_line == spec.num_columns - 1
    fast = nonempty & ~slow & shape_ok
    wrong = nonempty & ~slow & ~shape_ok
    line_numbers = first_line + np.arange(num_lines, dtype=np.int64)

    dead_reasons: list[str] = []
    dead_lines: list[int] = []
    dead_raws: list[str] = []
    for index in np.flatnonzero(wrong):
        dead_reasons.append(dead_letter.WRONG_COLUMN_COUNT)
        dead_lines.append(int(line_numbers[index]))
        dead_raws.append(dead_letter.decode_raw(block[starts[index] : ends[index]]))

    tables = []
    fast_rows, invalid = _parse_fast(block, data, fast, starts, ends, spans, spec)
    for index in invalid:
        dead_reasons.append(dead_letter.INVALID_UTF8)
        dead_lines.append(int(line_numbers[index]))
        dead_raws.append(dead_letter.decode_raw(block[starts[index] : ends[index]]))
    if invalid:
        fast[invalid] = False
    if fast_rows is not None:
        tables.append(fast_rows.append_column("line_number", pa.array(line_numbers[fast])))
    slow_table = _parse_slow(
        block,
        np.flatnonzero(slow),
        starts,
        ends,
        line_numbers,
        spec,
        dead_reasons,
        dead_lines,
        dead_raws,
    )
    if slow_table is not None:
        tables.append(slow_table)
    schema = pa.schema(
        [(name, pa.string()) for name in spec.field_names] + [("line_number", pa.int64())]
    )
    rows = pa.concat_tables(tables) if tables else schema.empty_table()
    dead = dead_letter.dead_letters_from_rows(dead_reasons, source, dead_lines, dead_raws)
    return ParsedBlock(
        rows=rows,
        dead_letters=dead,
        rows_in=int(nonempty.sum()),
        block=block,
        first_line=first_line,
        starts=starts,
        ends=ends,
    )


def _parse_fast(
    block: bytes,
    data: np.ndarray,
    fast: np.ndarray,
    starts: np.ndarray,
    ends: np.ndarray,
    spans: np.ndarray,
    spec: DelimitedSpec,
) -> tuple[pa.Table | None, list[int]]:
    """Arrow-parse the well-shaped lines; returns `(table, indices of invalid UTF-8 lines)`."""
    if not fast.any():
        return None, []
    invalid: list[int] = []
    for _ in range(2):
        if fast.all():
            buffer = block
        else:
            buffer = data[np.repeat(fast, spans)].tobytes()
        try:
            table = _arrow_csv(buffer, spec, int(spans[fast].max()))
        except pa.ArrowInvalid as error:
            if "UTF8" not in str(error) and "utf8" not in str(error).lower():
                raise
            invalid = _invalid_utf8_lines(block, np.flatnonzero(fast), starts, ends)
            fast = fast.copy()
            fast[invalid] = False
            if not fast.any():
                return None, invalid
            continue
        if table.num_rows != int(fast.sum()):
            raise ValueError(
                "Expected one parsed row per well-formed line. "
                f"Received: rows={table.num_rows}, lines={int(fast.sum())}"
            )
        return table, invalid
    raise ValueError(
        "Expected valid UTF-8 after removing invalid lines. Received: a second failure"
    )


def _arrow_csv(buffer: bytes, spec: DelimitedSpec, longest_line: int) -> pa.Table:
    """Arrow's CSV reader over `buffer`, in 1 MiB blocks parsed on all cores (Arrow's thread
    pool; a block must hold the longest line, so blocks grow with it)."""
    names = [f"column_{index}" for index in range(spec.num_columns)]
    include = [f"column_{index}" for _, index in spec.fields]
    table = pacsv.read_csv(
        pa.BufferReader(buffer),
        read_options=pacsv.ReadOptions(
            column_names=names, block_size=max(2 * longest_line + 2, 1 << 20), use_threads=True
        ),
        parse_options=pacsv.ParseOptions(
            delimiter=spec.delimiter,
            quote_char=False,
            newlines_in_values=False,
            ignore_empty_lines=True,
        ),
        convert_options=pacsv.ConvertOptions(
            column_types={name: pa.string() for name in include},
            include_columns=include,
            strings_can_be_null=False,
            quoted_strings_can_be_null=False,
        ),
    )
    columns = [table.column(f"column_{index}").combine_chunks() for _, index in spec.fields]
    return pa.table(dict(zip(spec.field_names, columns, strict=True)))


def _invalid_utf8_lines(
    block: bytes, candidates: np.ndarray, starts: np.ndarray, ends: np.ndarray
) -> list[int]:
    invalid = []
    for index in candidates:
        try:
            block[starts[index] : ends[index]].decode("utf-8")
        except UnicodeDecodeError:
            invalid.append(int(index))
    return invalid


def _parse_slow(
    block: bytes,
    indices: np.ndarray,
    starts: np.ndarray,
    ends: np.ndarray,
    line_numbers: np.ndarray,
    spec: DelimitedSpec,
    dead_reasons: list[str],
    dead_lines: list[int],
    dead_raws: list[str],
) -> pa.Table | None:
    """Per-line Python parsing of quoted lines and lines with stray carriage returns."""
    if len(indices) == 0:
        return None
    columns: dict[str, list[str]] = {name: [] for name in spec.field_names}
    kept_lines: list[int] = []
    for index in indices:
        raw = block[starts[index] : ends[index]]
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            dead_reasons.append(dead_letter.INVALID_UTF8)
            dead_lines.append(int(line_numbers[index]))
            dead_raws.append(dead_letter.decode_raw(raw))
            continue
        error_reason = dead_letter.MALFORMED_RECORD
        if spec.quoting:
            try:
                values = next(csv.reader([text], delimiter=spec.delimiter, strict=True), [])
            except csv.Error as error:
                values = None
                if "field larger than field limit" in str(error):
                    error_reason = dead_letter.FIELD_TOO_LONG
        else:
            values = text.split(spec.delimiter)
        if values is None or len(values) != spec.num_columns:
            dead_reasons.append(
                dead_letter.WRONG_COLUMN_COUNT if values is not None else error_reason
            )
            dead_lines.append(int(line_numbers[index]))
            dead_raws.append(text)
            continue
        for name, column in spec.fields:
            columns[name].append(values[column])
        kept_lines.append(int(line_numbers[index]))
    if not kept_lines:
        return None
    table = {name: pa.array(values, pa.string()) for name, values in columns.items()}
    table["line_number"] = pa.array(kept_lines, pa.int64())
    return pa.table(table)
