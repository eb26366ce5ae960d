"""Beam building blocks shared by the event and text pipelines.

- `SumCountsFn`: a CombineFn adding nested `{name: count}` dictionaries (the statistics).
- `MergeCountTablesFn`: a CombineFn summing Arrow `(key, count)` tables (vocabularies).
- `WriteArrowTables`: writes a PCollection of Arrow tables as sharded Parquet files.
- `WriteDeadLetters`: flattens dead-letter tables, counts them by reason, writes them.
- `write_bytes`: writes one small file (JSON, text, Parquet) through Beam's `FileSystems`.
"""

from __future__ import annotations

import io
from typing import Any

import apache_beam as beam
import pyarrow as pa
import pyarrow.parquet as pq
from apache_beam.metrics import Metrics

from pipeline import dead_letter
from pipeline.sequences import merge_counts

METRICS_NAMESPACE = "seqlens"


def add_nested(left: dict[str, Any], right: dict[str, Any]) -> dict[str, Any]:
    """`left + right` for nested dictionaries of numbers (new dictionary)."""
    result = dict(left)
    for key, value in right.items():
        if isinstance(value, dict):
            result[key] = add_nested(result.get(key, {}), value)
        else:
            result[key] = result.get(key, 0) + value
    return result


class SumCountsFn(beam.CombineFn):
    """Adds nested `{name: number}` dictionaries."""

    def create_accumulator(self) -> dict[str, Any]:
        return {}

    def add_input(self, accumulator: dict[str, Any], element: dict[str, Any]) -> dict[str, Any]:
        return add_nested(accumulator, element)

    def merge_accumulators(self, accumulators) -> dict[str, Any]:
        result: dict[str, Any] = {}
        for accumulator in accumulators:
            result = add_nested(result, accumulator)
        return result

    def extract_output(self, accumulator: dict[str, Any]) -> dict[str, Any]:
        return accumulator


class MergeCountTablesFn(beam.CombineFn):
    """Sums Arrow tables of `(key, count)` into one table (compacting as it goes)."""

    def __init__(self, key: str):
        self._key = key

    def create_accumulator(self) -> list[pa.Table]:
        return []

    def add_input(self, accumulator: list[pa.Table], element: pa.Table) -> list[pa.Table]:
        accumulator.append(element)
        if len(accumulator) >= 16:
            accumulator = [merge_counts(accumulator, self._key)]
        return accumulator

    def merge_accumulators(self, accumulators) -> list[pa.Table]:
        tables = [table for accumulator in accumulators for table in accumulator]
        return [merge_counts(tables, self._key)]

    def extract_output(self, accumulator: list[pa.Table]) -> pa.Table:
        return merge_counts(accumulator, self._key)


def write_bytes(path: str, payload: bytes) -> None:
    """Write one file through Beam's `FileSystems` (local paths, `gs://`, ...)."""
    from apache_beam.io.filesystems import FileSystems

    with FileSystems.create(path) as handle:
        handle.write(payload)


def parquet_bytes(table: pa.Table) -> bytes:
    """`table` serialised as a Parquet file."""
    buffer = io.BytesIO()
    pq.write_table(table, buffer)
    return buffer.getvalue()


class WriteArrowTables(beam.PTransform):
    """Write Arrow tables (all of `schema`) as `<folder>/part-SSSSS-of-NNNNN.parquet`."""

    def __init__(self, folder: str, schema: pa.Schema, label: str | None = None):
        super().__init__(label)
        self._folder = folder.rstrip("/")
        self._schema = schema

    def expand(self, tables):
        return (
            tables
            | "CastToSchema" >> beam.Map(lambda table, schema: table.cast(schema), self._schema)
            | "WriteParquet"
            >> beam.io.WriteToParquetBatched(
                f"{self._folder}/part",
                schema=self._schema,
                codec="snappy",
                file_name_suffix=".parquet",
            )
        )


class _CountDeadLettersFn(beam.DoFn):
    """Emits `{"dead_by_reason": {reason: rows}}` per table and increments the counters."""

    def process(self, table: pa.Table):
        counts = dead_letter.count_by_reason(table)
        for reason, count in counts.items():
            Metrics.counter(METRICS_NAMESPACE, f"dead_{reason}").inc(count)
        if counts:
            yield {"dead_by_reason": counts}


class WriteDeadLetters(beam.PTransform):
    """Flatten dead-letter tables, write them to `<folder>/`, return their counts by reason."""

    def __init__(self, folder: str, label: str | None = None):
        super().__init__(label)
        self._folder = folder

    def expand(self, dead_letter_tables):
        if isinstance(dead_letter_tables, (list, tuple)):
            dead_letter_tables = dead_letter_tables | "FlattenDeadLetters" >> beam.Flatten()
        non_empty = dead_letter_tables | "DropEmpty" >> beam.Filter(
            lambda table: table.num_rows > 0
        )
        _ = non_empty | "WriteDeadLetterFiles" >> WriteArrowTables(
            self._folder, dead_letter.DEAD_LETTER_SCHEMA
        )
        return non_empty | "CountByReason" >> beam.ParDo(_CountDeadLettersFn())
