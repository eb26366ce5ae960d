"""The alerts' dead letters: the pipeline's dead-letter schema plus the text's `id`.

Every row the alerts path does not use lands in `dead_letter.parquet` with the columns of
`pipeline.dead_letter.DEAD_LETTER_SCHEMA` (`reason, source, line_number, raw`) and, to find the
text again, its `id`. Reasons are the pipeline's (`pipeline.dead_letter.REASONS`) where one
fits, plus `BAD_SCORE` for a scored row whose score is not a number in `[-1, 1]`.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from pipeline.dead_letter import DEAD_LETTER_SCHEMA, dead_letters_from_arrays

BAD_SCORE = "bad_score"
DEAD_LETTER_COLUMNS = [*DEAD_LETTER_SCHEMA.names, "id"]
ALERTS_DEAD_LETTER_SCHEMA = DEAD_LETTER_SCHEMA.append(pa.field("id", pa.string()))


def dead_letter_frame(
    reasons: Sequence[str],
    sources: Sequence[str],
    line_numbers: Sequence[int | None],
    raws: Sequence[str],
    ids: Sequence[str],
) -> pd.DataFrame:
    """One dead letter per row, `DEAD_LETTER_COLUMNS`; `line_number` is `Int64` (may be NA)."""
    if not len(reasons) == len(sources) == len(line_numbers) == len(raws) == len(ids):
        raise ValueError(
            "Expected reasons, sources, line_numbers, raws and ids of equal length. Received: "
            f"lengths={len(reasons)}, {len(sources)}, {len(line_numbers)}, {len(raws)}, "
            f"{len(ids)}"
        )
    table = dead_letters_from_arrays(
        pa.array(list(reasons), pa.string()),
        pa.array(list(sources), pa.string()),
        pa.array(list(line_numbers), pa.int64()),
        pa.array(list(raws), pa.string()),
    ).append_column("id", pa.array(list(ids), pa.string()))
    return table.to_pandas(types_mapper={pa.int64(): pd.Int64Dtype()}.get)


def empty_dead_letter_frame() -> pd.DataFrame:
    """A dead-letter frame without rows."""
    return dead_letter_frame([], [], [], [], [])


def dead_letters_from_records(records: Sequence[dict]) -> pd.DataFrame:
    """Dead-letter dicts (keys `DEAD_LETTER_COLUMNS`, e.g. a Beam output) -> a frame."""
    return dead_letter_frame(
        *([record.get(name) for record in records] for name in DEAD_LETTER_COLUMNS)
    )


def write_dead_letters(frames: Sequence[pd.DataFrame], path: str | Path) -> pd.DataFrame:
    """Concatenate dead-letter frames and write them as one Parquet file; return the frame."""
    used = [frame[DEAD_LETTER_COLUMNS] for frame in frames if len(frame)]
    frame = pd.concat(used, ignore_index=True) if used else empty_dead_letter_frame()
    table = pa.Table.from_pandas(frame, schema=ALERTS_DEAD_LETTER_SCHEMA, preserve_index=False)
    pq.write_table(table, str(path))
    return frame
