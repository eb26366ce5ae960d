"""The benchmark's helpers: a fast generated event log and the first pandas implementation.

`generate_event_csv` writes a large event log quickly (numpy + Arrow, no Python loop per
row) with the same columns as `seqlens generate`, Zipf item popularity, sessions, and a small
share of malformed rows and exact duplicates; `generate_event_csv_in_blocks` writes a log of
any size block by block (bounded memory; each block has its own users, shuffled within it).

`run_pandas_events` (the `pandas-agg-list` run of `bench/pipeline.py`) is pandas with
`groupby().agg(list)`: it builds a Python list -- a Python object per event -- for every user,
which makes it about 40x slower than the same job in vectorised pandas
(`pipeline_engines.run_pandas_vectorised_events`). It is kept as the slow reference it is, not
as what a pandas user who cares about speed would write; the honest single-machine baselines
are DuckDB, Polars and vectorised pandas (`bench/pipeline_engines.py`).
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv

START_TIMESTAMP = 1_704_067_200
MIN_TIMESTAMP = 631_152_000


def generate_event_csv(
    path: Path,
    num_events: int,
    seed: int = 7,
    corrupt_fraction: float = 0.001,
    duplicate_fraction: float = 0.005,
    mean_length: int = 30,
    user_offset: int = 0,
    header: bool = True,
) -> dict:
    """Write `user_id,item_id,timestamp,event_type,value` rows; returns what was planted.

    `user_offset` is added to every user number (blocks of one log with distinct users);
    `header=False` writes the rows only (a block appended to a log).
    """
    rng = np.random.default_rng(seed)
    num_users = max(1, num_events // mean_length)
    num_items = max(20, num_events // 100)
    users = np.sort(rng.integers(0, num_users, size=num_events))
    weights = 1.0 / np.arange(1, num_items + 1) ** 1.05
    items = rng.choice(num_items, size=num_events, p=weights / weights.sum())
    user_start = START_TIMESTAMP + rng.integers(0, 30 * 86_400, size=num_users)
    gaps = np.where(
        rng.random(num_events) < 0.15,
        rng.integers(3_600, 3 * 86_400, num_events),
        rng.integers(5, 600, num_events),
    )
    first_of_user = np.concatenate([[True], users[1:] != users[:-1]])
    group_id = np.cumsum(first_of_user) - 1
    cumulative = np.cumsum(gaps)
    timestamps = (
        user_start[users] + cumulative - cumulative[np.flatnonzero(first_of_user)][group_id]
    )
    order = rng.permutation(num_events)  # logs arrive shuffled, not grouped by user
    user_ids = np.char.add("u", (users[order] + user_offset).astype(str))
    item_ids = np.char.add("i", items[order].astype(str))
    timestamp_text = timestamps[order].astype(str)
    event_types = np.array(["view", "click", "purchase"])[
        rng.choice(3, size=num_events, p=[0.7, 0.25, 0.05])
    ]
    values = np.round(rng.random(num_events), 3).astype(str)
    duplicate_count = int(num_events * duplicate_fraction)
    duplicate_rows = rng.choice(num_events, size=duplicate_count, replace=False)
    target_rows = rng.choice(num_events, size=duplicate_count, replace=False)
    for column in (user_ids, item_ids, timestamp_text, event_types, values):
        column[target_rows] = column[duplicate_rows]
    corrupt = rng.choice(num_events, size=int(num_events * corrupt_fraction), replace=False)
    kinds = rng.integers(0, 4, size=len(corrupt))
    user_ids = user_ids.astype(object)
    timestamp_text = timestamp_text.astype(object)
    event_types = event_types.astype(object)
    user_ids[corrupt[kinds == 0]] = ""
    timestamp_text[corrupt[kinds == 1]] = "not-a-time"
    timestamp_text[corrupt[kinds == 2]] = "99999999999"
    event_types[corrupt[kinds == 3]] = "view;extra-column"  # ";" -> "," below
    table = pa.table(
        {
            "user_id": user_ids,
            "item_id": item_ids,
            "timestamp": timestamp_text,
            "event_type": event_types,
            "value": values,
        }
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    sink = pa.BufferOutputStream()
    pacsv.write_csv(
        table,
        sink,
        write_options=pacsv.WriteOptions(quoting_style="none", include_header=header),
    )
    with open(path, "ab" if not header else "wb") as handle:
        handle.write(sink.getvalue().to_pybytes().replace(b";", b","))
    return {
        "events": num_events,
        "users_planted": num_users,
        "items_planted": num_items,
        "corrupt_rows": len(corrupt),
        "duplicate_rows_planted": duplicate_count,
    }


def generate_event_csv_in_blocks(
    path: Path, num_events: int, block_events: int = 5_000_000, seed: int = 7, **options
) -> dict:
    """`generate_event_csv` in blocks of `block_events` (distinct users per block, the same item
    catalogue size per block); memory stays that of one block. A log of at most one block is
    exactly `generate_event_csv(path, num_events, seed, **options)`."""
    if num_events <= block_events:
        return generate_event_csv(path, num_events, seed=seed, **options)
    totals: dict = {"events": 0, "users_planted": 0, "corrupt_rows": 0, "duplicate_rows_planted": 0}
    for index, start in enumerate(range(0, num_events, block_events)):
        count = min(block_events, num_events - start)
        planted = generate_event_csv(
            path,
            count,
            seed=seed + index,
            user_offset=totals["users_planted"],
            header=index == 0,
            **options,
        )
        for key in totals:
            totals[key] += planted[key]
        totals["items_planted"] = max(totals.get("items_planted", 0), planted["items_planted"])
    totals["blocks"] = index + 1
    return totals


def run_pandas_events(
    input_path: str,
    output_dir: str,
    sep: str = ",",
    names: dict | None = None,
    header: str | None = "infer",
    position_as_time: bool = False,
) -> dict:
    """pandas with `groupby().agg(list)` (a Python list per user; see the module docstring)."""
    output = Path(output_dir)
    (output / "sequences").mkdir(parents=True, exist_ok=True)
    (output / "dead_letter").mkdir(parents=True, exist_ok=True)
    (output / "vocab").mkdir(parents=True, exist_ok=True)
    # The C parser skips lines with too many fields (counted below as wrong_column_count).
    frame = pd.read_csv(
        input_path,
        sep=sep,
        dtype=str,
        keep_default_na=False,
        header=0 if header == "infer" else None,
        names=None if header == "infer" else list(names),
        on_bad_lines="skip",
        engine="c",
    )
    if names and header == "infer":
        frame = frame.rename(columns=names)
    rows_in = _count_data_lines(input_path, header == "infer")
    rows_parsed = len(frame)
    for column in ("event_type", "value"):
        if column not in frame:
            frame[column] = None
    frame["line_number"] = np.arange(len(frame)) + (2 if header == "infer" else 1)
    dead = []
    empty = (frame["user_id"].str.strip() == "") | (frame["item_id"].str.strip() == "")
    if position_as_time:
        frame["ts"] = frame["line_number"].astype("int64")
        unparsable = absurd = pd.Series(False, index=frame.index)
    else:
        numeric = pd.to_numeric(frame["timestamp"], errors="coerce")
        unparsable = numeric.isna() & ~empty
        absurd = (
            ~unparsable & ~empty & ((numeric < MIN_TIMESTAMP) | (numeric > time.time() + 86_400))
        )
        frame["ts"] = numeric.fillna(0).astype("int64")
    for reason, mask in (
        ("empty_id", empty),
        ("unparsable_timestamp", unparsable),
        ("absurd_timestamp", absurd),
    ):
        dead.append(frame.loc[mask, ["line_number"]].assign(reason=reason))
    frame = frame[~(empty | unparsable | absurd)]
    duplicated = frame.duplicated(subset=["user_id", "item_id", "ts", "event_type", "value"])
    dead.append(frame.loc[duplicated, ["line_number"]].assign(reason="duplicate"))
    frame = frame[~duplicated].sort_values(["user_id", "ts", "item_id", "line_number"])
    sequences = (
        frame.groupby("user_id", sort=True)
        .agg(item_ids=("item_id", list), timestamps=("ts", list), event_types=("event_type", list))
        .reset_index()
    )
    lengths = sequences["item_ids"].str.len()
    sequences["valid_position"] = np.where(lengths >= 3, lengths - 2, -1).astype("int32")
    sequences["test_position"] = np.where(lengths >= 3, lengths - 1, -1).astype("int32")
    sequences.to_parquet(output / "sequences" / "part-0.parquet", index=False)
    dead_letters = pd.concat(dead, ignore_index=True)
    dead_letters["source"] = str(input_path)
    dead_letters.to_parquet(output / "dead_letter" / "part-0.parquet", index=False)
    vocabulary = frame["item_id"].value_counts().rename_axis("item_id").reset_index(name="count")
    vocabulary = vocabulary.sort_values(["count", "item_id"], ascending=[False, True])
    vocabulary.to_parquet(output / "vocab" / "items.parquet", index=False)
    by_reason = dead_letters["reason"].value_counts().to_dict()
    if rows_in > rows_parsed:
        by_reason["wrong_column_count"] = rows_in - rows_parsed
    stats = {
        "rows_in": rows_in,
        "rows_out": int(lengths.sum()),
        "rows_dead": int(sum(by_reason.values())),
        "dead_by_reason": by_reason,
        "users": int(len(sequences)),
        "items": int(len(vocabulary)),
    }
    (output / "stats.json").write_text(json.dumps(stats, indent=2))
    return stats


def _count_data_lines(path: str, has_header: bool) -> int:
    with open(path, "rb") as handle:
        lines = sum(chunk.count(b"\n") for chunk in iter(lambda: handle.read(1 << 24), b""))
    return lines - (1 if has_header else 0)
