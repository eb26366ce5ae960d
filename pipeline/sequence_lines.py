"""Vectorised parsing of one-sequence-per-line logs: `user item item ...` (S3-Rec and successors).

Each non-empty line holds a user id and that user's items in time order, separated by spaces
(the format of S3-Rec's `Sports_and_Outdoors.txt`, `Toys_and_Games.txt`, and of FEARec, BSARec
and DuoRec, which reuse them). There are no timestamps: an item's *ordinal time* is
`line_number * MAX_ITEMS_PER_LINE + position`, so the pipeline's time ordering keeps each line's
order, and a user whose items span several lines keeps the lines' order. Repeated items on one
line are separate events (different positions), so they are kept, not deduplicated.

A line is one input row per item it holds (`rows_in` counts events, so that `rows_in ==
rows_out + rows_dead` holds event for event); a line without an item is one dead row
(`missing_field`), and a line with more than `MAX_ITEMS_PER_LINE` items is dead-lettered whole
(`field_too_long`), as is a line that is not valid UTF-8 (`invalid_utf8`).
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from pipeline import dead_letter
from pipeline.delimited import ParsedBlock, line_bounds

MAX_ITEMS_PER_LINE = 1_000_000


def ordinal_times(line_numbers: np.ndarray, positions: np.ndarray) -> np.ndarray:
    """`(N,)` int64 ordinal times of items at `positions` (0-based) on `line_numbers`."""
    return np.asarray(line_numbers, np.int64) * MAX_ITEMS_PER_LINE + np.asarray(positions, np.int64)


def parse_sequence_lines_block(block: bytes, first_line: int, source: str) -> ParsedBlock:
    """Parse a line-aligned block of `user item item ...` lines into one row per item.

    Args:
        block: whole lines (the last one may lack its newline).
        first_line: physical line number of the block's first line (1-based).
        source: the file the block came from (for dead letters).

    Returns:
        A `ParsedBlock` whose `rows` hold string columns `user_id`, `item_id`, the int64
        ordinal `timestamp` and `line_number`, one row per item, in line and position order.
    """
    data = np.frombuffer(block, dtype=np.uint8)
    starts, ends, _ = line_bounds(data)
    nonempty = np.flatnonzero(ends > starts)
    dead_reasons: list[str] = []
    dead_lines: list[int] = []
    dead_raws: list[str] = []
    texts: list[str] = []
    line_indices: list[int] = []
    for index in nonempty:
        raw = block[starts[index] : ends[index]]
        try:
            texts.append(raw.decode("utf-8"))
        except UnicodeDecodeError:
            dead_reasons.append(dead_letter.INVALID_UTF8)
            dead_lines.append(first_line + int(index))
            dead_raws.append(dead_letter.decode_raw(raw))
            continue
        line_indices.append(int(index))
    trimmed = pc.utf8_trim_whitespace(pa.array(texts, pa.string()))
    tokens = pc.utf8_split_whitespace(trimmed)  # runs of whitespace separate once
    counts = pc.list_value_length(tokens).to_numpy(zero_copy_only=False).astype(np.int64)
    counts[pc.equal(trimmed, "").to_numpy(zero_copy_only=False)] = 0
    line_numbers = first_line + np.asarray(line_indices, np.int64)
    blank = counts == 0  # only spaces: an empty line
    too_short = (counts == 1) & ~blank
    too_long = counts - 1 > MAX_ITEMS_PER_LINE
    for reason, mask in (
        (dead_letter.MISSING_FIELD, too_short),
        (dead_letter.FIELD_TOO_LONG, too_long),
    ):
        for position in np.flatnonzero(mask):
            dead_reasons.append(reason)
            dead_lines.append(int(line_numbers[position]))
            dead_raws.append(texts[position])
    keep = counts >= 2
    keep &= ~too_long
    kept_tokens = tokens.filter(pa.array(keep))
    kept_lines = line_numbers[keep]
    items = pc.list_slice(kept_tokens, 1)
    parents = pc.list_parent_indices(items).to_numpy(zero_copy_only=False)
    offsets = np.concatenate([[0], np.cumsum(counts[keep] - 1)])
    positions = np.arange(len(parents), dtype=np.int64) - offsets[parents]
    users = pc.list_element(kept_tokens, 0)
    rows = pa.table(
        {
            "user_id": users.take(pa.array(parents, pa.int64())),
            "item_id": pc.list_flatten(items),
            "timestamp": pa.array(ordinal_times(kept_lines[parents], positions), pa.int64()),
            "line_number": pa.array(kept_lines[parents], pa.int64()),
        }
    )
    return ParsedBlock(
        rows=rows,
        dead_letters=dead_letter.dead_letters_from_rows(
            dead_reasons, source, dead_lines, dead_raws
        ),
        rows_in=rows.num_rows + len(dead_reasons),
        block=block,
        first_line=first_line,
        starts=starts,
        ends=ends,
    )
