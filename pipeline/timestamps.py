"""Vectorised timestamp parsing: Unix seconds or ISO 8601 strings -> int64 Unix seconds.

One column of strings is parsed at once (pyarrow compute for numbers, pandas' C ISO 8601
parser for dates), so the pipelines never parse timestamps row by row in Python. Each value
gets a status: parsed, missing (empty or null), unparsable, or absurd (outside the plausible
range, by default before 1990-01-01 or more than one day in the future).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

DEFAULT_MIN_TIMESTAMP = 631_152_000  # 1990-01-01T00:00:00Z
ONE_DAY_SECONDS = 86_400

STATUS_OK = 0
STATUS_MISSING = 1
STATUS_UNPARSABLE = 2
STATUS_ABSURD = 3

_NUMBER_PATTERN = r"^[+-]?[0-9]+(\.[0-9]*)?$"
_INTEGER_PATTERN = r"^[0-9]{1,12}$"


def default_max_timestamp(now: float | None = None) -> int:
    """One day after `now` (default: the current time), in Unix seconds."""
    return int(time.time() if now is None else now) + ONE_DAY_SECONDS


@dataclass(frozen=True)
class TimestampRange:
    """Plausible timestamps, inclusive bounds in Unix seconds; values outside are absurd.

    Args:
        min_timestamp: earliest plausible timestamp (default 1990-01-01).
        max_timestamp: latest plausible timestamp (default: one day after the pipeline started).
    """

    min_timestamp: int = DEFAULT_MIN_TIMESTAMP
    max_timestamp: int | None = None

    def __post_init__(self) -> None:
        if self.max_timestamp is None:
            object.__setattr__(self, "max_timestamp", default_max_timestamp())
        if self.max_timestamp < self.min_timestamp:
            raise ValueError(
                "Expected max_timestamp >= min_timestamp. "
                f"Received: min_timestamp={self.min_timestamp}, max_timestamp={self.max_timestamp}"
            )


def parse_timestamps(
    values: pa.Array | pa.ChunkedArray, plausible: TimestampRange
) -> tuple[np.ndarray, np.ndarray]:
    """Parse a column of timestamps given as strings (or numbers).

    Args:
        values: `(N,)` strings: Unix seconds (integer or decimal) or ISO 8601 dates/times
            (a missing zone means UTC); numbers are accepted as Unix seconds; nulls are missing.
        plausible: the range outside which a timestamp is absurd.

    Returns:
        `(seconds, status)`: `(N,)` int64 Unix seconds (0 where not parsed) and `(N,)` int8
        status codes (`STATUS_OK`, `STATUS_MISSING`, `STATUS_UNPARSABLE`, `STATUS_ABSURD`).
    """
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    length = len(values)
    seconds = np.zeros(length, dtype=np.int64)
    status = np.full(length, STATUS_OK, dtype=np.int8)
    if length == 0:
        return seconds, status
    if pa.types.is_integer(values.type) or pa.types.is_floating(values.type):
        numeric = values.cast(pa.float64()).to_numpy(zero_copy_only=False)
        missing = np.isnan(numeric)
        status[missing] = STATUS_MISSING
        seconds_float = np.where(missing, 0.0, numeric)
        _store_numeric(seconds_float, ~missing, seconds, status)
        return _mark_absurd(seconds, status, plausible)
    values = values.cast(pa.string())
    stripped = pc.utf8_trim_whitespace(values)
    missing = pc.fill_null(pc.equal(pc.utf8_length(stripped), 0), True).to_numpy(
        zero_copy_only=False
    )
    status[missing] = STATUS_MISSING
    integer = pc.fill_null(pc.match_substring_regex(stripped, _INTEGER_PATTERN), False)
    integer_mask = integer.to_numpy(zero_copy_only=False)
    if integer_mask.all():
        seconds[:] = stripped.cast(pa.int64()).to_numpy(zero_copy_only=False)
        return _mark_absurd(seconds, status, plausible)
    if integer_mask.any():
        seconds[integer_mask] = (
            pc.filter(stripped, integer).cast(pa.int64()).to_numpy(zero_copy_only=False)
        )
    number = pc.fill_null(pc.match_substring_regex(stripped, _NUMBER_PATTERN), False)
    number_mask = number.to_numpy(zero_copy_only=False) & ~integer_mask
    if number_mask.any():
        decimals = pc.filter(stripped, pa.array(number_mask)).cast(pa.float64()).to_numpy()
        _store_numeric(decimals, np.ones(len(decimals), dtype=bool), seconds, status, number_mask)
    other_mask = ~(integer_mask | number_mask | missing)
    if other_mask.any():
        texts = pc.filter(stripped, pa.array(other_mask)).to_pandas()
        parsed = pd.to_datetime(texts, format="ISO8601", utc=True, errors="coerce")
        valid = parsed.notna().to_numpy()
        parsed_seconds = np.zeros(len(parsed), dtype=np.int64)
        if valid.any():
            parsed_seconds[valid] = parsed[valid].dt.as_unit("s").astype("int64").to_numpy()
        positions = np.flatnonzero(other_mask)
        seconds[positions] = parsed_seconds
        status[positions[~valid]] = STATUS_UNPARSABLE
    return _mark_absurd(seconds, status, plausible)


def _store_numeric(
    numeric: np.ndarray,
    valid: np.ndarray,
    seconds: np.ndarray,
    status: np.ndarray,
    positions_mask: np.ndarray | None = None,
) -> None:
    """Floor decimal seconds into `seconds`; values beyond int64 range are marked absurd."""
    too_large = valid & ~(np.abs(numeric) < 2**62)
    floored = np.floor(np.where(too_large, 0.0, numeric)).astype(np.int64)
    if positions_mask is None:
        seconds[valid] = floored[valid]
        status[too_large] = STATUS_ABSURD
    else:
        positions = np.flatnonzero(positions_mask)
        seconds[positions] = floored
        status[positions[too_large]] = STATUS_ABSURD


def _mark_absurd(
    seconds: np.ndarray, status: np.ndarray, plausible: TimestampRange
) -> tuple[np.ndarray, np.ndarray]:
    outside = (seconds < plausible.min_timestamp) | (seconds > plausible.max_timestamp)
    status[(status == STATUS_OK) & outside] = STATUS_ABSURD
    return seconds, status
