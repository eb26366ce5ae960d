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
Rows without a usable id, timestamp, ticker or text are returned separately with a reason.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

RENAMES = {"created_at": "timestamp", "user_id": "author", "symbol": "ticker"}


def _read_raw(path: Path) -> pd.DataFrame:
    if path.is_dir():
        folder = path / "texts" if (path / "texts").is_dir() else path
        files = sorted(folder.glob("*.parquet"))
        if not files:
            raise FileNotFoundError(f"Expected Parquet files in {folder}. Received: news={path}")
        return pd.concat([pd.read_parquet(file) for file in files], ignore_index=True)
    name = path.name.lower()
    if name.endswith(".parquet"):
        return pd.read_parquet(path)
    if name.endswith((".jsonl", ".jsonl.gz", ".json", ".json.gz", ".ndjson")):
        return pd.read_json(path, lines=True, dtype=False, convert_dates=False)
    if name.endswith((".csv", ".csv.gz")):
        return pd.read_csv(path, dtype=str, keep_default_na=False, on_bad_lines="skip")
    raise ValueError(
        "Expected a .csv, .jsonl(.gz), .parquet file or a Parquet folder. "
        f"Received: news={str(path)!r}"
    )


def parse_timestamps(values: pd.Series) -> pd.Series:
    """Unix seconds (numbers or digit strings) or ISO 8601 strings -> `int64` seconds, NaN if bad."""
    numeric = pd.to_numeric(values, errors="coerce")
    result = numeric.astype("float64")
    missing = result.isna() & values.notna()
    if missing.any():
        parsed = pd.to_datetime(
            values[missing].astype(str), utc=True, errors="coerce", format="ISO8601"
        )
        seconds = (parsed - pd.Timestamp(0, tz="UTC")) // pd.Timedelta(seconds=1)
        result[missing] = seconds.astype("float64")
    # plausible range: 1990 .. 2100
    result[(result < 631_152_000) | (result > 4_102_444_800)] = np.nan
    return result


def _to_bool(values: pd.Series) -> pd.Series:
    text = values.astype(str).str.strip().str.lower()
    return text.isin(["true", "1", "yes", "t"])


def read_news(path: str | Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Read a news log; return `(rows, dead_rows)`.

    Returns:
        `rows`: the usable rows (columns in the module docstring), sorted by timestamp then id.
        `dead_rows`: `reason, id, raw` for every unusable row (in = rows + dead_rows).
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"Expected an existing news log. Received: news={str(path)!r}")
    table = _read_raw(path)
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
    seconds = parse_timestamps(table["timestamp"])
    reasons = pd.Series("", index=table.index, dtype=object)
    ids = table["id"].astype(str).str.strip()
    texts = table["text"].fillna("").astype(str)
    tickers = table["ticker"].fillna("").astype(str).str.strip().str.upper().str.lstrip("$")
    reasons[(texts.str.strip() == "")] = "empty_text"
    reasons[(tickers == "")] = "missing_ticker"
    reasons[seconds.isna()] = "bad_timestamp"
    reasons[(ids == "") | table["id"].isna()] = "missing_id"
    dead_mask = reasons != ""
    dead = pd.DataFrame(
        {
            "reason": reasons[dead_mask].astype(str),
            "id": ids[dead_mask],
            "raw": table[dead_mask].astype(str).agg(",".join, axis=1) if dead_mask.any() else [],
        }
    )
    rows = table[~dead_mask].copy()
    rows["id"] = ids[~dead_mask]
    rows["timestamp"] = seconds[~dead_mask].astype("int64")
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
