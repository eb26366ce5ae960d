"""Read a news / tweet log into one table with the columns the alerts path needs.

Accepted inputs:
- a CSV news log (`id, timestamp, ticker, text[, source, author, label]`, `seqlens generate`),
- a JSON Lines file, optionally gzip-compressed (StockNet's `tweets.jsonl.gz`: `id, created_at,
  ticker, text, user_id, retweet, followers`),
- the news pipeline's output: a `texts/` folder of Parquet files, a run folder containing
  `texts/`, or a single Parquet file (e.g. an already scored table).

The result has `id: str, timestamp: int64 (Unix s), ticker: str, text: str, author: str,
followers: float (NaN if unknown), retweet: bool` plus the log's other columns. A `label`
column of the log (a given label, not the model's) is renamed `given_label`.
Timestamps are parsed by the pipeline (`pipeline.timestamps`), plausible from 1990 to 2100.
Rows without a usable id, timestamp, ticker or text are returned separately as dead letters
(`seqlens.alerts.dead_letters`: the pipeline's schema and reasons, plus `id`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from pipeline import dead_letter
from pipeline.timestamps import (
    STATUS_ABSURD,
    STATUS_MISSING,
    STATUS_OK,
    STATUS_UNPARSABLE,
    TimestampRange,
)
from pipeline.timestamps import parse_timestamps as parse_timestamp_column
from seqlens.alerts.dead_letters import dead_letter_frame

RENAMES = {"created_at": "timestamp", "user_id": "author", "symbol": "ticker"}
LATEST_NEWS_TIMESTAMP = 4_102_444_800  # 2100-01-01T00:00:00Z
# A fixed range (not "now + 1 day"), so that re-reading a log always keeps the same rows.
NEWS_TIMESTAMPS = TimestampRange(max_timestamp=LATEST_NEWS_TIMESTAMP)
TIMESTAMP_REASONS = {
    STATUS_MISSING: dead_letter.MISSING_FIELD,
    STATUS_UNPARSABLE: dead_letter.UNPARSABLE_TIMESTAMP,
    STATUS_ABSURD: dead_letter.ABSURD_TIMESTAMP,
}


def _read_file(path: Path) -> tuple[pd.DataFrame, int]:
    """One file -> `(table, line number of its first row)`."""
    name = path.name.lower()
    if name.endswith(".parquet"):
        return pd.read_parquet(path), 1
    if name.endswith((".jsonl", ".jsonl.gz", ".json", ".json.gz", ".ndjson")):
        return pd.read_json(path, lines=True, dtype=False, convert_dates=False), 1
    if name.endswith((".csv", ".csv.gz")):
        table = pd.read_csv(path, dtype=str, keep_default_na=False, on_bad_lines="skip")
        return table, 2  # after the header line
    raise ValueError(
        "Expected a .csv, .jsonl(.gz), .parquet file or a Parquet folder. "
        f"Received: news={str(path)!r}"
    )


def _read_raw(path: Path) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """`(table, sources, line_numbers)`: the rows and, per row, its file and line (or row)."""
    if path.is_dir():
        folder = path / "texts" if (path / "texts").is_dir() else path
        files = sorted(folder.glob("*.parquet"))
        if not files:
            raise FileNotFoundError(f"Expected Parquet files in {folder}. Received: news={path}")
    else:
        files = [path]
    tables, sources, line_numbers = [], [], []
    for file in files:
        table, first_line = _read_file(file)
        tables.append(table)
        sources.append(np.full(len(table), str(file), dtype=object))
        line_numbers.append(np.arange(first_line, first_line + len(table), dtype=np.int64))
    table = tables[0] if len(tables) == 1 else pd.concat(tables, ignore_index=True)
    return table, np.concatenate(sources), np.concatenate(line_numbers)


def _timestamp_strings(values: pd.Series) -> pa.Array:
    """A column of numbers, strings or both -> strings for the pipeline's parser (null if NA)."""

    def as_text(value) -> str | None:
        if value is None or (isinstance(value, float) and np.isnan(value)):
            return None
        if isinstance(value, float) and value.is_integer():
            return str(int(value))
        return str(value)

    return pa.array([as_text(value) for value in values.tolist()], pa.string())


def parse_timestamp_status(values: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """`(seconds, status)` of a news timestamp column (`pipeline.timestamps` status codes).

    Args:
        values: `(N,)` Unix seconds (numbers or digit strings) or ISO 8601 strings.

    Returns:
        `(N,)` int64 Unix seconds (0 where not parsed) and `(N,)` int8 status codes; a value
        outside 1990-01-01 .. 2100-01-01 is `STATUS_ABSURD`.
    """
    if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
        column = pa.array(values.to_numpy(dtype="float64"), pa.float64())
    else:
        column = _timestamp_strings(values)
    return parse_timestamp_column(column, NEWS_TIMESTAMPS)


def parse_timestamps(values: pd.Series) -> pd.Series:
    """Unix seconds (numbers or digit strings) or ISO 8601 strings -> seconds, NaN if bad."""
    seconds, status = parse_timestamp_status(values)
    return pd.Series(
        np.where(status == STATUS_OK, seconds.astype("float64"), np.nan), index=values.index
    )


def _to_bool(values: pd.Series) -> pd.Series:
    text = values.astype(str).str.strip().str.lower()
    return text.isin(["true", "1", "yes", "t"])


def read_news(path: str | Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Read a news log; return `(rows, dead_rows)`.

    Returns:
        `rows`: the usable rows (columns in the module docstring), sorted by timestamp then id.
        `dead_rows`: one dead letter (`reason, source, line_number, raw, id`) for every
        unusable row (in = rows + dead_rows).
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"Expected an existing news log. Received: news={str(path)!r}")
    table, sources, line_numbers = _read_raw(path)
    table = table.rename(
        columns={k: v for k, v in RENAMES.items() if k in table.columns and v not in table.columns}
    )
    if "label" in table.columns and "given_label" not in table.columns:
        table = table.rename(columns={"label": "given_label"})
    for name in ("id", "timestamp", "ticker", "text"):
        if name not in table.columns:
            raise ValueError(
                f"Expected a column {name!r} in the news log. "
                f"Received: columns={sorted(map(str, table.columns))}"
            )
    seconds, status = parse_timestamp_status(table["timestamp"])
    reasons = pd.Series("", index=table.index, dtype=object)
    ids = table["id"].astype(str).str.strip()
    texts = table["text"].fillna("").astype(str)
    tickers = table["ticker"].fillna("").astype(str).str.strip().str.upper().str.lstrip("$")
    # later checks win: the pipeline's order (an empty id first, then the timestamp)
    reasons[(texts.str.strip() == "").to_numpy()] = dead_letter.EMPTY_TEXT
    reasons[(tickers == "").to_numpy()] = dead_letter.MISSING_FIELD
    for code, reason in TIMESTAMP_REASONS.items():
        reasons[status == code] = reason
    reasons[((ids == "") | table["id"].isna()).to_numpy()] = dead_letter.EMPTY_ID
    dead_mask = (reasons != "").to_numpy()
    dead = dead_letter_frame(
        reasons[dead_mask].tolist(),
        sources[dead_mask].tolist(),
        line_numbers[dead_mask].tolist(),
        [",".join(map(str, values)) for values in table[dead_mask].itertuples(index=False)],
        ids[dead_mask].tolist(),
    )
    rows = table[~dead_mask].copy()
    rows["id"] = ids[~dead_mask]
    rows["timestamp"] = seconds[~dead_mask]
    rows["ticker"] = tickers[~dead_mask]
    rows["text"] = texts[~dead_mask]
    rows["author"] = rows["author"].fillna("").astype(str) if "author" in rows.columns else ""
    rows["followers"] = (
        pd.to_numeric(rows["followers"], errors="coerce").astype("float64")
        if "followers" in rows.columns
        else np.nan
    )
    if "retweet" in rows.columns:
        rows["retweet"] = _to_bool(rows["retweet"])
    else:
        rows["retweet"] = rows["text"].str.startswith("RT @")
    rows = rows.sort_values(["timestamp", "id"], kind="stable").reset_index(drop=True)
    return rows, dead.reset_index(drop=True)
