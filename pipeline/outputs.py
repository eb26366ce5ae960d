"""Run folders: preparing them, `stats.json`, vocabularies, `run.json`.

`write_stats` turns the summed partial counts of a run into the `stats.json` of
docs/CONTRACTS.md; `finish_output_dir` runs after the pipeline, on the launching machine, and
makes sure every Parquet folder holds at least one (possibly empty) file so that
`pandas.read_parquet(folder)` always works.
"""

from __future__ import annotations

import json
from typing import Any

import apache_beam as beam
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from pipeline import dead_letter, sources
from pipeline.beam_common import SumCountsFn, WriteDeadLetters, parquet_bytes, write_bytes
from pipeline.runner import run_pipeline

__all__ = [
    "SumCountsFn",
    "WriteRunStats",
    "prepare_output_dir",
    "finish_output_dir",
    "write_stats",
    "sort_vocabulary",
    "run_checked",
]


def _filesystems():
    from apache_beam.io.filesystems import FileSystems

    return FileSystems


def prepare_output_dir(output_dir: str, folders: tuple[str, ...]) -> None:
    """Create `output_dir` and remove the previous run's `folders`, `stats.json` and `run.json`."""
    filesystems = _filesystems()
    if filesystems.exists(output_dir) and "://" not in output_dir:
        import os

        if not os.path.isdir(output_dir):
            raise ValueError(f"Expected the output to be a folder. Received: output={output_dir!r}")
    stale = [f"{output_dir}/{name}" for name in folders + ("stats.json", "run.json")]
    stale = [path for path in stale if filesystems.exists(path)]
    if stale:
        filesystems.delete(stale)
    if "://" not in output_dir:
        import os

        os.makedirs(output_dir, exist_ok=True)


def finish_output_dir(
    output_dir: str, schemas: dict[str, pa.Schema], run_info: dict[str, Any]
) -> None:
    """Write empty Parquet files into empty output folders and write `run.json`."""
    filesystems = _filesystems()
    schemas = {**schemas, "dead_letter": dead_letter.DEAD_LETTER_SCHEMA}
    for folder, schema in schemas.items():
        pattern = f"{output_dir}/{folder}/*.parquet"
        if not filesystems.match([pattern])[0].metadata_list:
            write_bytes(
                f"{output_dir}/{folder}/part-00000-of-00001.parquet",
                parquet_bytes(schema.empty_table()),
            )
    write_bytes(
        f"{output_dir}/run.json", json.dumps(run_info, indent=2, default=str).encode("utf-8")
    )


def sort_vocabulary(counts: pa.Table, key: str) -> pa.Table:
    """`(key, count)` sorted by count descending, then key ascending."""
    order = pc.sort_indices(counts, sort_keys=[("count", "descending"), (key, "ascending")])
    sorted_counts = counts.take(order)
    return pa.table(
        {
            key: sorted_counts.column(key).cast(pa.string()),
            "count": sorted_counts.column("count").cast(pa.int64()),
        }
    )


def length_distribution(length_counts: dict[str, int]) -> dict[str, Any]:
    """Summary of a `{length: users}` histogram: min, max, mean, quantiles, the histogram."""
    if not length_counts:
        return {"min": 0, "max": 0, "mean": 0.0, "p50": 0, "p90": 0, "p99": 0, "histogram": {}}
    lengths = np.array(sorted(int(length) for length in length_counts), dtype=np.int64)
    counts = np.array([length_counts[str(length)] for length in lengths], dtype=np.int64)
    cumulative = np.cumsum(counts)
    total = int(cumulative[-1])

    def quantile(share: float) -> int:
        return int(lengths[np.searchsorted(cumulative, share * total, side="left")])

    return {
        "min": int(lengths[0]),
        "max": int(lengths[-1]),
        "mean": round(float((lengths * counts).sum() / total), 3),
        "p50": quantile(0.5),
        "p90": quantile(0.9),
        "p99": quantile(0.99),
        "histogram": {
            str(length): int(count) for length, count in zip(lengths, counts, strict=True)
        },
    }


def summarize_stats(partial: dict[str, Any]) -> dict[str, Any]:
    """The `stats.json` content from summed partial counts."""
    dead_by_reason = dict(sorted(partial.get("dead_by_reason", {}).items()))
    rows_in = int(partial.get("rows_in", 0))
    rows_out = int(partial.get("rows_out", 0))
    rows_dead = int(sum(dead_by_reason.values()))
    stats: dict[str, Any] = {
        "rows_in": rows_in,
        "rows_out": rows_out,
        "rows_dead": rows_dead,
        "dead_by_reason": dead_by_reason,
        "balanced": rows_in == rows_out + rows_dead,
    }
    for key in ("users", "items", "texts", "tokens", "conversations", "tickers"):
        if key in partial:
            stats[key] = int(partial[key])
    if "length_counts" in partial:
        stats["sequence_length"] = length_distribution(partial["length_counts"])
    if "token_length_counts" in partial:
        stats["text_length_tokens"] = length_distribution(partial["token_length_counts"])
    if "filter_removed_by_round" in partial:
        removed = {
            int(key): int(value) for key, value in partial["filter_removed_by_round"].items()
        }
        stats["filter_removed_by_round"] = [removed[key] for key in sorted(removed)]
        stats["filter_converged"] = removed[max(removed)] == 0
    return stats


def write_stats(partial: dict[str, Any], output_dir: str) -> dict[str, Any]:
    """Summarise and write `stats.json`; returns the summary."""
    stats = summarize_stats(partial)
    write_bytes(f"{output_dir}/stats.json", json.dumps(stats, indent=2).encode("utf-8"))
    return stats


class WriteRunStats(beam.PTransform):
    """Write the dead letters, then sum every partial count into `stats.json`.

    Applied to `(stats, dead_letters, vocabulary_size)`: the run's partial count dicts, its
    dead-letter records (written to `<output_dir>/dead_letter` and counted by reason) and the
    one-element size of its vocabulary (recorded under `vocabulary_key`).

    Args:
        output_dir: the run folder that receives `stats.json` and `dead_letter/`.
        zero: the keys (with value 0) every `stats.json` of this kind of run has.
        vocabulary_key: the `stats.json` key of the vocabulary size (`items`, `tokens`).
    """

    def __init__(self, output_dir: str, zero: dict[str, int], vocabulary_key: str):
        super().__init__()
        self.output_dir = output_dir
        self.zero = zero
        self.vocabulary_key = vocabulary_key

    def expand(self, inputs):
        stats, dead_letters, vocabulary_size = inputs
        dead_counts = dead_letters | "WriteDeadLetters" >> WriteDeadLetters(
            f"{self.output_dir}/dead_letter"
        )
        key = self.vocabulary_key
        vocabulary_stat = vocabulary_size | "VocabularyStat" >> beam.Map(lambda size: {key: size})
        zero = stats.pipeline | "ZeroStats" >> beam.Create([self.zero])
        return (
            (zero, stats, dead_counts, vocabulary_stat)
            | "FlattenAllStats" >> beam.Flatten()
            | "SumAllStats" >> beam.CombineGlobally(SumCountsFn())
            | "WriteStats" >> beam.Map(write_stats, self.output_dir)
        )


def run_checked(pipeline) -> dict[str, int]:
    """`runner.run_pipeline`, with a worker's `CorruptInputError` re-raised as that error.

    Beam may wrap an exception raised in a DoFn; a truncated or corrupt compressed input then
    surfaces as the one-line `ValueError` that names the file, not as a runner traceback.
    """
    try:
        return run_pipeline(pipeline)
    except Exception as error:
        corrupt = sources.corrupt_input_error(error)
        if corrupt is None:
            raise
        raise sources.CorruptInputError(corrupt.path, corrupt.detail) from None
