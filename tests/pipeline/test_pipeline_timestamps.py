import numpy as np
import pyarrow as pa
import pytest

from pipeline.timestamps import (
    STATUS_ABSURD,
    STATUS_MISSING,
    STATUS_OK,
    STATUS_UNPARSABLE,
    TimestampRange,
    parse_timestamps,
)

PLAUSIBLE = TimestampRange(631_152_000, 2_000_000_000)


def test_parses_unix_seconds_decimals_and_iso_8601():
    values = pa.array(
        [
            "1700000000",
            " 1700000000.9 ",
            "2023-11-14T22:13:20Z",
            "2023-11-14T23:13:20+01:00",
            "2023-11-14",
            "",
            None,
            "soon",
            "99999999999",
            "1980-01-01T00:00:00",
            "-5",
        ]
    )
    seconds, status = parse_timestamps(values, PLAUSIBLE)
    assert seconds[:5].tolist() == [1700000000, 1700000000, 1700000000, 1700000000, 1699920000]
    assert status.tolist() == [STATUS_OK] * 5 + [
        STATUS_MISSING,
        STATUS_MISSING,
        STATUS_UNPARSABLE,
        STATUS_ABSURD,
        STATUS_ABSURD,
        STATUS_ABSURD,
    ]


def test_numeric_columns_are_unix_seconds():
    seconds, status = parse_timestamps(pa.array([1.7e9, None, 1e30]), PLAUSIBLE)
    assert seconds[0] == 1_700_000_000
    assert status.tolist() == [STATUS_OK, STATUS_MISSING, STATUS_ABSURD]


def test_empty_column():
    seconds, status = parse_timestamps(pa.array([], pa.string()), PLAUSIBLE)
    assert seconds.dtype == np.int64 and len(status) == 0


def test_default_range_ends_one_day_after_now():
    import time

    plausible = TimestampRange()
    assert abs(plausible.max_timestamp - (time.time() + 86_400)) < 60


def test_range_must_be_ordered():
    with pytest.raises(ValueError, match="Received: min_timestamp=10, max_timestamp=5"):
        TimestampRange(10, 5)
