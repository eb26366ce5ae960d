"""Validate parsed event rows, vectorised: typed events out, dead letters with a reason.

A row is dead-lettered for the first problem found, in this order: a missing required field
(`missing_field`), an empty user or item id (`empty_id`), a user or item id with a control
character such as NUL (`invalid_id`, see `pipeline.ids`), an item id in the reserved
`[seqlens:...]` namespace (`reserved_id`), an unparsable timestamp (`unparsable_timestamp`), a
timestamp outside the plausible range (`absurd_timestamp`).
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from pipeline import dead_letter, ids
from pipeline.delimited import ParsedBlock
from pipeline.timestamps import (
    STATUS_ABSURD,
    STATUS_MISSING,
    STATUS_OK,
    STATUS_UNPARSABLE,
    TimestampRange,
    parse_timestamps,
)

EVENT_SCHEMA = pa.schema(
    [
        ("user_id", pa.string()),
        ("item_id", pa.string()),
        ("timestamp", pa.int64()),
        ("event_type", pa.string()),
        ("value", pa.string()),
        ("file_index", pa.int32()),
        ("line_number", pa.int64()),
    ]
)

_CODE_REASONS = {
    1: dead_letter.MISSING_FIELD,
    2: dead_letter.EMPTY_ID,
    3: dead_letter.UNPARSABLE_TIMESTAMP,
    4: dead_letter.ABSURD_TIMESTAMP,
    5: dead_letter.INVALID_ID,
    6: dead_letter.RESERVED_ID,
}


def validate_events(
    parsed: ParsedBlock,
    plausible: TimestampRange,
    file_index: int,
    source: str,
    position_as_time: bool = False,
) -> tuple[pa.Table, pa.Table]:
    """Split parsed rows into valid typed events and dead letters.

    Args:
        parsed: a block from `event_formats.read_event_chunk` (string columns).
        plausible: the plausible timestamp range (ignored when `position_as_time`).
        file_index: index of the source file (stored for deterministic tie-breaking).
        source: the source file (for dead letters).
        position_as_time: the timestamp column holds ordinal times (the line number for SASRec,
            `pipeline.sequence_lines.ordinal_times`); never absurd.

    Returns:
        `(events, dead_letters)`: `events` has `EVENT_SCHEMA`, ids trimmed of whitespace.
    """
    rows = parsed.rows
    count = rows.num_rows
    if count == 0:
        return EVENT_SCHEMA.empty_table(), parsed.dead_letters
    users = pc.utf8_trim_whitespace(rows.column("user_id").combine_chunks())
    items = pc.utf8_trim_whitespace(rows.column("item_id").combine_chunks())
    code = np.zeros(count, dtype=np.int8)
    missing = users.is_null().to_numpy(zero_copy_only=False) | items.is_null().to_numpy(
        zero_copy_only=False
    )
    empty = pc.fill_null(
        pc.or_(pc.equal(pc.utf8_length(users), 0), pc.equal(pc.utf8_length(items), 0)), False
    ).to_numpy(zero_copy_only=False)
    if position_as_time:  # ordinal times (line numbers, sequence positions), not seconds
        seconds = pc.cast(rows.column("timestamp"), pa.int64()).to_numpy(zero_copy_only=False)
        status = np.full(count, STATUS_OK, dtype=np.int8)
    else:
        seconds, status = parse_timestamps(rows.column("timestamp"), plausible)
    code[status == STATUS_ABSURD] = 4
    code[status == STATUS_UNPARSABLE] = 3
    code[ids.is_reserved(items)] = 6
    code[ids.has_control_characters(users) | ids.has_control_characters(items)] = 5
    code[empty] = 2
    code[missing | (status == STATUS_MISSING)] = 1
    good = code == 0
    events = pa.table(
        {
            "user_id": users,
            "item_id": items,
            "timestamp": pa.array(seconds, pa.int64()),
            "event_type": _optional(rows, "event_type"),
            "value": _optional(rows, "value"),
            "file_index": pa.array(np.full(count, file_index, dtype=np.int32)),
            "line_number": rows.column("line_number").combine_chunks(),
        },
        schema=EVENT_SCHEMA,
    )
    if good.all():
        return events, parsed.dead_letters
    bad = np.flatnonzero(~good)
    line_numbers = events.column("line_number").to_numpy()[bad]
    dead = dead_letter.dead_letters_from_rows(
        [_CODE_REASONS[int(value)] for value in code[bad]],
        source,
        [int(number) for number in line_numbers],
        parsed.raw_lines(line_numbers),
    )
    return events.filter(pa.array(good)), pa.concat_tables([parsed.dead_letters, dead])


def _optional(rows: pa.Table, name: str) -> pa.Array:
    column = rows.column(name).combine_chunks()
    if pa.types.is_null(column.type):
        return pa.nulls(len(column), pa.string())
    return pc.utf8_trim_whitespace(column.cast(pa.string()))
