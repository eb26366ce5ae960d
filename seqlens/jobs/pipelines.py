"""What `seqlens pipeline events|news|chats` and the batch step `run_pipeline` share around the
Beam pipelines (`pipeline.events.run_events_pipeline`, `pipeline.texts.run_text_pipeline`): the
input check that fails fast, before Beam is imported, and the one-line summary of a run.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from pipeline.formats import EVENT_FORMATS, TEXT_FORMATS

# The formats of `--item-features` (`pipeline.item_features.ITEM_FEATURE_FORMATS`; that module
# imports Beam, so the names are repeated here and a test checks they agree).
ITEM_FEATURE_FORMATS = ("auto", "s3rec-json", "movielens", "csv")

__all__ = [
    "EVENT_FORMATS",
    "ITEM_FEATURE_FORMATS",
    "TEXT_FORMATS",
    "check_item_features_input",
    "check_pipeline_input",
    "pipeline_summary",
]


def check_pipeline_input(
    input_path: str | Path, input_format: str, formats: tuple[str, ...]
) -> None:
    """Fail fast on an unknown format or a missing local input (globs and URLs are not checked).

    Args:
        input_path: the input file, folder, glob or URL.
        input_format: the input's format.
        formats: the formats the pipeline reads.
    """
    if input_format not in formats:
        raise ValueError(
            f"Expected --format to be one of {', '.join(formats)}. "
            f"Received: format={input_format!r}"
        )
    text = str(input_path)
    local = "://" not in text and not any(char in text for char in "*?[")
    if local and not os.path.exists(text):
        raise FileNotFoundError(f"Expected an existing input path. Received: input={text!r}")


def check_item_features_input(path: str | Path | None) -> None:
    """Fail fast on a missing `--item-features` file (`None`: no features asked for)."""
    if path is not None and not os.path.isfile(str(path)):
        raise FileNotFoundError(
            f"Expected an existing item feature file. Received: item_features={str(path)!r}"
        )


def pipeline_summary(stats: dict) -> str:
    """One JSON line: the run's counts and its dead letters by reason."""
    summary = {key: value for key, value in stats.items() if not isinstance(value, dict)}
    summary["dead_by_reason"] = stats.get("dead_by_reason", {})
    return json.dumps(summary)
