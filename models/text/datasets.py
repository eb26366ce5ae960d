"""Readers for labelled text: generic CSV / JSONL / Parquet logs and the benchmark formats.

Every reader returns a `pandas.DataFrame` with a `text` column (raw strings) and, where the
source is labelled, a `label` column of strings. No TensorFlow is needed, so training input can
be prepared for any Keras backend.

Formats:
- generic logs: CSV, JSON Lines (optionally `.gz`), a Parquet file, or a pipeline run folder
  (`texts/*.parquet` of `seqlens pipeline news|chats`, see docs/CONTRACTS.md) or a folder of
  Parquet files; the label column is `label` (news), `intent` (chats) or `category` (Banking77),
  or named explicitly;
- Financial PhraseBank `sentence@label`, latin-1 (`read_phrasebank`);
- twitter-financial-news CSV `text,label` with 0 Bearish / 1 Bullish / 2 Neutral
  (`read_twitter_financial_news`, labels mapped to negative / positive / neutral);
- Banking77 CSV `text,category` (`read_banking77`);
- StockNet `tweets.jsonl.gz` (unlabelled text, `read_stocknet_texts`).
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pandas as pd

SENTIMENT_LABELS = ("negative", "neutral", "positive")
TWITTER_LABELS = {0: "negative", 1: "positive", 2: "neutral"}
LABEL_COLUMN_CANDIDATES = ("label", "intent", "category", "sentiment")


def _read_table(path: Path) -> pd.DataFrame:
    """Read one CSV / JSONL(.gz) / Parquet file or a folder of Parquet files."""
    if path.is_dir():
        folder = path / "texts" if (path / "texts").is_dir() else path
        files = sorted(folder.glob("*.parquet"))
        if not files:
            raise FileNotFoundError(
                "Expected Parquet files in the folder (or its texts/ subfolder). Received: "
                f"path={path}"
            )
        return pd.concat([pd.read_parquet(file) for file in files], ignore_index=True)
    if not path.exists():
        raise FileNotFoundError(f"Expected an existing input file. Received: path={path}")
    name = path.name.lower()
    if name.endswith(".parquet"):
        return pd.read_parquet(path)
    if name.endswith((".jsonl", ".jsonl.gz", ".json", ".json.gz", ".ndjson")):
        return pd.read_json(
            path, lines=True, dtype=False, compression="gzip" if name.endswith(".gz") else None
        )
    if name.endswith((".csv", ".csv.gz", ".tsv")):
        return pd.read_csv(
            path, dtype=str, keep_default_na=False, sep="\t" if name.endswith(".tsv") else ","
        )
    raise ValueError(
        "Expected a .csv, .tsv, .jsonl(.gz), .json(.gz), .parquet file or a Parquet folder. "
        f"Received: path={path}"
    )


def read_text_table(
    path: str | Path,
    text_column: str = "text",
    label_column: str | None = None,
    require_labels: bool = False,
) -> pd.DataFrame:
    """Read a log with raw texts (and labels when present), keeping every other column.

    Args:
        path: CSV, JSONL(.gz), Parquet file, or a pipeline run / Parquet folder.
        text_column: column holding the raw text.
        label_column: column holding the label; `None` picks the first of `label`, `intent`,
            `category`, `sentiment` that exists.
        require_labels: raise if no label column is found; rows with empty labels are dropped.

    Returns:
        The table with `text` (str, missing -> "") and, if labelled, `label` (str) columns.
    """
    table = _read_table(Path(path))
    if text_column not in table.columns:
        raise ValueError(
            f"Expected a text column {text_column!r} in {path}; columns are {list(table.columns)}. "
            f"Received: text_column={text_column!r}"
        )
    table = table.rename(columns={text_column: "text"}) if text_column != "text" else table.copy()
    table["text"] = table["text"].map(lambda value: value if isinstance(value, str) else "")
    if label_column is None:
        label_column = next((c for c in LABEL_COLUMN_CANDIDATES if c in table.columns), None)
    elif label_column not in table.columns:
        raise ValueError(
            f"Expected a label column {label_column!r} in {path}; columns are "
            f"{list(table.columns)}. Received: label_column={label_column!r}"
        )
    if label_column is None:
        if require_labels:
            raise ValueError(
                f"Expected a label column (one of {LABEL_COLUMN_CANDIDATES}) in {path}. "
                f"Received: label_column={label_column!r}"
            )
        return table
    labels = table[label_column]
    if label_column != "label":
        table = table.drop(columns=[c for c in ("label",) if c in table.columns])
    table["label"] = labels.map(lambda value: "" if value is None or pd.isna(value) else str(value))
    if require_labels:
        table = table[table["label"] != ""].reset_index(drop=True)
    return table


def read_phrasebank(path: str | Path) -> pd.DataFrame:
    """Financial PhraseBank `sentence@label` (latin-1): columns `text`, `label`."""
    rows = []
    with open(path, encoding="latin-1") as handle:
        for line in handle:
            line = line.rstrip("\r\n")
            if not line:
                continue
            text, separator, label = line.rpartition("@")
            if not separator or label not in SENTIMENT_LABELS:
                raise ValueError(
                    f"Expected `sentence@label` lines in {path}. Received: line={line!r}"
                )
            rows.append((text.strip(), label))
    return pd.DataFrame(rows, columns=["text", "label"])


def read_twitter_financial_news(path: str | Path) -> pd.DataFrame:
    """twitter-financial-news CSV: labels 0/1/2 mapped to negative/positive/neutral."""
    table = pd.read_csv(path)
    return pd.DataFrame(
        {
            "text": table["text"].astype(str),
            "label": table["label"].astype(int).map(TWITTER_LABELS),
        }
    )


def read_banking77(path: str | Path) -> pd.DataFrame:
    """Banking77 CSV `text,category`: columns `text`, `label`."""
    table = pd.read_csv(path, dtype=str, keep_default_na=False)
    return pd.DataFrame({"text": table["text"], "label": table["category"]})


def read_stocknet_texts(path: str | Path, limit: int | None = None, seed: int = 42) -> list[str]:
    """Distinct tweet texts of StockNet `tweets.jsonl.gz` (retweets dropped), optionally sampled."""
    texts: set[str] = set()
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        for line in handle:
            record = json.loads(line)
            if record.get("retweet") or not record.get("text"):
                continue
            texts.add(record["text"])
    ordered = sorted(texts)
    if limit is not None and limit < len(ordered):
        import numpy as np

        chosen = np.random.default_rng(seed).choice(len(ordered), size=limit, replace=False)
        ordered = [ordered[i] for i in sorted(chosen)]
    return ordered
