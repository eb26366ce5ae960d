"""The news and chats pipelines: a text log -> cleaned, tokenised texts, token vocabulary, stats.

Python API (what `seqlens pipeline news|chats`, the demo, the alerts part and Airflow call):

```python
from pipeline.texts import TextColumns, run_news_pipeline
stats = run_news_pipeline("tweets.jsonl.gz", "data/news", input_format="jsonl",
                          columns=TextColumns.news(timestamp_column="created_at",
                                                   author_column="user_id"))
```

Output layout (docs/CONTRACTS.md): `texts/*.parquet`, `vocab/tokens.parquet`, `stats.json`,
`dead_letter/*.parquet`, `run.json`.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import apache_beam as beam
import pyarrow as pa

from pipeline import outputs, sources, staging
from pipeline.beam_common import WriteArrowTables, parquet_bytes, write_bytes
from pipeline.runner import DEFAULT_RUNNER, make_runner, pipeline_options
from pipeline.text_formats import TEXT_FORMATS, TextColumns, resolve_text_format
from pipeline.text_transforms import DEAD_LETTER, STATS, TextsToTokens, texts_schema
from pipeline.timestamps import TimestampRange


def _write_token_vocabulary(counts: pa.Table, output_dir: str) -> int:
    vocabulary = outputs.sort_vocabulary(counts, "token")
    write_bytes(f"{output_dir}/vocab/tokens.parquet", parquet_bytes(vocabulary))
    return vocabulary.num_rows


def run_text_pipeline(
    kind: str,
    input_path: str | Path,
    output_dir: str | Path,
    input_format: str = "csv",
    columns: TextColumns | None = None,
    plausible: TimestampRange | None = None,
    delimiter: str = ",",
    num_buckets: int = 8,
    runner: str = DEFAULT_RUNNER,
    pipeline_args: list[str] | None = None,
) -> dict[str, Any]:
    """Run the `news` or `chats` pipeline; returns the statistics (content of `stats.json`).

    Args:
        kind: `news` or `chats`.
        input_path: a log file, a folder of them or a glob; `.gz` is decompressed.
        output_dir: the run folder to (re)write: written beside it and swapped in when complete,
            under a lock that makes a second run on the same folder fail (`pipeline.staging`).
        input_format: `csv` or `jsonl`.
        columns: input column names (`TextColumns.news(...)` / `TextColumns.chats(...)`).
        plausible: plausible timestamp range (default 1990-01-01 .. now + 1 day).
        delimiter: CSV delimiter.
        num_buckets: buckets texts are grouped into for deduplication.
        runner: Beam runner name (see `pipeline.runner`).
        pipeline_args: Beam options passed through.
    """
    if kind not in ("news", "chats"):
        raise ValueError(f"Expected kind to be 'news' or 'chats'. Received: kind={kind!r}")
    if input_format not in TEXT_FORMATS:
        raise ValueError(
            f"Expected format to be one of {', '.join(TEXT_FORMATS)}. Received: "
            f"format={input_format!r}"
        )
    if num_buckets < 1:
        raise ValueError(f"Expected num_buckets >= 1. Received: num_buckets={num_buckets}")
    columns = columns or (TextColumns.news() if kind == "news" else TextColumns.chats())
    if columns.kind != kind:
        raise ValueError(f"Expected {kind} columns. Received: columns.kind={columns.kind!r}")
    plausible = plausible or TimestampRange()
    input_path, output_dir = str(input_path), str(output_dir).rstrip("/")
    paths = sources.match_inputs(input_path)
    spec = resolve_text_format(input_format, paths, columns, delimiter)
    schema = texts_schema(columns, spec)
    sources.check_compressed_inputs(paths)
    run_info = {
        "pipeline": kind,
        "input": input_path,
        "inputs": paths,
        "format": input_format,
        "columns": asdict(columns),
        "extra_columns": list(spec.extras),
        "delimiter": delimiter,
        "plausible_timestamps": asdict(plausible),
        "num_buckets": num_buckets,
        "runner": runner,
        "pipeline_args": list(pipeline_args or []),
    }
    with staging.staged_output(output_dir) as target:
        outputs.prepare_output_dir(target, ("texts", "vocab", "dead_letter"))
        options = pipeline_options(runner, pipeline_args or [])
        started = time.time()
        pipeline = beam.Pipeline(runner=make_runner(runner, options), options=options)
        result = (
            pipeline
            | "ListInputs" >> beam.Create(list(enumerate(paths)))
            | "TextsToTokens" >> TextsToTokens(columns, spec, plausible, paths, num_buckets)
        )
        _ = result["texts"] | "WriteTexts" >> WriteArrowTables(f"{target}/texts", schema)
        token_total = result["token_counts"] | "WriteTokenVocabulary" >> beam.Map(
            _write_token_vocabulary, target
        )
        _ = (
            result[STATS],
            result[DEAD_LETTER],
            token_total,
        ) | "WriteRunStats" >> outputs.WriteRunStats(
            target, {"rows_in": 0, "rows_out": 0, "texts": 0}, vocabulary_key="tokens"
        )
        run_info["metrics"] = outputs.run_checked(pipeline)
        run_info["seconds"] = round(time.time() - started, 3)
        outputs.finish_output_dir(target, {"texts": schema}, run_info)
    if "://" in output_dir:
        return {}
    return json.loads(Path(output_dir, "stats.json").read_text())


def run_news_pipeline(
    input_path: str | Path, output_dir: str | Path, **options: Any
) -> dict[str, Any]:
    """`run_text_pipeline("news", ...)`."""
    return run_text_pipeline("news", input_path, output_dir, **options)


def run_chats_pipeline(
    input_path: str | Path, output_dir: str | Path, **options: Any
) -> dict[str, Any]:
    """`run_text_pipeline("chats", ...)`."""
    return run_text_pipeline("chats", input_path, output_dir, **options)
