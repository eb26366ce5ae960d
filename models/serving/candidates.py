"""A trained model folder, whatever its kind, as a gate candidate or an ungated exporter.

`model_kind` reads the kind from the folder's files (see docs/CONTRACTS.md);
`candidate_from_model_dir` builds the `ServingCandidate` that `publish_model` gates, and
`savedmodel_writer` the exporter `seqlens export` uses without the gate. Both hand the work to
the per-kind modules (`models.serving.recommender_candidate`, `models.serving.text_candidate`),
so a gated and an ungated export of one folder write the same SavedModel.
"""

from __future__ import annotations

from pathlib import Path

from models.serving.candidate import SavedModelWriter, ServingCandidate
from models.serving.gate import DEFAULT_GATE_REQUESTS, DEFAULT_SCORE_TOLERANCE, TEXT_TASKS
from models.serving.held_out import read_json
from models.serving.recommender_candidate import (
    recommender_candidate_from_model_dir,
    recommender_writer_from_model_dir,
)
from models.serving.text_candidate import text_candidate_from_model_dir, text_writer_from_model_dir

__all__ = ["candidate_from_model_dir", "model_kind", "savedmodel_writer"]


def model_kind(model_dir: str | Path) -> str:
    """`recommender`, `sentiment` or `intent`, from the files of a trained model folder."""
    model_dir = Path(model_dir)
    if (model_dir / "item_vocab.txt").exists():
        return "recommender"
    task = read_json(model_dir / "config.json").get("task")
    if (model_dir / "labels.json").exists() and task in TEXT_TASKS:
        return task
    raise FileNotFoundError(
        "Expected a trained model folder (item_vocab.txt for a recommender, "
        f"labels.json + config.json for a text model). Received: model={str(model_dir)!r}"
    )


def candidate_from_model_dir(
    model_dir: str | Path,
    data: str | Path | None = None,
    num_requests: int = DEFAULT_GATE_REQUESTS,
    seed: int = 0,
    score_tolerance: float = DEFAULT_SCORE_TOLERANCE,
    jit_compile: bool = False,
) -> ServingCandidate:
    """The gate candidate of any trained model folder (kind from its files); `jit_compile`
    (XLA-compiled numeric core) applies to recommenders only."""
    if model_kind(model_dir) == "recommender":
        return recommender_candidate_from_model_dir(
            model_dir,
            data,
            num_users=num_requests,
            seed=seed,
            score_tolerance=score_tolerance,
            jit_compile=jit_compile,
        )
    _reject_xla_for_text_models(model_dir, jit_compile)
    return text_candidate_from_model_dir(
        model_dir, data, num_texts=num_requests, seed=seed, tolerance=score_tolerance
    )


def savedmodel_writer(
    model_dir: str | Path, kind: str | None = None, jit_compile: bool = False
) -> tuple[str, SavedModelWriter]:
    """`(kind, write(export_dir, name))` for a trained model folder: export without the gate.

    Args:
        model_dir: the trained model folder.
        kind: the kind the caller expects (`recommender`, `sentiment`, `intent`), or `None`.
        jit_compile: XLA-compiled numeric core, recommenders only.

    Returns:
        The folder's kind and its exporter (metadata: the folder and its served metrics).
    """
    model_dir = Path(model_dir)
    found = model_kind(model_dir)
    if kind is not None and kind != found:
        raise ValueError(
            f"Expected a {kind} model folder. Received: model={str(model_dir)!r} (a {found} model)"
        )
    if found == "recommender":
        return found, recommender_writer_from_model_dir(model_dir, jit_compile=jit_compile)
    _reject_xla_for_text_models(model_dir, jit_compile)
    return found, text_writer_from_model_dir(model_dir)


def _reject_xla_for_text_models(model_dir: str | Path, jit_compile: bool) -> None:
    if jit_compile:
        raise ValueError(
            "Expected --xla only for a recommender. "
            f"Received: model={str(model_dir)!r} (a text model folder)"
        )
