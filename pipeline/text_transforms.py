"""Beam transforms of the news and chats pipelines: read -> clean + tokenise -> deduplicate.

```
paths -PlanChunks-> chunks -Reshuffle-> -TokenizeChunks-> (bucket, texts) -GroupByKey->
  -Deduplicate-> texts tables (+ token counts, stats, dead letters)
```

Tokens come from `pipeline.text_normalization.tokenize`, the one tokeniser the text models
also use in-graph. Timestamps are parsed vectorised; the tokeniser itself is per text (regex).
"""

from __future__ import annotations

import json

import apache_beam as beam
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from apache_beam import pvalue
from apache_beam.metrics import Metrics

from pipeline import dead_letter, ids, sources
from pipeline.beam_common import METRICS_NAMESPACE, MergeCountTablesFn, SumCountsFn
from pipeline.delimited import ParsedBlock
from pipeline.sequences import bucket_of, merge_counts
from pipeline.text_formats import TEXT_ID_FIELDS, TextColumns, TextReadSpec, read_text_chunk
from pipeline.text_normalization import tokenize
from pipeline.timestamps import (
    STATUS_ABSURD,
    STATUS_MISSING,
    STATUS_UNPARSABLE,
    TimestampRange,
    parse_timestamps,
)

DEAD_LETTER = "dead_letter"
STATS = "stats"
TOKEN_COUNTS = "token_counts"


def texts_schema(columns: TextColumns, spec: TextReadSpec) -> pa.Schema:
    """Output schema: the kind's fields (timestamp int64, tokens list) then the extra columns."""
    fields = []
    for field, _ in columns.fields:
        fields.append((field, pa.int64() if field == "timestamp" else pa.string()))
        if field == "text":
            fields.append(("tokens", pa.list_(pa.string())))
    fields.extend((name, pa.string()) for name in spec.extras)
    return pa.schema(fields)


class PlanTextChunksFn(beam.DoFn):
    """`(file_index, path)` -> chunks (JSON Lines are split; CSV files are read whole)."""

    def __init__(self, spec: TextReadSpec, chunk_bytes: int):
        self._spec = spec
        self._chunk_bytes = chunk_bytes

    def process(self, element):
        file_index, path = element
        if self._spec.input_format == "jsonl":
            yield from sources.plan_chunks(path, file_index, False, self._chunk_bytes)
        else:
            yield sources.Chunk(path, file_index, 0, -1, 1, True)


class TokenizeChunkFn(beam.DoFn):
    """A chunk -> `(bucket, texts table)` with timestamps and tokens; bad rows -> dead letters."""

    def __init__(
        self,
        columns: TextColumns,
        spec: TextReadSpec,
        schema: pa.Schema,
        plausible: TimestampRange,
        num_buckets: int,
    ):
        self._columns = columns
        self._spec = spec
        self._schema = schema
        self._plausible = plausible
        self._num_buckets = num_buckets
        self._rows_in = Metrics.counter(METRICS_NAMESPACE, "rows_in")
        # optional fields of the kind (source, author, intent): empty means null
        self._optional = {
            field
            for field, _ in columns.fields
            if field not in columns.required and field != columns.key
        }

    def process(self, chunk: sources.Chunk):
        for parsed in read_text_chunk(chunk, self._spec):
            self._rows_in.inc(parsed.rows_in)
            yield pvalue.TaggedOutput(STATS, {"rows_in": parsed.rows_in})
            if parsed.dead_letters.num_rows:
                yield pvalue.TaggedOutput(DEAD_LETTER, parsed.dead_letters)
            texts, dead = self._clean(parsed, chunk)
            if dead.num_rows:
                yield pvalue.TaggedOutput(DEAD_LETTER, dead)
            if texts.num_rows == 0:
                continue
            buckets = bucket_of(pc.fill_null(texts.column("text"), ""), self._num_buckets)
            for bucket in np.unique(buckets):
                yield int(bucket), texts.filter(pa.array(buckets == bucket))

    def _clean(self, parsed: ParsedBlock, chunk: sources.Chunk) -> tuple[pa.Table, pa.Table]:
        rows = parsed.rows
        count = rows.num_rows
        if count == 0:
            return self._schema.empty_table(), dead_letter.empty_dead_letters()
        reasons = np.full(count, "", dtype=object)
        seconds, status = parse_timestamps(rows.column("timestamp"), self._plausible)
        reasons[status == STATUS_ABSURD] = dead_letter.ABSURD_TIMESTAMP
        reasons[status == STATUS_UNPARSABLE] = dead_letter.UNPARSABLE_TIMESTAMP
        for field in TEXT_ID_FIELDS:  # NUL and other control characters in an id
            if field in rows.column_names:
                values = rows.column(field).combine_chunks().cast(pa.string())
                reasons[ids.has_control_characters(values)] = dead_letter.INVALID_ID
        checked = list(self._columns.required)
        if self._columns.key in rows.column_names and self._columns.key not in checked:
            checked.insert(0, self._columns.key)  # e.g. a news `id` column: empty means malformed
        for field in reversed(checked):
            if field == "timestamp":
                reasons[status == STATUS_MISSING] = dead_letter.MISSING_FIELD
                continue
            values = pc.utf8_trim_whitespace(rows.column(field).combine_chunks())
            empty = pc.fill_null(pc.equal(pc.utf8_length(values), 0), True).to_numpy(
                zero_copy_only=False
            )
            reason = (
                dead_letter.EMPTY_TEXT
                if field == "text"
                else (
                    dead_letter.EMPTY_ID
                    if field == self._columns.key
                    else dead_letter.MISSING_FIELD
                )
            )
            reasons[empty] = reason
        good = reasons == ""
        table = {}
        texts = rows.column("text").combine_chunks()
        for field in self._schema.names:
            if field == "timestamp":
                table[field] = pa.array(seconds, pa.int64())
            elif field == "tokens":
                table[field] = pa.array(
                    [
                        tokenize(text) if keep else []
                        for text, keep in zip(texts.to_pylist(), good, strict=True)
                    ],
                    pa.list_(pa.string()),
                )
            elif field == self._columns.key and field not in rows.column_names:
                table[field] = pa.array(
                    [
                        f"{chunk.file_index}:{line}"
                        for line in rows.column("line_number").to_pylist()
                    ],
                    pa.string(),
                )
            elif field in rows.column_names and field in self._optional:
                values = rows.column(field).combine_chunks().cast(pa.string())
                empty = pc.equal(pc.utf8_length(pc.utf8_trim_whitespace(values)), 0)
                table[field] = pc.if_else(empty, pa.scalar(None, pa.string()), values)
            elif field in rows.column_names:
                table[field] = rows.column(field).combine_chunks().cast(pa.string())
            else:
                table[field] = pa.nulls(count, pa.string())
        table["line_number"] = rows.column("line_number").combine_chunks()
        table["file_index"] = pa.array(np.full(count, chunk.file_index, dtype=np.int32))
        texts_table = pa.table(table)
        if good.all():
            return texts_table, dead_letter.empty_dead_letters()
        bad = np.flatnonzero(~good)
        bad_lines = rows.column("line_number").combine_chunks().take(pa.array(bad)).to_numpy()
        dead = dead_letter.dead_letters_from_rows(
            list(reasons[bad]),
            chunk.path,
            [int(line) for line in bad_lines],
            parsed.raw_lines(bad_lines),  # the original lines, not the parsed fields
        )
        return texts_table.filter(pa.array(good)), dead


class DeduplicateTextsFn(beam.DoFn):
    """`(bucket, [texts...])` -> texts sorted by time without exact duplicate rows."""

    def __init__(self, schema: pa.Schema, paths: list[str]):
        self._schema = schema
        self._paths = paths
        self._rows_out = Metrics.counter(METRICS_NAMESPACE, "rows_out")

    def process(self, element):
        _, tables = element
        texts = pa.concat_tables(list(tables))
        keys = [name for name in self._schema.names if name != "tokens"]
        order = pc.sort_indices(
            texts,
            sort_keys=[(name, "ascending", "at_start") for name in keys]
            + [("file_index", "ascending"), ("line_number", "ascending")],
        )
        texts = texts.take(order)
        duplicate = np.ones(texts.num_rows, dtype=bool)
        duplicate[0] = False
        for name in keys:
            column = texts.column(name).combine_chunks()
            if pa.types.is_string(column.type):
                column = pc.fill_null(column, "\x00")
            same = pc.fill_null(pc.equal(column.slice(1), column.slice(0, len(column) - 1)), False)
            duplicate[1:] &= same.to_numpy(zero_copy_only=False)
        if duplicate.any():
            dropped = texts.filter(pa.array(duplicate))
            raws = [json.dumps({key: row[key] for key in keys}) for row in dropped.to_pylist()]
            sources_column = pa.array(self._paths).take(
                dropped.column("file_index").cast(pa.int64())
            )
            yield pvalue.TaggedOutput(
                DEAD_LETTER,
                dead_letter.dead_letters_from_arrays(
                    dead_letter.DUPLICATE,
                    sources_column,
                    dropped.column("line_number"),
                    pa.array(raws, pa.string()),
                ),
            )
            texts = texts.filter(pa.array(~duplicate))
        texts = texts.select(self._schema.names)
        self._rows_out.inc(texts.num_rows)
        tokens = texts.column("tokens").combine_chunks()
        lengths = pc.list_value_length(tokens).to_numpy(zero_copy_only=False)
        counts = np.bincount(lengths) if len(lengths) else np.zeros(0, np.int64)
        yield pvalue.TaggedOutput(
            STATS,
            {
                "rows_out": texts.num_rows,
                "texts": texts.num_rows,
                "token_length_counts": {str(n): int(c) for n, c in enumerate(counts) if c},
            },
        )
        flat = tokens.flatten()
        if len(flat):
            value_counts = flat.value_counts()
            yield pvalue.TaggedOutput(
                TOKEN_COUNTS,
                merge_counts(
                    [
                        pa.table(
                            {
                                "token": value_counts.field("values"),
                                "count": value_counts.field("counts").cast(pa.int64()),
                            }
                        )
                    ],
                    "token",
                ),
            )
        yield texts


class TextsToTokens(beam.PTransform):
    """Composite: `(file_index, path)` -> `texts`, `token_counts`, `dead_letter`, `stats`."""

    def __init__(
        self,
        columns: TextColumns,
        spec: TextReadSpec,
        plausible: TimestampRange,
        paths: list[str],
        num_buckets: int = 8,
        chunk_bytes: int = sources.DEFAULT_CHUNK_BYTES,
        label: str | None = None,
    ):
        super().__init__(label)
        self._columns = columns
        self._spec = spec
        self._schema = texts_schema(columns, spec)
        self._plausible = plausible
        self._paths = paths
        self._num_buckets = num_buckets
        self._chunk_bytes = chunk_bytes

    def expand(self, file_paths):
        read = (
            file_paths
            | "PlanChunks" >> beam.ParDo(PlanTextChunksFn(self._spec, self._chunk_bytes))
            | "DistributeChunks" >> beam.Reshuffle()
            | "TokenizeChunks"
            >> beam.ParDo(
                TokenizeChunkFn(
                    self._columns, self._spec, self._schema, self._plausible, self._num_buckets
                )
            ).with_outputs(DEAD_LETTER, STATS, main="texts")
        )
        deduplicated = (
            read.texts
            | "GroupByBucket" >> beam.GroupByKey()
            | "Deduplicate"
            >> beam.ParDo(DeduplicateTextsFn(self._schema, self._paths)).with_outputs(
                DEAD_LETTER, STATS, TOKEN_COUNTS, main="texts"
            )
        )
        token_counts = deduplicated[TOKEN_COUNTS] | "SumTokenCounts" >> beam.CombineGlobally(
            MergeCountTablesFn("token")
        )
        stats = (
            (read[STATS], deduplicated[STATS])
            | "FlattenStats" >> beam.Flatten()
            | "SumStats" >> beam.CombineGlobally(SumCountsFn())
        )
        dead = (
            read[DEAD_LETTER],
            deduplicated[DEAD_LETTER],
        ) | "FlattenDeadLetters" >> beam.Flatten()
        return {
            "texts": deduplicated.texts,
            "token_counts": token_counts,
            DEAD_LETTER: dead,
            STATS: stats,
        }
