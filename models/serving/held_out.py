"""Held-out requests for the gate, and what a trained model folder says about its data.

The gate compares the reloaded SavedModel with the Keras model on requests the model did not
train on: `held_out_histories` reads the test histories of an events data run, `held_out_texts`
the texts of a news/chats data run (or of a plain file). When the user passes no data,
`recorded_data_run` / `recorded_text_data` find the run named in the model folder's
`data_run.json` (see docs/CONTRACTS.md).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

TEXT_FILE_SUFFIXES = (".csv", ".jsonl", ".json", ".parquet")


def held_out_histories(
    data_dir: str | Path, num_users: int = 256, seed: int = 0
) -> list[list[str]]:
    """Test histories (`item_ids[:test_position]`) of up to `num_users` users of an events run.

    Users are drawn with `seed` among those with a test target and a non-empty history.

    Returns:
        The histories, each a list of item-id strings, oldest first, in data-run order.
    """
    import pyarrow.parquet as pq

    sequences = Path(data_dir) / "sequences"
    if not sequences.is_dir():
        raise FileNotFoundError(
            f"Expected an events data run with sequences/. Received: data={str(data_dir)!r}"
        )
    table = pq.read_table(sequences, columns=["item_ids", "test_position"]).to_pydict()
    histories = [
        list(items[:position])
        for items, position in zip(table["item_ids"], table["test_position"], strict=True)
        if position and position > 0
    ]
    if not histories:
        raise ValueError(
            f"Expected users with a test target in the data run. Received: data={str(data_dir)!r}"
        )
    chosen = np.random.default_rng(seed).permutation(len(histories))[:num_users]
    return [histories[index] for index in sorted(chosen)]


def held_out_texts(data: str | Path, num_texts: int = 256, seed: int = 0) -> list[str]:
    """Up to `num_texts` texts, drawn with `seed`, of a news/chats run or a text file.

    Args:
        data: a data run with `texts/`, or a CSV / JSON Lines / JSON / Parquet file with a
            `text` column.
        num_texts: how many texts at most.
        seed: seed of the draw.

    Returns:
        The texts (missing ones dropped), in file order.
    """
    import pandas as pd

    path = Path(data)
    if (path / "texts").is_dir():
        frame = pd.read_parquet(path / "texts", columns=["text"])
    elif path.is_file() and path.suffix in TEXT_FILE_SUFFIXES:
        frame = (
            pd.read_csv(path)
            if path.suffix == ".csv"
            else pd.read_parquet(path)
            if path.suffix == ".parquet"
            else pd.read_json(path, lines=path.suffix == ".jsonl")
        )
    else:
        raise FileNotFoundError(
            "Expected a news/chats data run with texts/ or a CSV/JSONL/Parquet "
            f"file with a text column. Received: data={str(data)!r}"
        )
    if "text" not in frame.columns:
        raise ValueError(f"Expected a 'text' column. Received: columns={list(frame.columns)}")
    texts = [str(text) for text in frame["text"].dropna()]
    if not texts:
        raise ValueError(f"Expected at least one text. Received: data={str(data)!r}")
    chosen = np.random.default_rng(seed).permutation(len(texts))[:num_texts]
    return [texts[index] for index in sorted(chosen)]


def recorded_data_run(model_dir: str | Path) -> Path | None:
    """The events run named in a recommender folder's `data_run.json`, if it has `sequences/`."""
    recorded = read_json(Path(model_dir) / "data_run.json").get("data_run")
    return Path(recorded) if recorded and (Path(recorded) / "sequences").is_dir() else None


def recorded_text_data(model_dir: str | Path) -> str | None:
    """The input named in a text model folder's `data_run.json`, if it exists."""
    recorded = read_json(Path(model_dir) / "data_run.json").get("input")
    return recorded if recorded and Path(recorded).exists() else None


def read_json(path: Path) -> dict[str, Any]:
    """A model folder's JSON file (`metrics.json`, `config.json`, ...); `{}` when absent."""
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
