"""Reading news and chat logs (CSV with quoting and multi-line texts, or JSON Lines, gzip ok).

`TextColumns` names the input columns of each output field; `resolve_text_format` checks them
against the log's header (or its first JSON objects) once, before the pipeline starts, and
finds the extra columns to keep. `read_text_chunk` yields blocks of string columns plus
`line_number` and dead letters.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass

import pyarrow as pa

from pipeline import dead_letter, sources
from pipeline.delimited import ParsedBlock, check_unique_columns
from pipeline.formats import TEXT_FORMATS
from pipeline.jsonlines import parse_jsonl_block

# Output fields that hold ids: a JSON object, list or boolean there is an `invalid_id`.
TEXT_ID_FIELDS = ("id", "conversation_id", "ticker")
_SURROGATE = re.compile("[\udc80-\udcff]")
_CSV_BATCH_ROWS = 20_000
# The longest CSV field read (characters): Python's `csv` default limit, which is kept. A record
# with a longer field is dead-lettered (`field_too_long`) with its original text as `raw`.
MAX_FIELD_CHARS = 131_072


@dataclass(frozen=True)
class TextColumns:
    """Which input column holds each output field of a text log.

    Args:
        kind: `news` or `chats`.
        fields: `(output field, input column)` pairs, in output order.
        required: output fields that must be present and non-empty.
        key: the output field identifying a text (`id` for news, `conversation_id` for chats).
    """

    kind: str
    fields: tuple[tuple[str, str], ...]
    required: tuple[str, ...]
    key: str

    @classmethod
    def news(
        cls,
        id_column: str = "id",
        timestamp_column: str = "timestamp",
        ticker_column: str = "ticker",
        text_column: str = "text",
        source_column: str = "source",
        author_column: str = "author",
    ) -> TextColumns:
        return cls(
            "news",
            (
                ("id", id_column),
                ("timestamp", timestamp_column),
                ("ticker", ticker_column),
                ("text", text_column),
                ("source", source_column),
                ("author", author_column),
            ),
            ("timestamp", "ticker", "text"),
            "id",
        )

    @classmethod
    def chats(
        cls,
        conversation_column: str = "conversation_id",
        timestamp_column: str = "timestamp",
        text_column: str = "text",
        intent_column: str = "intent",
    ) -> TextColumns:
        return cls(
            "chats",
            (
                ("conversation_id", conversation_column),
                ("timestamp", timestamp_column),
                ("text", text_column),
                ("intent", intent_column),
            ),
            ("conversation_id", "timestamp", "text"),
            "conversation_id",
        )


@dataclass(frozen=True)
class TextReadSpec:
    """How to read one text log: format, `(field, input column)` pairs incl. extras, CSV header."""

    input_format: str
    fields: tuple[tuple[str, str], ...]
    extras: tuple[str, ...]
    header: tuple[str, ...]
    delimiter: str


def resolve_text_format(
    input_format: str, paths: list[str], columns: TextColumns, delimiter: str = ","
) -> TextReadSpec:
    """Check the columns against the first input file; find the extra columns to keep."""
    if input_format not in TEXT_FORMATS:
        raise ValueError(
            f"Expected format to be one of {', '.join(TEXT_FORMATS)}. Received: "
            f"format={input_format!r}"
        )
    if input_format == "csv":
        line = sources.read_first_line(paths[0]).decode("utf-8", errors="replace").lstrip("\ufeff")
        available = next(csv.reader([line], delimiter=delimiter), [])
    else:
        available = _json_keys(paths[0])
    fields = []
    for field, column in columns.fields:
        if column in available:
            fields.append((field, column))
        elif field in columns.required:
            option = {"conversation_id": "conversation"}.get(field, field)
            raise ValueError(
                f"Expected column {column!r} (--{option}-column) in {paths[0]}; it has "
                f"{', '.join(available)}. Received: {field}_column={column!r}"
            )
    mapped = {column for _, column in fields}
    outputs = {field for field, _ in columns.fields}
    extras = tuple(
        name for name in available if name not in mapped and name not in outputs and name
    )
    fields.extend((name, name) for name in extras)
    if input_format == "csv":  # every column is read: the mapped ones and the extras
        check_unique_columns(list(available), [column for _, column in fields], paths[0])
    return TextReadSpec(
        input_format,
        tuple(fields),
        extras,
        tuple(available) if input_format == "csv" else (),
        delimiter,
    )


def _json_keys(path: str) -> list[str]:
    keys: list[str] = []
    for raw in sources.read_head_lines(path):
        try:
            record = json.loads(raw)
        except ValueError:
            continue
        if isinstance(record, dict):
            keys.extend(key for key in record if key not in keys)
    return keys


def read_text_chunk(chunk: sources.Chunk, spec: TextReadSpec) -> Iterator[ParsedBlock]:
    """Blocks of string columns (the spec's fields) + `line_number`, with dead letters."""
    if spec.input_format == "jsonl":
        for first_line, block in sources.iter_blocks(chunk):
            yield parse_jsonl_block(
                block, first_line, spec.fields, chunk.path, id_fields=TEXT_ID_FIELDS
            )
        return
    yield from _read_csv(chunk, spec)


class _RecordingLines:
    """Iterates the lines of a text stream for `csv.reader`, remembering the ones it read."""

    def __init__(self, text: io.TextIOBase):
        self._text = text
        self.lines: list[str] = []

    def __iter__(self):
        return self

    def __next__(self) -> str:
        line = next(self._text)
        self.lines.append(line)
        return line

    def take(self) -> str:
        """The original text of the lines read since the last call, without the final line end."""
        raw = "".join(self.lines).rstrip("\r\n")
        self.lines = []
        return raw


def _original(raw: str) -> str:
    """A raw record for the dead-letter file: invalid UTF-8 bytes become `\\xNN` escapes."""
    if not _SURROGATE.search(raw):
        return raw
    return raw.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def _read_csv(chunk: sources.Chunk, spec: TextReadSpec) -> Iterator[ParsedBlock]:
    """A whole CSV file through Python's `csv` (quoted fields may span lines).

    Every dead letter's `raw` is the record's original text (all its lines). A field longer
    than `MAX_FIELD_CHARS` is dead-lettered as `field_too_long`.
    """
    positions = {name: index for index, name in enumerate(spec.header)}
    wanted = [(field, positions[column]) for field, column in spec.fields]
    with sources.open_binary(chunk.path) as handle:
        text = io.TextIOWrapper(handle, encoding="utf-8", errors="surrogateescape", newline="")
        lines = _RecordingLines(text)
        reader = csv.reader(lines, delimiter=spec.delimiter)
        columns: dict[str, list] = {field: [] for field, _ in wanted}
        line_numbers: list[int] = []
        raws: list[str] = []
        dead: tuple[list, list, list] = ([], [], [])
        rows_in = 0
        next(reader, None)  # the header
        lines.take()
        previous_end = reader.line_num
        while True:
            try:
                row = next(reader)
            except StopIteration:
                break
            except csv.Error as error:
                rows_in += 1
                reason = (
                    dead_letter.FIELD_TOO_LONG
                    if "field larger than field limit" in str(error)
                    else dead_letter.MALFORMED_RECORD
                )
                _add_dead(dead, reason, previous_end + 1, _original(lines.take()))
                previous_end = reader.line_num
                continue
            line_number = previous_end + 1
            previous_end = reader.line_num
            raw = lines.take()
            if not row:
                continue
            rows_in += 1
            if _SURROGATE.search(raw):
                _add_dead(dead, dead_letter.INVALID_UTF8, line_number, _original(raw))
            elif len(row) != len(spec.header):
                _add_dead(dead, dead_letter.WRONG_COLUMN_COUNT, line_number, raw)
            else:
                for field, index in wanted:
                    columns[field].append(row[index])
                line_numbers.append(line_number)
                raws.append(raw)
            if rows_in >= _CSV_BATCH_ROWS:
                yield _csv_block(columns, line_numbers, raws, dead, rows_in, chunk.path)
                columns = {field: [] for field, _ in wanted}
                line_numbers, raws, dead, rows_in = [], [], ([], [], []), 0
        if rows_in:
            yield _csv_block(columns, line_numbers, raws, dead, rows_in, chunk.path)


def _add_dead(dead: tuple[list, list, list], reason: str, line: int, raw: str) -> None:
    dead[0].append(reason)
    dead[1].append(line)
    dead[2].append(raw)


def _csv_block(columns, lines, raws, dead, rows_in, path) -> ParsedBlock:
    table = {field: pa.array(values, pa.string()) for field, values in columns.items()}
    table["line_number"] = pa.array(lines, pa.int64())
    parsed = ParsedBlock(
        rows=pa.table(table),
        rows_in=rows_in,
        dead_letters=dead_letter.dead_letters_from_rows(dead[0], path, dead[1], dead[2]),
    )
    by_line = dict(zip(lines, raws, strict=True))
    # the original text of each kept record, for rows dead-lettered after parsing
    parsed.raw_lines = lambda numbers: [by_line[int(number)] for number in numbers]  # type: ignore[method-assign]
    return parsed
