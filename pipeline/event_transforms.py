"""The events pipeline's Beam transforms: DoFns -> PTransforms -> the `EventsToSequences` composite.

Over 300 lines on purpose: the DoFns, the PTransforms wrapping them and the composite of one
pipeline, in the order the data flows through them.

Elements are Arrow tables (a block of events, a user bucket), never single events:

```
paths -PlanChunks-> chunks -Reshuffle-> -ParseChunks-> (bucket, events) -GroupByKey->
  -DeduplicateBuckets-> (bucket, events) -FilterRoundN...-> -BuildSequences-> sequences
```

With `EventsConfig.shuffle == "files"` (the default) ParseChunks writes each bucket's table to
a spill file and emits `(bucket, path)`; the runner groups only the paths, and each bucket's
files are read back just before deduplication (`pipeline.spill`: memory ~ one bucket).

Every DoFn sends dropped rows to a tagged `dead_letter` output (Arrow tables of
`dead_letter.DEAD_LETTER_SCHEMA`), increments a `Metrics.counter` per reason, and emits partial
statistics on a tagged `stats` output, so `rows_in == rows_out + rows_dead` is counted, not assumed.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import apache_beam as beam
import numpy as np
import pyarrow as pa
from apache_beam import pvalue
from apache_beam.metrics import Metrics

from pipeline import sources, spill
from pipeline.beam_common import METRICS_NAMESPACE, MergeCountTablesFn, SumCountsFn
from pipeline.event_formats import EventReadSpec, plan_parquet_chunks, read_event_chunk
from pipeline.event_validation import EVENT_SCHEMA, validate_events
from pipeline.sequences import (
    SplitConfig,
    bucket_of,
    build_sequences,
    deduplicate,
    filter_min_counts,
    item_counts,
)
from pipeline.timestamps import TimestampRange

DEAD_LETTER = "dead_letter"
STATS = "stats"
ITEM_COUNTS = "item_counts"
SHUFFLES = ("files", "runner")
AUTO_BUCKETS = 0
MIN_BUCKETS = 8
BUCKET_INPUT_BYTES = 64 * 1024 * 1024


@dataclass(frozen=True)
class EventsConfig:
    """Options of the events transformation (everything except input/output paths).

    Args:
        min_user_count / min_item_count: iterative filtering thresholds; 0 turns each off.
        max_length: keep each user's most recent `max_length` events; 0 keeps all.
        split: train/validation/test split.
        plausible: the plausible timestamp range.
        num_buckets: user buckets the events are grouped into (memory per bucket ~ 1/num_buckets);
            `AUTO_BUCKETS` (0, the default): one per 64 MiB of input, at least 8
            (`with_input_size`), so that a bucket stays the same size whatever the log's.
        filter_rounds: rounds of iterative filtering (unrolled in the graph).
        chunk_bytes / block_bytes: input split size and read block size.
        shuffle: how events reach their user bucket. `files` (default): each parsed block's
            bucket tables are written under the run folder and only their paths are grouped,
            so memory stays about one bucket on any runner (`pipeline.spill`). `runner`: the
            tables themselves go through the runner's `GroupByKey` (a managed shuffle such as
            Dataflow's keeps them off the workers; the in-process runner holds them all).
    """

    min_user_count: int = 0
    min_item_count: int = 0
    max_length: int = 0
    split: SplitConfig = SplitConfig()
    plausible: TimestampRange = field(default_factory=TimestampRange)
    num_buckets: int = AUTO_BUCKETS
    filter_rounds: int = 10
    chunk_bytes: int = sources.DEFAULT_CHUNK_BYTES
    block_bytes: int = sources.DEFAULT_BLOCK_BYTES
    shuffle: str = "files"

    def __post_init__(self) -> None:
        if self.shuffle not in SHUFFLES:
            raise ValueError(
                f"Expected shuffle to be one of {', '.join(SHUFFLES)}. Received: "
                f"shuffle={self.shuffle!r}"
            )
        for name in ("min_user_count", "min_item_count", "max_length", "num_buckets"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 0:
                raise ValueError(f"Expected {name} to be an int >= 0. Received: {name}={value!r}")
        for name in ("filter_rounds", "chunk_bytes", "block_bytes"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"Expected {name} to be an int >= 1. Received: {name}={value!r}")

    @property
    def filtering(self) -> bool:
        return self.min_user_count > 0 or self.min_item_count > 0

    def with_input_size(self, input_bytes: int) -> EventsConfig:
        """This config with `num_buckets` resolved for an input of `input_bytes` (if automatic)."""
        if input_bytes < 0:
            raise ValueError(f"Expected input_bytes >= 0. Received: input_bytes={input_bytes}")
        if self.num_buckets != AUTO_BUCKETS:
            return self
        buckets = max(MIN_BUCKETS, -(-input_bytes // BUCKET_INPUT_BYTES))
        return replace(self, num_buckets=int(buckets))


def _dead(table: pa.Table):
    return pvalue.TaggedOutput(DEAD_LETTER, table)


class PlanChunksFn(beam.DoFn):
    """`(file_index, path)` -> the file's line-aligned `sources.Chunk`s."""

    def __init__(self, spec: EventReadSpec, chunk_bytes: int):
        self._spec = spec
        self._chunk_bytes = chunk_bytes

    def process(self, element: tuple[int, str]):
        file_index, path = element
        if self._spec.kind == "parquet":
            yield from plan_parquet_chunks(path, file_index)
        else:
            yield from sources.plan_chunks(
                path, file_index, self._spec.has_header, self._chunk_bytes
            )


class ParseChunkFn(beam.DoFn):
    """A chunk -> `(bucket, events)` tables per user bucket; malformed rows -> dead letters.

    With a `spill_dir`, each bucket's table is written there and `(bucket, path)` is emitted
    instead (file name from the chunk's file, start byte and block: a retry rewrites it).
    """

    def __init__(self, spec: EventReadSpec, config: EventsConfig, spill_dir: str | None = None):
        self._spec = spec
        self._config = config
        self._spill_dir = spill_dir
        self._rows_in = Metrics.counter(METRICS_NAMESPACE, "rows_in")

    def process(self, chunk: sources.Chunk):
        blocks = read_event_chunk(chunk, self._spec, self._config.block_bytes)
        for block_index, parsed in enumerate(blocks):
            events, dead = validate_events(
                parsed,
                self._config.plausible,
                chunk.file_index,
                chunk.path,
                position_as_time=self._spec.position_as_time,
            )
            self._rows_in.inc(parsed.rows_in)
            yield pvalue.TaggedOutput(STATS, {"rows_in": parsed.rows_in})
            if dead.num_rows:
                yield _dead(dead)
            if events.num_rows == 0:
                continue
            buckets = bucket_of(events.column("user_id"), self._config.num_buckets)
            order = np.argsort(buckets, kind="stable")
            sorted_buckets = buckets[order]
            boundaries = np.flatnonzero(np.diff(sorted_buckets)) + 1
            for start, end in zip(
                np.concatenate([[0], boundaries]),
                np.concatenate([boundaries, [len(order)]]),
                strict=True,
            ):
                # `take` (not `slice`): a compact table per bucket, so that encoding it for the
                # shuffle does not serialise the buffers of the whole block.
                bucket = int(sorted_buckets[start])
                table = events.take(pa.array(order[start:end]))
                if self._spill_dir is None:
                    yield bucket, table
                    continue
                name = f"b{bucket:05d}-f{chunk.file_index:05d}-s{chunk.start}-k{block_index:05d}"
                yield bucket, spill.write_spilled(table, self._spill_dir, name)


class DeduplicateBucketFn(beam.DoFn):
    """`(bucket, [events...])` -> `(bucket, sorted events)` without exact duplicates.

    With `spilled`, the grouped values are spill file paths (`ParseChunkFn`), read here.
    """

    def __init__(self, paths: list[str], spilled: bool = False):
        self._paths = paths
        self._spilled = spilled

    def process(self, element):
        bucket, parts = element
        if self._spilled:
            events = spill.read_spilled(parts, EVENT_SCHEMA)
        else:
            tables = list(parts)
            events = pa.concat_tables(tables) if tables else EVENT_SCHEMA.empty_table()
        events, dead = deduplicate(events, self._paths)
        if dead.num_rows:
            yield _dead(dead)
        yield bucket, events


class CountItemsFn(beam.DoFn):
    """`(bucket, events)` -> the bucket's `(item_id, count)` table."""

    def process(self, element):
        yield item_counts(element[1])


class FilterRoundFn(beam.DoFn):
    """One round of iterative min-count filtering of a bucket, given global item counts."""

    def __init__(self, config: EventsConfig, paths: list[str], round_index: int):
        self._config = config
        self._paths = paths
        self._round_index = round_index

    def process(self, element, global_item_counts: pa.Table):
        bucket, events = element
        events, dead = filter_min_counts(
            events,
            global_item_counts,
            self._config.min_user_count,
            self._config.min_item_count,
            self._paths,
        )
        if dead.num_rows:
            yield _dead(dead)
        yield pvalue.TaggedOutput(
            STATS, {"filter_removed_by_round": {str(self._round_index): dead.num_rows}}
        )
        yield bucket, events


class BuildSequencesFn(beam.DoFn):
    """`(bucket, events)` -> a sequences table (one row per user), item counts, statistics."""

    def __init__(self, config: EventsConfig, has_event_types: bool, paths: list[str]):
        self._config = config
        self._has_event_types = has_event_types
        self._paths = paths
        self._rows_out = Metrics.counter(METRICS_NAMESPACE, "rows_out")
        self._users = Metrics.counter(METRICS_NAMESPACE, "users")

    def process(self, element):
        _, events = element
        sequences, dead, lengths = build_sequences(
            events, self._config.max_length, self._config.split, self._has_event_types, self._paths
        )
        if dead.num_rows:
            yield _dead(dead)
        rows_out = int(lengths.sum())
        self._rows_out.inc(rows_out)
        self._users.inc(len(lengths))
        counts = np.bincount(lengths) if len(lengths) else np.zeros(0, np.int64)
        yield pvalue.TaggedOutput(
            STATS,
            {
                "rows_out": rows_out,
                "users": len(lengths),
                "length_counts": {
                    str(length): int(count) for length, count in enumerate(counts) if count
                },
            },
        )
        if sequences.num_rows:
            yield pvalue.TaggedOutput(
                ITEM_COUNTS,
                item_counts(
                    pa.table({"item_id": sequences.column("item_ids").combine_chunks().flatten()})
                ),
            )
            yield sequences


class ReadEventLog(beam.PTransform):
    """`(file_index, path)` -> `events` (`(bucket, table or spill path)`), dead letters, stats."""

    def __init__(
        self,
        spec: EventReadSpec,
        config: EventsConfig,
        spill_dir: str | None = None,
        label: str | None = None,
    ):
        super().__init__(label)
        self._spec = spec
        self._config = config
        self._spill_dir = spill_dir

    def expand(self, paths):
        return (
            paths
            | "PlanChunks" >> beam.ParDo(PlanChunksFn(self._spec, self._config.chunk_bytes))
            | "DistributeChunks" >> beam.Reshuffle()
            | "ParseChunks"
            >> beam.ParDo(ParseChunkFn(self._spec, self._config, self._spill_dir)).with_outputs(
                DEAD_LETTER, STATS, main="events"
            )
        )


class GroupEventsByUser(beam.PTransform):
    """`(bucket, table or spill path)` parts -> one `(bucket, sorted deduplicated table)` each."""

    def __init__(self, paths: list[str], spilled: bool = False, label: str | None = None):
        super().__init__(label)
        self._paths = paths
        self._spilled = spilled

    def expand(self, keyed_tables):
        return (
            keyed_tables
            | "GroupByBucket" >> beam.GroupByKey()
            | "Deduplicate"
            >> beam.ParDo(DeduplicateBucketFn(self._paths, self._spilled)).with_outputs(
                DEAD_LETTER, main="buckets"
            )
        )


class FilterMinCounts(beam.PTransform):
    """Iterative user/item min-count filtering, unrolled as `config.filter_rounds` rounds.

    Returns a dict: `buckets`, `dead_letter` (list of PCollections), `stats` (list).
    """

    def __init__(self, config: EventsConfig, paths: list[str], label: str | None = None):
        super().__init__(label)
        self._config = config
        self._paths = paths

    def expand(self, buckets):
        dead, stats = [], []
        for round_index in range(self._config.filter_rounds):
            counts = (
                buckets
                | f"CountItems{round_index}" >> beam.ParDo(CountItemsFn())
                | f"SumItemCounts{round_index}"
                >> beam.CombineGlobally(MergeCountTablesFn("item_id"))
            )
            result = buckets | f"FilterRound{round_index}" >> beam.ParDo(
                FilterRoundFn(self._config, self._paths, round_index),
                beam.pvalue.AsSingleton(counts),
            ).with_outputs(DEAD_LETTER, STATS, main="buckets")
            buckets = result.buckets
            dead.append(result[DEAD_LETTER])
            stats.append(result[STATS])
        return {"buckets": buckets, DEAD_LETTER: dead, STATS: stats}


class BuildSequences(beam.PTransform):
    """`(bucket, events)` -> outputs `sequences`, `dead_letter`, `stats`, `item_counts`."""

    def __init__(
        self,
        config: EventsConfig,
        has_event_types: bool,
        paths: list[str],
        label: str | None = None,
    ):
        super().__init__(label)
        self._config = config
        self._has_event_types = has_event_types
        self._paths = paths

    def expand(self, buckets):
        return buckets | "BuildPerBucket" >> beam.ParDo(
            BuildSequencesFn(self._config, self._has_event_types, self._paths)
        ).with_outputs(DEAD_LETTER, STATS, ITEM_COUNTS, main="sequences")


class EventsToSequences(beam.PTransform):
    """The events transformation: `(file_index, path)` -> sequences, vocab, dead letters, stats.

    Returns a dict of PCollections: `sequences` (tables of `sequences.SEQUENCE_SCHEMA`),
    `item_counts` (one `(item_id, count)` table), `dead_letter` (tables), `stats` (one dict of
    partial counts without the dead letters, which `WriteDeadLetters` counts).

    `spill_dir` is required with `config.shuffle == "files"`: a folder every worker can write
    and read (the caller removes it once the pipeline has run; see `pipeline.spill`).
    """

    def __init__(
        self,
        spec: EventReadSpec,
        config: EventsConfig,
        paths: list[str],
        spill_dir: str | None = None,
        label: str | None = None,
    ):
        super().__init__(label)
        if config.num_buckets == AUTO_BUCKETS:
            raise ValueError(
                "Expected num_buckets resolved for the input (EventsConfig.with_input_size). "
                f"Received: num_buckets={config.num_buckets}"
            )
        if config.shuffle == "files" and not spill_dir:
            raise ValueError(
                f"Expected a spill_dir with shuffle='files'. Received: spill_dir={spill_dir!r}"
            )
        self._spec = spec
        self._config = config
        self._paths = paths
        self._spill_dir = spill_dir if config.shuffle == "files" else None

    def expand(self, file_paths):
        spilled = self._spill_dir is not None
        read = file_paths | "ReadEventLog" >> ReadEventLog(
            self._spec, self._config, self._spill_dir
        )
        grouped = read.events | "GroupEventsByUser" >> GroupEventsByUser(self._paths, spilled)
        buckets = grouped.buckets
        dead = [read[DEAD_LETTER], grouped[DEAD_LETTER]]
        stats = [read[STATS]]
        if self._config.filtering:
            filtered = buckets | "FilterMinCounts" >> FilterMinCounts(self._config, self._paths)
            buckets = filtered["buckets"]
            dead.extend(filtered[DEAD_LETTER])
            stats.extend(filtered[STATS])
        built = buckets | "BuildSequences" >> BuildSequences(
            self._config, "event_type" in self._spec.fields_present, self._paths
        )
        dead.append(built[DEAD_LETTER])
        stats.append(built[STATS])
        vocabulary = built[ITEM_COUNTS] | "SumVocabulary" >> beam.CombineGlobally(
            MergeCountTablesFn("item_id")
        )
        all_stats = (
            stats
            | "FlattenStats" >> beam.Flatten()
            | "SumStats" >> beam.CombineGlobally(SumCountsFn())
        )
        all_dead = dead | "FlattenDeadLetters" >> beam.Flatten()
        return {
            "sequences": built.sequences,
            "item_counts": vocabulary,
            DEAD_LETTER: all_dead,
            STATS: all_stats,
        }
