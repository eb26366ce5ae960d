"""Item features: categorical attributes per item -> the item vocabulary folder of an events run.

Three input formats (`ITEM_FEATURE_FORMATS`; `auto` picks one from the file):
- `s3rec-json`: the S3-Rec `*_item2attributes.json`, one JSON object `{item_id: [attribute ids]}`;
  each attribute becomes the feature value `attribute=<id>`.
- `movielens`: MovieLens `movies.csv` (`movieId,title,genres`); genres split on `|` become
  `genre=<name>`; `(no genres listed)` is no feature.
- `csv`: a CSV with a header, `item_id` first, then categorical columns (`category`, `brand`, ...);
  a `title` column is not a feature; each other column's value, split on `|`, becomes
  `<column>=<value>`.

Written into the run folder (docs/CONTRACTS.md):
- `vocab/item_features.parquet`: `item_id: string`, `features: list<string>` (sorted, unique),
  `in_vocabulary: bool`. First every item of `vocab/items.txt`, in its order (an item without
  features gets `[UNKNOWN_FEATURE]`), then the items that have features but no events (cold start),
  sorted by id.
- `vocab/item_feature_values.parquet`: `feature: string`, `items: int64` (how many rows carry it),
  sorted by count descending, then feature.
- `item_features_dead_letter/part-00000-of-00001.parquet` (the dead-letter schema): malformed
  rows with their reason; `stats.json` gains an `item_features` section whose `rows_in` equals
  `rows_out + rows_dead`.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa

from pipeline import dead_letter
from pipeline.beam_common import parquet_bytes, write_bytes
from pipeline.ids import CONTROL_CHARACTERS, RESERVED_ID_PREFIX

ITEM_FEATURE_FORMATS = ("auto", "s3rec-json", "movielens", "csv")
UNKNOWN_FEATURE = "[seqlens:unknown_feature]"
NO_GENRES = "(no genres listed)"
FEATURES_FILE = "vocab/item_features.parquet"
FEATURE_VALUES_FILE = "vocab/item_feature_values.parquet"
DEAD_LETTER_FOLDER = "item_features_dead_letter"
ITEM_FEATURES_SCHEMA = pa.schema(
    [
        ("item_id", pa.string()),
        ("features", pa.list_(pa.string())),
        ("in_vocabulary", pa.bool_()),
    ]
)
FEATURE_VALUES_SCHEMA = pa.schema([("feature", pa.string()), ("items", pa.int64())])
_CONTROL = re.compile(CONTROL_CHARACTERS)


@dataclass
class ItemFeatureRows:
    """What a reader made of a feature file: `{item_id: features}`, dead letters, rows read."""

    features: dict[str, list[str]] = field(default_factory=dict)
    dead_reasons: list[str] = field(default_factory=list)
    dead_lines: list[int] = field(default_factory=list)
    dead_raws: list[str] = field(default_factory=list)
    rows_in: int = 0

    def dead(self, reason: str, line_number: int, raw: str) -> None:
        self.dead_reasons.append(reason)
        self.dead_lines.append(line_number)
        self.dead_raws.append(raw)

    def add(self, item_id: str, values: list[str], line_number: int, raw: str) -> None:
        """Keep one row, or dead-letter it (bad id, duplicate item)."""
        if not item_id:
            self.dead(dead_letter.EMPTY_ID, line_number, raw)
        elif _CONTROL.search(item_id):
            self.dead(dead_letter.INVALID_ID, line_number, raw)
        elif item_id.startswith(RESERVED_ID_PREFIX):
            self.dead(dead_letter.RESERVED_ID, line_number, raw)
        elif item_id in self.features:
            self.dead(dead_letter.DUPLICATE, line_number, raw)
        elif any(_CONTROL.search(value) or not value.split("=", 1)[1] for value in values):
            self.dead(dead_letter.MALFORMED_RECORD, line_number, raw)
        else:
            self.features[item_id] = sorted(set(values))


def resolve_item_feature_format(path: str | Path, item_feature_format: str = "auto") -> str:
    """The format of a feature file: `item_feature_format`, or for `auto` guessed from the file."""
    if item_feature_format not in ITEM_FEATURE_FORMATS:
        raise ValueError(
            f"Expected item_features_format to be one of {', '.join(ITEM_FEATURE_FORMATS)}. "
            f"Received: item_features_format={item_feature_format!r}"
        )
    if item_feature_format != "auto":
        return item_feature_format
    path = Path(path)
    if path.suffix.lower() == ".json":
        return "s3rec-json"
    with path.open(encoding="utf-8", errors="replace", newline="") as handle:
        header = handle.readline().strip().lstrip("\ufeff")
    return "movielens" if header.startswith("movieId,") else "csv"


def read_s3rec_json(path: Path) -> ItemFeatureRows:
    """`{item_id: [attribute ids]}` -> rows; an entry that is not a list of ids is dead-lettered."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ValueError(
            f"Expected a JSON object {{item_id: [attribute ids]}} (S3-Rec). Received: "
            f"item_features={str(path)!r} ({error})"
        ) from None
    if not isinstance(document, dict):
        raise ValueError(
            "Expected a JSON object {item_id: [attribute ids]} (S3-Rec). Received: "
            f"item_features={str(path)!r} holding a {type(document).__name__}"
        )
    rows = ItemFeatureRows()
    for number, (item_id, attributes) in enumerate(document.items(), start=1):
        rows.rows_in += 1
        raw = json.dumps({item_id: attributes})
        valid = isinstance(attributes, list) and all(
            isinstance(value, (str, int)) and not isinstance(value, bool) for value in attributes
        )
        if not valid:
            rows.dead(dead_letter.MALFORMED_RECORD, number, raw)
            continue
        rows.add(item_id, [f"attribute={value}" for value in attributes], number, raw)
    return rows


def _csv_lines(path: Path):
    """`(line_number, raw line, fields)` of a CSV file's data rows, and the header first."""
    with path.open("rb") as handle:
        data = handle.read()
    for number, line in enumerate(data.splitlines(), start=1):
        raw = dead_letter.decode_raw(line)
        try:
            text = line.decode("utf-8")
        except UnicodeDecodeError:
            yield number, raw, None
            continue
        if number == 1:
            text = text.lstrip("\ufeff")
        if not text.strip():
            continue
        yield number, raw, next(csv.reader(io.StringIO(text)))


def read_feature_csv(path: Path, movielens: bool = False) -> ItemFeatureRows:
    """A CSV with a header (`item_id,<feature columns>`, or MovieLens `movieId,title,genres`)."""
    lines = _csv_lines(path)
    first = next(lines, None)
    if first is None or first[2] is None:
        raise ValueError(
            f"Expected a UTF-8 CSV with a header row. Received: item_features={str(path)!r}"
        )
    header = [name.strip() for name in first[2]]
    expected_first = "movieId" if movielens else "item_id"
    if not header or header[0] != expected_first or len(header) < 2:
        raise ValueError(
            f"Expected a header starting with {expected_first!r} and a feature column. "
            f"Received: header={','.join(header)!r} in item_features={str(path)!r}"
        )
    prefixes = {"genres": "genre"} if movielens else {}
    feature_columns = [
        (index, prefixes.get(name, name))
        for index, name in enumerate(header)
        if index > 0 and name != "title"
    ]
    rows = ItemFeatureRows()
    for number, raw, fields in lines:
        rows.rows_in += 1
        if fields is None:
            rows.dead(dead_letter.INVALID_UTF8, number, raw)
            continue
        if len(fields) != len(header):
            rows.dead(dead_letter.WRONG_COLUMN_COUNT, number, raw)
            continue
        values = []
        for index, name in feature_columns:
            parts = [part.strip() for part in fields[index].split("|")]
            values += [f"{name}={part}" for part in parts if part and part != NO_GENRES]
        rows.add(fields[0].strip(), values, number, raw)
    return rows


def read_item_features(path: str | Path, item_feature_format: str = "auto") -> ItemFeatureRows:
    """Read a feature file in one of `ITEM_FEATURE_FORMATS` (local path)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(
            f"Expected an existing item feature file. Received: item_features={str(path)!r}"
        )
    resolved = resolve_item_feature_format(path, item_feature_format)
    if resolved == "s3rec-json":
        return read_s3rec_json(path)
    return read_feature_csv(path, movielens=resolved == "movielens")


def item_feature_tables(
    rows: ItemFeatureRows, vocabulary: list[str]
) -> tuple[pa.Table, pa.Table, dict]:
    """`(item_features, item_feature_values, stats)` for an item vocabulary (see the module)."""
    known = set(vocabulary)
    item_ids = list(vocabulary) + sorted(item for item in rows.features if item not in known)
    features = [rows.features.get(item) or [UNKNOWN_FEATURE] for item in item_ids]
    in_vocabulary = [index < len(vocabulary) for index in range(len(item_ids))]
    table = pa.table(
        {
            "item_id": pa.array(item_ids, pa.string()),
            "features": pa.array(features, pa.list_(pa.string())),
            "in_vocabulary": pa.array(in_vocabulary, pa.bool_()),
        },
        schema=ITEM_FEATURES_SCHEMA,
    )
    counts = Counter(value for values in features for value in values)
    ordered = sorted(counts.items(), key=lambda pair: (-pair[1], pair[0]))
    values_table = pa.table(
        {
            "feature": pa.array([name for name, _ in ordered], pa.string()),
            "items": pa.array([count for _, count in ordered], pa.int64()),
        },
        schema=FEATURE_VALUES_SCHEMA,
    )
    rows_dead = len(rows.dead_reasons)
    stats = {
        "rows_in": rows.rows_in,
        "rows_out": len(rows.features),
        "rows_dead": rows_dead,
        "dead_by_reason": dict(sorted(Counter(rows.dead_reasons).items())),
        "balanced": rows.rows_in == len(rows.features) + rows_dead,
        "vocabulary_items_with_features": sum(item in rows.features for item in vocabulary),
        "vocabulary_items_without_features": sum(item not in rows.features for item in vocabulary),
        "items_outside_vocabulary": len(item_ids) - len(vocabulary),
        "feature_values": len(counts),
    }
    return table, values_table, stats


def write_item_features(
    features_path: str | Path, run_dir: str | Path, item_feature_format: str = "auto"
) -> dict:
    """Read a feature file and write it into a (local) events run folder; return its stats.

    Reads `run_dir/vocab/items.txt`, writes the files listed in the module docstring and adds
    the returned stats under `item_features` to `run_dir/stats.json`.

    Args:
        features_path: the item feature file (local).
        run_dir: an events run folder written by `pipeline.events.run_events_pipeline`.
        item_feature_format: one of `ITEM_FEATURE_FORMATS`.
    """
    run_dir = Path(run_dir)
    vocabulary_file = run_dir / "vocab" / "items.txt"
    if not vocabulary_file.is_file():
        raise FileNotFoundError(
            "Expected an events run folder with vocab/items.txt. "
            f"Received: run_dir={str(run_dir)!r}"
        )
    rows = read_item_features(features_path, item_feature_format)
    vocabulary = vocabulary_file.read_text(encoding="utf-8").splitlines()
    table, values, stats = item_feature_tables(rows, vocabulary)
    write_bytes(str(run_dir / FEATURES_FILE), parquet_bytes(table))
    write_bytes(str(run_dir / FEATURE_VALUES_FILE), parquet_bytes(values))
    dead = dead_letter.dead_letters_from_rows(
        rows.dead_reasons, str(features_path), rows.dead_lines, rows.dead_raws
    )
    write_bytes(
        str(run_dir / DEAD_LETTER_FOLDER / "part-00000-of-00001.parquet"), parquet_bytes(dead)
    )
    stats_file = run_dir / "stats.json"
    run_stats = json.loads(stats_file.read_text()) if stats_file.exists() else {}
    run_stats["item_features"] = {"input": str(features_path), **stats}
    stats_file.write_text(json.dumps(run_stats, indent=2))
    return stats
