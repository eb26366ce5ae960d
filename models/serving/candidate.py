"""`ServingCandidate`: the gate's input, one model about to be published.

The candidate builders (`models.serving.recommender_candidate`, `models.serving.text_candidate`)
fill it in; `models.serving.publish.publish_candidate` exports, reloads and gates it. Keeping the
type here, below both, means a builder never imports the publisher.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from models.serving.gate import GateCheck

# Held-out requests go through the reloaded signature (and the Keras model) this many at a time.
GATE_BATCH_SIZE = 256

# `write(export_dir, model_name)`: writes a SavedModel into the new folder `export_dir`.
SavedModelWriter = Callable[[Path, str], Any]


@dataclass
class ServingCandidate:
    """Everything the gate needs to know about one model about to be published.

    Args:
        kind: `recommender`, `sentiment` or `intent`.
        write_savedmodel: `write_savedmodel(export_dir, model_name)` writes the SavedModel
            (with `assets.extra/seqlens_export.json` holding `metrics`) into a new folder.
        compare_with_keras: `compare_with_keras(loaded)` runs the reloaded SavedModel's
            signatures on held-out requests and compares them with the Keras model.
        latency_inputs: one single-request input dict for the latency check.
        metrics: the candidate's metrics.json document (nested or flat; see `find_metric`).
        metric: the headline metric that must not regress (e.g. `ndcg@10`).
        source: where the model came from (its folder), for the log.
    """

    kind: str
    write_savedmodel: SavedModelWriter
    compare_with_keras: Callable[[Any], GateCheck]
    latency_inputs: dict[str, Any]
    metrics: dict[str, Any]
    metric: str
    source: str = ""
