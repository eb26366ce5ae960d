"""The events job on the single-machine engines a data engineer would pick instead of Beam.

Over 300 lines on purpose: the three implementations of one job sit side by side, so that a
reader can check they do the same thing.

Each function does what `seqlens pipeline events` does to a `user_id,item_id,timestamp,
event_type,value` CSV log, with its defaults (no filtering, no truncation, leave-one-out):

- validate with reasons, in the pipeline's order: `wrong_column_count` (a line without exactly
  5 fields), `missing_field` (an empty timestamp), `empty_id` (user or item empty after
  trimming), `unparsable_timestamp`,
  `absurd_timestamp` (outside 1990-01-01 .. now + 1 day); Unix-second timestamps only (the
  generated log has no ISO 8601 ones);
- deduplicate exact duplicates (user, timestamp, item, event type, value; the first line kept,
  the others dead-lettered as `duplicate`);
- order each user's events by (timestamp, item, event type, value, line) into one row per user
  (`user_id`, `item_ids`, `timestamps`, `event_types`, leave-one-out `valid_position` /
  `test_position`, -1 under 3 events), sorted by user;
- the item vocabulary with counts (count descending, then id), `items.parquet` + `items.txt`;
- dead letters (`reason`, `source`, `line_number`, `raw`) and `stats.json` (rows in / out /
  dead, dead by reason, users, items): `rows_in == rows_out + rows_dead`.

How each engine is used is the way its users write it:

- **DuckDB**: one SQL session on all threads; `read_csv(..., store_rejects=true)` keeps the
  malformed lines (with their line numbers) in `reject_errors`; `list(x ORDER BY ...)`
  aggregates; `COPY ... TO` Parquet. Good rows get their file line number from their position
  in the scan (insertion order is preserved) and the rejected lines before them.
- **Polars**: a lazy query; the log is read one line per row, fields counted
  (`str.count_matches`) and split (`str.split_exact`) -- Polars' `read_csv` either fails on a
  ragged line or, with `truncate_ragged_lines`, silently cuts it, so lines with the wrong field
  count could not be dead-lettered otherwise. Dead letters' `raw` is the trimmed fields joined
  by `,` (as DuckDB's and, for duplicates, the pipeline's).
- **pandas, vectorised**: read one line per row, `str.split(expand=True)`, boolean masks,
  `sort_values`, `duplicated`, and the per-user lists built from the sorted columns and the
  group offsets with Arrow (`pa.ListArray.from_arrays`) -- no Python object per event.

Every function returns the `stats.json` dict. Written for `bench/pipeline.py`; not a library.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

MIN_TIMESTAMP = 631_152_000  # 1990-01-01, the pipeline's default
FIELDS = ("user_id", "item_id", "timestamp", "event_type", "value")


def max_timestamp() -> int:
    """The pipeline's default latest plausible timestamp: one day after now."""
    return int(time.time()) + 86_400


def _prepare(output_dir: str) -> Path:
    output = Path(output_dir)
    for name in ("sequences", "dead_letter", "vocab"):
        (output / name).mkdir(parents=True, exist_ok=True)
    return output


def _finish(output: Path, rows_in: int, by_reason: dict, users: int, items: int) -> dict:
    by_reason = {reason: int(count) for reason, count in sorted(by_reason.items()) if count}
    rows_dead = sum(by_reason.values())
    stats = {
        "rows_in": int(rows_in),
        "rows_out": int(rows_in - rows_dead),
        "rows_dead": int(rows_dead),
        "dead_by_reason": by_reason,
        "users": int(users),
        "items": int(items),
    }
    (output / "stats.json").write_text(json.dumps(stats, indent=2) + "\n")
    return stats


def run_duckdb_events(input_path: str, output_dir: str, threads: int | None = None) -> dict:
    """DuckDB SQL (all threads unless `threads`); returns the stats."""
    import duckdb

    output = _prepare(output_dir)
    connection = duckdb.connect()
    if threads:
        connection.execute(f"SET threads = {int(threads)}")
    connection.execute("SET preserve_insertion_order = true")
    columns = "{" + ", ".join(f"'{name}': 'VARCHAR'" for name in FIELDS) + "}"
    connection.execute(
        f"""
        CREATE TEMP TABLE scanned AS
        SELECT row_number() OVER () AS k, *
        FROM read_csv(?, header = true, columns = {columns}, store_rejects = true,
                      strict_mode = true, quote = '"', escape = '"')
        """,
        [str(input_path)],
    )
    connection.execute(
        """
        CREATE TEMP TABLE rejected AS
        SELECT CAST(line AS BIGINT) AS line_number, any_value(csv_line) AS raw,
               CASE WHEN bool_or(error_type IN ('TOO MANY COLUMNS', 'MISSING COLUMNS'))
                    THEN 'wrong_column_count' ELSE 'malformed_record' END AS reason
        FROM reject_errors GROUP BY line
        """
    )
    connection.execute(
        """
        CREATE TEMP TABLE gaps AS  -- good rows before each rejected line: line - rank - 1
        SELECT line_number - row_number() OVER (ORDER BY line_number) - 1 AS good_before,
               row_number() OVER (ORDER BY line_number) AS rejected_so_far
        FROM rejected
        """
    )
    connection.execute(
        f"""
        CREATE TEMP TABLE typed AS
        SELECT CAST(s.k + 1 + coalesce(g.rejected_so_far, 0) AS BIGINT) AS line_number,
               trim(coalesce(s.user_id, '')) AS user_id,
               trim(coalesce(s.item_id, '')) AS item_id,
               TRY_CAST(trim(s.timestamp) AS BIGINT) AS ts,
               trim(coalesce(s.timestamp, '')) AS ts_text,
               trim(coalesce(s.event_type, '')) AS event_type,
               trim(coalesce(s.value, '')) AS value
        FROM scanned s ASOF LEFT JOIN gaps g ON s.k > g.good_before;
        CREATE TEMP TABLE checked AS
        SELECT *,
               CASE WHEN ts_text = '' THEN 'missing_field'
                    WHEN user_id = '' OR item_id = '' THEN 'empty_id'
                    WHEN ts IS NULL THEN 'unparsable_timestamp'
                    WHEN ts < {MIN_TIMESTAMP} OR ts > {max_timestamp()} THEN 'absurd_timestamp'
               END AS reason,
               row_number() OVER (PARTITION BY user_id, ts, item_id, event_type, value
                                  ORDER BY line_number) > 1 AS duplicate
        FROM typed;
        CREATE TEMP TABLE kept AS
        SELECT * FROM checked WHERE reason IS NULL AND NOT duplicate
        """
    )
    order = "ts, item_id, event_type, value, line_number"
    sequences = output / "sequences" / "part-00000.parquet"
    connection.execute(
        f"""
        COPY (
          SELECT user_id, item_ids, timestamps, event_types,
                 CAST(CASE WHEN n >= 3 THEN n - 2 ELSE -1 END AS INTEGER) AS valid_position,
                 CAST(CASE WHEN n >= 3 THEN n - 1 ELSE -1 END AS INTEGER) AS test_position
          FROM (SELECT user_id, list(item_id ORDER BY {order}) AS item_ids,
                       list(ts ORDER BY {order}) AS timestamps,
                       list(event_type ORDER BY {order}) AS event_types, count(*) AS n
                FROM kept GROUP BY user_id)
          ORDER BY user_id
        ) TO '{sequences}' (FORMAT parquet)
        """
    )
    vocabulary = connection.sql(
        "SELECT item_id, count(*) AS count FROM kept GROUP BY item_id ORDER BY count DESC, item_id"
    ).to_arrow_table()
    _write_vocabulary(output, vocabulary)
    source = str(input_path).replace("'", "''")
    connection.execute(
        f"""
        COPY (
          SELECT reason, '{source}' AS source, line_number, raw FROM rejected
          UNION ALL
          SELECT coalesce(reason, 'duplicate'), '{source}', line_number,
                 concat_ws(',', user_id, item_id, ts_text, event_type, value)
          FROM checked WHERE reason IS NOT NULL OR duplicate
          ORDER BY line_number
        ) TO '{output / "dead_letter" / "part-00000.parquet"}' (FORMAT parquet)
        """
    )
    by_reason = dict(
        connection.execute(
            "SELECT reason, count(*) FROM rejected GROUP BY reason UNION ALL "
            "SELECT coalesce(reason, 'duplicate'), count(*) FROM checked "
            "WHERE reason IS NOT NULL OR duplicate GROUP BY 1"
        ).fetchall()
    )
    rows_in = connection.execute(
        "SELECT (SELECT count(*) FROM scanned) + (SELECT count(*) FROM rejected)"
    ).fetchone()[0]
    users = connection.execute("SELECT count(DISTINCT user_id) FROM kept").fetchone()[0]
    connection.close()
    return _finish(output, rows_in, by_reason, users, vocabulary.num_rows)


def _write_vocabulary(output: Path, vocabulary: pa.Table) -> None:
    vocabulary = pa.table(
        {
            "item_id": vocabulary.column("item_id").cast(pa.string()),
            "count": vocabulary.column("count").cast(pa.int64()),
        }
    )
    pq.write_table(vocabulary, output / "vocab" / "items.parquet")
    lines = "".join(f"{item}\n" for item in vocabulary.column("item_id").to_pylist())
    (output / "vocab" / "items.txt").write_text(lines, encoding="utf-8")


def run_polars_events(input_path: str, output_dir: str) -> dict:
    """Polars lazy query (all threads); returns the stats."""
    import polars as pl

    output = _prepare(output_dir)
    lines = pl.scan_csv(
        input_path,
        has_header=False,
        separator="\x1f",
        quote_char=None,
        skip_rows=1,
        schema={"raw": pl.String},
    ).with_row_index("line_number", offset=2)
    field_count = pl.col("raw").str.count_matches(",", literal=True) + 1
    counted = lines.with_columns(field_count=field_count)
    wrong = counted.filter(pl.col("field_count") != len(FIELDS)).select(
        reason=pl.lit("wrong_column_count"), line_number="line_number", raw="raw"
    )
    typed = (
        counted.filter(pl.col("field_count") == len(FIELDS))
        .select(
            "line_number",
            fields=pl.col("raw")
            .str.split_exact(",", len(FIELDS) - 1)
            .struct.rename_fields(list(FIELDS)),
        )
        .unnest("fields")
        .with_columns(pl.col(name).str.strip_chars() for name in FIELDS)
    )
    ts = pl.col("timestamp").cast(pl.Int64, strict=False)
    raw = pl.concat_str([pl.col(name) for name in FIELDS], separator=",")
    checked = typed.with_columns(ts=ts).with_columns(
        reason=pl.when(pl.col("timestamp") == "")
        .then(pl.lit("missing_field"))
        .when((pl.col("user_id") == "") | (pl.col("item_id") == ""))
        .then(pl.lit("empty_id"))
        .when(pl.col("ts").is_null())
        .then(pl.lit("unparsable_timestamp"))
        .when((pl.col("ts") < MIN_TIMESTAMP) | (pl.col("ts") > max_timestamp()))
        .then(pl.lit("absurd_timestamp"))
    )
    order = ["user_id", "ts", "item_id", "event_type", "value", "line_number"]
    valid = (
        checked.filter(pl.col("reason").is_null())
        .sort(order)
        .with_columns(
            duplicate=~pl.struct(
                "user_id", "ts", "item_id", "event_type", "value"
            ).is_first_distinct()
        )
    )
    valid, checked, wrong = pl.collect_all([valid, checked, wrong])
    kept = valid.filter(~pl.col("duplicate"))
    dead = pl.concat(
        [
            wrong,
            checked.filter(pl.col("reason").is_not_null()).select("reason", "line_number", raw=raw),
            valid.filter(pl.col("duplicate")).select(
                reason=pl.lit("duplicate"), line_number="line_number", raw=raw
            ),
        ]
    ).sort("line_number")
    sequences = (
        kept.group_by("user_id", maintain_order=True)
        .agg(item_ids="item_id", timestamps="ts", event_types="event_type")
        .with_columns(length=pl.col("item_ids").list.len())
        .select(
            "user_id",
            "item_ids",
            "timestamps",
            "event_types",
            valid_position=pl.when(pl.col("length") >= 3)
            .then(pl.col("length") - 2)
            .otherwise(-1)
            .cast(pl.Int32),
            test_position=pl.when(pl.col("length") >= 3)
            .then(pl.col("length") - 1)
            .otherwise(-1)
            .cast(pl.Int32),
        )
    )
    sequences.write_parquet(output / "sequences" / "part-00000.parquet")
    vocabulary = (
        kept.group_by("item_id")
        .agg(count=pl.len())
        .sort(["count", "item_id"], descending=[True, False])
    )
    _write_vocabulary(output, vocabulary.to_arrow())
    dead.select(
        "reason", source=pl.lit(str(input_path)), line_number="line_number", raw="raw"
    ).write_parquet(output / "dead_letter" / "part-00000.parquet")
    by_reason = dict(dead.group_by("reason").len().iter_rows())
    rows_in = len(checked) + len(wrong)
    return _finish(output, rows_in, by_reason, len(sequences), len(vocabulary))


def run_pandas_vectorised_events(input_path: str, output_dir: str) -> dict:
    """pandas without a Python object per event (see the module docstring); returns the stats."""
    import csv

    import pandas as pd

    output = _prepare(output_dir)
    lines = pd.read_csv(
        input_path,
        sep="\x1f",
        header=None,
        names=["raw"],
        skiprows=1,
        dtype=str,
        keep_default_na=False,
        quoting=csv.QUOTE_NONE,
        engine="c",
        skip_blank_lines=False,
    )["raw"]
    line_number = np.arange(len(lines), dtype=np.int64) + 2
    field_count = lines.str.count(",") + 1
    well_formed = (field_count == len(FIELDS)).to_numpy()
    wrong = pd.DataFrame(
        {"reason": "wrong_column_count", "line_number": line_number[~well_formed]}
    ).assign(raw=lines[~well_formed].to_numpy())
    frame = lines[well_formed].str.split(",", expand=True, regex=False)
    frame.columns = list(FIELDS)
    frame = frame.apply(lambda column: column.str.strip())
    frame["line_number"] = line_number[well_formed]
    frame["raw"] = lines[well_formed].to_numpy()
    numeric = pd.to_numeric(frame["timestamp"], errors="coerce")
    integral = numeric.notna() & (numeric == numeric.round())
    missing = frame["timestamp"] == ""
    empty = ~missing & ((frame["user_id"] == "") | (frame["item_id"] == ""))
    unparsable = ~empty & ~missing & ~integral
    absurd = ~(empty | missing | unparsable) & (
        (numeric < MIN_TIMESTAMP) | (numeric > max_timestamp())
    )
    dead = [wrong]
    for reason, mask in (
        ("empty_id", empty),
        ("missing_field", missing),
        ("unparsable_timestamp", unparsable),
        ("absurd_timestamp", absurd),
    ):
        dead.append(frame.loc[mask, ["line_number", "raw"]].assign(reason=reason))
    valid = frame[~(empty | missing | unparsable | absurd)].copy()
    valid["ts"] = numeric[valid.index].astype("int64")
    valid = valid.sort_values(["user_id", "ts", "item_id", "event_type", "value", "line_number"])
    duplicate = valid.duplicated(subset=["user_id", "ts", "item_id", "event_type", "value"])
    dead.append(valid.loc[duplicate, ["line_number", "raw"]].assign(reason="duplicate"))
    kept = valid[~duplicate]
    users = kept["user_id"].to_numpy()
    starts = np.flatnonzero(np.concatenate([[True], users[1:] != users[:-1]])) if len(users) else []
    starts = np.asarray(starts, dtype=np.int64)
    lengths = np.diff(np.concatenate([starts, [len(kept)]]))
    offsets = pa.array(np.concatenate([[0], np.cumsum(lengths)]).astype(np.int32))

    def as_lists(name, kind):
        return pa.ListArray.from_arrays(offsets, pa.array(kept[name].to_numpy(), kind))

    sequences = pa.table(
        {
            "user_id": pa.array(users[starts], pa.string()),
            "item_ids": as_lists("item_id", pa.string()),
            "timestamps": as_lists("ts", pa.int64()),
            "event_types": as_lists("event_type", pa.string()),
            "valid_position": pa.array(np.where(lengths >= 3, lengths - 2, -1), pa.int32()),
            "test_position": pa.array(np.where(lengths >= 3, lengths - 1, -1), pa.int32()),
        }
    )
    pq.write_table(sequences, output / "sequences" / "part-00000.parquet")
    counts = kept["item_id"].value_counts()
    vocabulary = (
        pd.DataFrame({"item_id": counts.index.to_numpy(), "count": counts.to_numpy()})
        .sort_values(["count", "item_id"], ascending=[False, True])
        .reset_index(drop=True)
    )
    _write_vocabulary(output, pa.Table.from_pandas(vocabulary, preserve_index=False))
    dead_letters = pd.concat(dead, ignore_index=True).sort_values("line_number")
    dead_letters = dead_letters.assign(source=str(input_path))[
        ["reason", "source", "line_number", "raw"]
    ]
    dead_letters.to_parquet(output / "dead_letter" / "part-00000.parquet", index=False)
    by_reason = dead_letters["reason"].value_counts().to_dict()
    return _finish(output, len(lines), by_reason, len(starts), len(vocabulary))


ENGINES = {
    "duckdb": run_duckdb_events,
    "polars": run_polars_events,
    "pandas": run_pandas_vectorised_events,
}
