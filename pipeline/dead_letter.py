"""Dead letters: every input row that does not reach the output, with the reason why.

A dead-letter table has the columns of `DEAD_LETTER_SCHEMA` (`reason`, `source`, `line_number`,
`raw`). Malformed rows keep their raw line; rows dropped after parsing (duplicates, filtered,
truncated) carry their parsed fields joined by the log's delimiter as `raw`, and `source` +
`line_number` point back to the original line.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pyarrow as pa

DEAD_LETTER_SCHEMA = pa.schema(
    [
        ("reason", pa.string()),
        ("source", pa.string()),
        ("line_number", pa.int64()),
        ("raw", pa.string()),
    ]
)

# Every reason a row can be dead-lettered for (the keys of `stats.json` `dead_by_reason`).
WRONG_COLUMN_COUNT = "wrong_column_count"
INVALID_UTF8 = "invalid_utf8"
MALFORMED_RECORD = "malformed_record"
MISSING_FIELD = "missing_field"
EMPTY_ID = "empty_id"
UNPARSABLE_TIMESTAMP = "unparsable_timestamp"
ABSURD_TIMESTAMP = "absurd_timestamp"
DUPLICATE = "duplicate"
FILTERED_MIN_USER_COUNT = "filtered_min_user_count"
FILTERED_MIN_ITEM_COUNT = "filtered_min_item_count"
TRUNCATED_MAX_LENGTH = "truncated_max_length"
EMPTY_TEXT = "empty_text"
INVALID_ID = "invalid_id"  # an id with a control character (NUL, ...) or not a JSON string/number
RESERVED_ID = "reserved_id"  # an item id in the reserved `[seqlens:...]` namespace
FIELD_TOO_LONG = "field_too_long"  # a CSV field over `text_formats.MAX_FIELD_CHARS` characters

REASONS: tuple[str, ...] = (
    WRONG_COLUMN_COUNT,
    INVALID_UTF8,
    MALFORMED_RECORD,
    MISSING_FIELD,
    EMPTY_ID,
    UNPARSABLE_TIMESTAMP,
    ABSURD_TIMESTAMP,
    DUPLICATE,
    FILTERED_MIN_USER_COUNT,
    FILTERED_MIN_ITEM_COUNT,
    TRUNCATED_MAX_LENGTH,
    EMPTY_TEXT,
    INVALID_ID,
    RESERVED_ID,
    FIELD_TOO_LONG,
)


def empty_dead_letters() -> pa.Table:
    """A dead-letter table with no rows."""
    return DEAD_LETTER_SCHEMA.empty_table()


def dead_letters_from_rows(
    reasons: Sequence[str], source: str, line_numbers: Sequence[int], raws: Sequence[str]
) -> pa.Table:
    """Build a dead-letter table from Python lists (the slow path: malformed rows only)."""
    if not (len(reasons) == len(line_numbers) == len(raws)):
        raise ValueError(
            "Expected reasons, line_numbers and raws of equal length. "
            f"Received: lengths={len(reasons)}, {len(line_numbers)}, {len(raws)}"
        )
    return pa.table(
        {
            "reason": pa.array(list(reasons), pa.string()),
            "source": pa.array([source] * len(reasons), pa.string()),
            "line_number": pa.array(list(line_numbers), pa.int64()),
            "raw": pa.array(list(raws), pa.string()),
        },
        schema=DEAD_LETTER_SCHEMA,
    )


def dead_letters_from_arrays(
    reason: str | pa.Array,
    sources: pa.Array,
    line_numbers: pa.Array | np.ndarray,
    raws: pa.Array,
) -> pa.Table:
    """Build a dead-letter table from Arrow arrays (the vectorised path)."""
    length = len(raws)
    if isinstance(reason, str):
        reason_array = pa.array(np.full(length, reason, dtype=object), pa.string())
    else:
        reason_array = reason.cast(pa.string())
    return pa.table(
        {
            "reason": reason_array,
            "source": sources.cast(pa.string()),
            "line_number": pa.array(line_numbers, pa.int64()),
            "raw": raws.cast(pa.string()),
        },
        schema=DEAD_LETTER_SCHEMA,
    )


def count_by_reason(dead_letters: pa.Table) -> dict[str, int]:
    """`{reason: rows}` of a dead-letter table."""
    if dead_letters.num_rows == 0:
        return {}
    counts = dead_letters.column("reason").value_counts()
    return {str(entry["values"]): int(entry["counts"]) for entry in counts.to_pylist()}


def decode_raw(line: bytes) -> str:
    """A raw line as text for the dead-letter file; invalid UTF-8 bytes become `\\xNN` escapes."""
    return line.decode("utf-8", errors="backslashreplace").rstrip("\r\n")
