"""The events pipeline: an event log -> per-user sequences, item vocabulary, stats, dead letters.

Python API (what `seqlens pipeline events`, the demo and the Airflow DAG call):

```python
from pipeline.events import run_events_pipeline
stats = run_events_pipeline("raw/events.csv", "data/events", input_format="csv")
```

Output layout (docs/CONTRACTS.md): `sequences/*.parquet`, `vocab/items.parquet`,
`vocab/items.txt`, `stats.json`, `dead_letter/*.parquet`, `run.json`.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import apache_beam as beam
import numpy as np
import pyarrow as pa

from pipeline import outputs, sources, spill, staging
from pipeline.beam_common import WriteArrowTables, parquet_bytes, write_bytes
from pipeline.event_formats import EVENT_FORMATS, EventColumns, resolve_event_format
from pipeline.event_transforms import DEAD_LETTER, STATS, EventsConfig, EventsToSequences
from pipeline.item_features import resolve_item_feature_format, write_item_features
from pipeline.runner import DEFAULT_RUNNER, make_runner, pipeline_options
from pipeline.sequences import SEQUENCE_SCHEMA


class WriteVocabulary(beam.PTransform):
    """One `(item_id, count)` table -> `vocab/items.parquet` and `vocab/items.txt`."""

    def __init__(self, output_dir: str, label: str | None = None):
        super().__init__(label)
        self._output_dir = output_dir

    def expand(self, counts):
        return counts | "WriteItemVocabulary" >> beam.Map(_write_vocabulary, self._output_dir)


def _write_vocabulary(counts: pa.Table, output_dir: str) -> int:
    vocabulary = outputs.sort_vocabulary(counts, "item_id")
    write_bytes(f"{output_dir}/vocab/items.parquet", parquet_bytes(vocabulary))
    lines = "".join(f"{item}\n" for item in vocabulary.column("item_id").to_pylist())
    write_bytes(f"{output_dir}/vocab/items.txt", lines.encode("utf-8"))
    return vocabulary.num_rows


def run_events_pipeline(
    input_path: str | Path,
    output_dir: str | Path,
    input_format: str = "csv",
    columns: EventColumns | None = None,
    config: EventsConfig | None = None,
    delimiter: str = ",",
    runner: str = DEFAULT_RUNNER,
    pipeline_args: list[str] | None = None,
    item_features: str | Path | None = None,
    item_features_format: str = "auto",
) -> dict[str, Any]:
    """Run the events pipeline and return its statistics (the content of `stats.json`).

    Args:
        input_path: an event log file, a folder of them, or a glob (local or `gs://`...).
        output_dir: the run folder to (re)write: written beside it and swapped in when complete,
            under a lock that makes a second run on the same folder fail (`pipeline.staging`).
        input_format: one of `pipeline.formats.EVENT_FORMATS`: `csv`, `jsonl`, `parquet`,
            `movielens`, `sasrec` (`user item` lines) or `sequence-lines` (`user item item ...`).
        columns: input column names (csv, jsonl, parquet).
        config: filtering, truncation, split and performance options.
        delimiter: field delimiter of `csv` logs.
        runner: Beam runner name (`FnApiRunner` by default; see `pipeline.runner`).
        pipeline_args: Beam options passed through, e.g. `["--direct_num_workers=2"]`.
        item_features: optional item feature file (local), written into `vocab/` by
            `pipeline.item_features.write_item_features` before the run folder is swapped in.
        item_features_format: one of `pipeline.item_features.ITEM_FEATURE_FORMATS`.
    """
    if input_format not in EVENT_FORMATS:
        raise ValueError(
            f"Expected format to be one of {', '.join(EVENT_FORMATS)}. Received: "
            f"format={input_format!r}"
        )
    columns = columns or EventColumns()
    config = config or EventsConfig()
    input_path, output_dir = str(input_path), str(output_dir).rstrip("/")
    paths = sources.match_inputs(input_path)
    spec = resolve_event_format(input_format, paths, columns, delimiter)
    sources.check_compressed_inputs(paths)
    config = config.with_input_size(sources.total_bytes(paths))
    if item_features is not None:
        item_features_format = _check_item_features(item_features, item_features_format, output_dir)
    run_info = {
        "pipeline": "events",
        "input": input_path,
        "inputs": paths,
        "format": input_format,
        "columns": asdict(columns),
        "delimiter": delimiter,
        "config": _config_dict(config),
        "fields_present": list(spec.fields_present),
        "runner": runner,
        "pipeline_args": list(pipeline_args or []),
    }
    with staging.staged_output(output_dir) as target:
        outputs.prepare_output_dir(target, ("sequences", "vocab", "dead_letter"))
        options = pipeline_options(runner, pipeline_args or [])
        started = time.time()
        spill_dir = spill.spill_folder(target)
        pipeline = beam.Pipeline(runner=make_runner(runner, options), options=options)
        result = (
            pipeline
            | "ListInputs" >> beam.Create(list(enumerate(paths)))
            | "EventsToSequences" >> EventsToSequences(spec, config, paths, spill_dir)
        )
        _ = result["sequences"] | "WriteSequences" >> WriteArrowTables(
            f"{target}/sequences", SEQUENCE_SCHEMA
        )
        item_total = result["item_counts"] | "WriteVocabulary" >> WriteVocabulary(target)
        _ = (
            result[STATS],
            result[DEAD_LETTER],
            item_total,
        ) | "WriteRunStats" >> outputs.WriteRunStats(
            target, {"rows_in": 0, "rows_out": 0, "users": 0}, vocabulary_key="items"
        )
        try:
            run_info["metrics"] = outputs.run_checked(pipeline)
        finally:
            spill.remove_spilled(spill_dir)
        run_info["seconds"] = round(time.time() - started, 3)
        if item_features is not None:
            run_info["item_features"] = str(item_features)
            run_info["item_features_format"] = item_features_format
        outputs.finish_output_dir(target, {"sequences": SEQUENCE_SCHEMA}, run_info)
        if item_features is not None:
            write_item_features(item_features, target, item_features_format)
    return json.loads(Path(output_dir, "stats.json").read_text()) if "://" not in output_dir else {}


def _check_item_features(path: str | Path, item_features_format: str, output_dir: str) -> str:
    """Fail before the pipeline runs: a missing feature file, a bad format, a remote output."""
    if "://" in output_dir:
        raise ValueError(
            f"Expected a local output folder with --item-features. Received: output={output_dir!r}"
        )
    if not Path(path).is_file():
        raise FileNotFoundError(
            f"Expected an existing item feature file. Received: item_features={str(path)!r}"
        )
    return resolve_item_feature_format(path, item_features_format)


def _config_dict(config: EventsConfig) -> dict[str, Any]:
    values = asdict(config)
    return json.loads(
        json.dumps(
            values,
            default=lambda value: value.item() if isinstance(value, np.generic) else str(value),
        )
    )
