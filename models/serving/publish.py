# Over 300 lines on purpose: publish, export_version and rollback share one version protocol.
"""Publish a model to TF Serving behind a validation gate (the TFX Evaluator + Pusher idea).

`publish_candidate` is the whole protocol for any exportable model:

1. export the SavedModel into a hidden staging folder under `<serving_root>/<name>/`;
2. reload it with `tf.saved_model.load` (the loader TF Serving uses) and run the gate:
   outputs match the Keras model on held-out requests, no metric regression against the
   version being served, p99 latency of single requests under a limit, and the SavedModel runs
   in TF Serving's session-based loader with the same answers;
3. if every check passes, rename the staging folder to the next integer version (atomic),
   delete versions beyond the newest `keep`, and log `published`; otherwise delete the staging
   folder, leave the served versions untouched and log `rejected` with the reasons.

A crash anywhere before the rename leaves only a hidden staging folder, which TF Serving
ignores and the next publish deletes. `publish_model` builds the candidate from a trained model
folder (`models.serving.candidates`); `roll_back_model` takes the newest version out of service.
The candidate type, `ServingCandidate`, lives in `models.serving.candidate`.
"""

from __future__ import annotations

import logging
import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from models.serving import versions as serving_versions
from models.serving.candidate import SavedModelWriter, ServingCandidate
from models.serving.candidates import candidate_from_model_dir
from models.serving.gate import (
    DEFAULT_GATE_REQUESTS,
    DEFAULT_KEEP,
    DEFAULT_LATENCY_P99_MS,
    DEFAULT_LATENCY_REQUESTS,
    DEFAULT_METRIC_TOLERANCE,
    DEFAULT_SCORE_TOLERANCE,
    GateCheck,
    check_latency,
    check_session_loader,
    compare_metric,
    find_metric,
)

logger = logging.getLogger(__name__)


@dataclass
class PublishDecision:
    """What happened: `decision` is `published`, `rejected` or `rolled_back`."""

    name: str
    version: int | None
    decision: str
    reasons: list[str] = field(default_factory=list)
    checks: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)
    path: str | None = None
    time: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def published(self) -> bool:
        return self.decision == "published"

    def log_entry(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "version": self.version,
            "time": self.time,
            "decision": self.decision,
            "reasons": self.reasons,
            "checks": self.checks,
            "metrics": self.metrics,
            "path": self.path,
            **self.extra,
        }

    def summary(self) -> str:
        if self.decision == "published":
            return f"published {self.name} version {self.version} at {self.path}"
        if self.decision == "rolled_back":
            return (
                f"rolled back {self.name}: version {self.extra.get('retired_version')} retired, "
                f"now serving version {self.version}"
            )
        return f"rejected {self.name} version {self.version}: " + "; ".join(self.reasons)


def publish_candidate(
    candidate: ServingCandidate,
    serving_root: str | Path,
    name: str,
    *,
    version: int | None = None,
    keep: int = DEFAULT_KEEP,
    metric_tolerance: float = DEFAULT_METRIC_TOLERANCE,
    latency_p99_ms: float = DEFAULT_LATENCY_P99_MS,
    latency_requests: int = DEFAULT_LATENCY_REQUESTS,
    before_commit: Callable[[Path], None] | None = None,
    progress: Callable[[str], None] | None = None,
) -> PublishDecision:
    """Export, gate and (if it passes) atomically publish `candidate` as
    `<serving_root>/<name>/<version>`.

    The whole publish holds the serving root's lock (`versions.serving_root_lock`): a second
    publish on the same root waits, then gates against what this one published. After the
    rename nothing can stop the log line and the `models.config` rewrite: a failure to delete
    old versions is logged (`pruned_error`), not raised.

    Args:
        candidate: the model to publish.
        serving_root: TF Serving's model root (`layout.serving_root`).
        name: the servable name (a folder under `serving_root`; TF Serving's naming rule).
        version: the version number; default one more than any number used before.
        keep: how many published versions to keep (the newest ones) for rollback.
        metric_tolerance: allowed absolute drop of `candidate.metric` against the served version.
        latency_p99_ms: p99 limit for single requests through the reloaded signature.
        latency_requests: how many single requests the latency check times.
        before_commit: test hook, called with the staging folder just before the rename.
        progress: called with the name of each step reached (`PUBLISH_STEPS`, `retired:<n>`),
            for fault injection and progress reports.

    Returns:
        The `PublishDecision` (also appended to `<serving_root>/publish_log.jsonl`).

    Raises:
        ValueError: for a bad `keep`, `name` or `version`, or a symbolic link where a version
            or staging folder would be (nothing is changed then).
    """
    if keep < 1:
        raise ValueError(f"Expected keep >= 1. Received: keep={keep}")
    base_path = serving_versions.model_base_path(serving_root, name)
    step = progress or (lambda _: None)
    step("lock")
    with serving_versions.serving_root_lock(serving_root):
        step("locked")
        chosen = _prepare(serving_root, name, base_path, version)
        step("prepared")
        decision = _stage_gate_commit(
            candidate,
            serving_root,
            name,
            base_path,
            chosen,
            keep=keep,
            metric_tolerance=metric_tolerance,
            latency_p99_ms=latency_p99_ms,
            latency_requests=latency_requests,
            before_commit=before_commit,
            step=step,
        )
        serving_versions.append_publish_log(serving_root, decision.log_entry())
        step("logged")
        if decision.published:
            _write_models_config_logged(serving_root)
            step("config_written")
    step("unlocked")
    return decision


PUBLISH_STEPS = (
    "lock",
    "locked",
    "prepared",
    "staged",
    "gated",
    "decision_recorded",
    "before_rename",
    "committed",
    "pruned",
    "logged",
    "config_written",
    "unlocked",
)


def _prepare(serving_root: str | Path, name: str, base_path: Path, version: int | None) -> int:
    """Under the lock: refuse symlinks, log versions a killed publish left unlogged, delete
    stale staging folders, and choose the version number."""
    serving_versions.refuse_symlinks(base_path)
    recovered = serving_versions.log_unlogged_versions(serving_root, name)
    if recovered:
        logger.warning("logged versions an interrupted publish left unlogged: %s", recovered)
        _write_models_config_logged(serving_root)
    stale = serving_versions.remove_stale_staging(base_path)
    if stale:
        logger.warning("removed leftovers of interrupted publishes: %s", stale)
    chosen = serving_versions.next_version(base_path) if version is None else int(version)
    if chosen < 1 or os.path.lexists(base_path / str(chosen)):
        raise ValueError(f"Expected a new positive version number. Received: version={version}")
    return chosen


def _stage_gate_commit(
    candidate: ServingCandidate,
    serving_root: str | Path,
    name: str,
    base_path: Path,
    chosen: int,
    *,
    keep: int,
    metric_tolerance: float,
    latency_p99_ms: float,
    latency_requests: int,
    before_commit: Callable[[Path], None] | None,
    step: Callable[[str], None],
) -> PublishDecision:
    import tensorflow as tf

    served = serving_versions.latest_version(base_path)
    served_metrics = (
        serving_versions.read_export_metadata(base_path / str(served)).get("metrics", {})
        if served is not None
        else None
    )
    staged = serving_versions.staging_dir(base_path, chosen)
    checks: dict[str, GateCheck] = {}
    try:
        candidate.write_savedmodel(staged, name)
        metadata = serving_versions.read_export_metadata(staged)
        serving_versions.write_export_metadata(
            staged,
            {
                **metadata,
                "metrics": dict(candidate.metrics),
                "source": serving_versions.portable_path(candidate.source, serving_root),
                "version": chosen,
                "exported_at": _now(),
            },
        )
        step("staged")
        checks["no_metric_regression"] = compare_metric(
            _headline(candidate.metrics, candidate.metric),
            None if served_metrics is None else _headline(served_metrics, candidate.metric),
            candidate.metric,
            metric_tolerance,
        )
        try:
            loaded = tf.saved_model.load(str(staged))
            checks["matches_keras"] = candidate.compare_with_keras(loaded)
            signature = loaded.signatures["serving_default"]
            inputs = {key: tf.constant(value) for key, value in candidate.latency_inputs.items()}
            checks["latency"] = check_latency(
                lambda: signature(**inputs), latency_p99_ms, repeats=latency_requests
            )
            expected = {key: value.numpy() for key, value in signature(**inputs).items()}
            checks["session_loader"] = check_session_loader(
                str(staged), candidate.latency_inputs, expected
            )
        except (tf.errors.OpError, ValueError, TypeError, KeyError) as error:
            checks["reload"] = GateCheck(
                "reload",
                False,
                f"the reloaded SavedModel failed: {type(error).__name__}: "
                f"{str(error).splitlines()[0] if str(error) else ''}",
            )
        step("gated")
        reasons = [check.reason for check in checks.values() if not check.passed]
        decision = PublishDecision(
            name=name,
            version=chosen,
            decision="rejected" if reasons else "published",
            reasons=reasons,
            checks={key: check.to_json() for key, check in checks.items()},
            metrics=dict(candidate.metrics),
            time=_now(),
            extra={
                "kind": candidate.kind,
                "source": candidate.source,
                "previous_version": served,
                "metric": candidate.metric,
            },
        )
        if not reasons:
            decision.path = str(base_path / str(chosen))
            serving_versions.record_decision(
                staged,
                {
                    **decision.log_entry(),
                    "path": serving_versions.portable_path(decision.path, serving_root),
                    "source": serving_versions.portable_path(candidate.source, serving_root),
                },
            )
            step("decision_recorded")
            if before_commit is not None:
                before_commit(staged)
            step("before_rename")
            serving_versions.commit_version(staged, base_path, chosen)
            step("committed")
            _prune_logged(base_path, keep, decision, step)
            step("pruned")
    finally:
        if staged.exists() and not staged.is_symlink():
            shutil.rmtree(staged)
    return decision


def _prune_logged(
    base_path: Path, keep: int, decision: PublishDecision, step: Callable[[str], None]
) -> None:
    """Delete old versions after a commit; a failure is recorded in the decision, not raised:
    the new version is live and must be logged."""
    try:
        decision.extra["pruned_versions"] = serving_versions.prune_versions(
            base_path, keep, progress=step
        )
    except (OSError, ValueError) as error:
        logger.warning("published %s but could not delete old versions: %s", base_path, error)
        decision.extra["pruned_versions"] = []
        decision.extra["pruned_error"] = f"{type(error).__name__}: {error}"


def _write_models_config_logged(serving_root: str | Path) -> None:
    try:
        serving_versions.write_models_config(serving_root)
    except (OSError, ValueError) as error:
        logger.warning("could not rewrite models.config under %s: %s", serving_root, error)


def publish_model(
    model_dir: str | Path,
    serving_root: str | Path,
    name: str,
    *,
    data: str | Path | None = None,
    metric_tolerance: float = DEFAULT_METRIC_TOLERANCE,
    keep: int = DEFAULT_KEEP,
    latency_p99_ms: float = DEFAULT_LATENCY_P99_MS,
    version: int | None = None,
    num_requests: int = DEFAULT_GATE_REQUESTS,
    seed: int = 0,
    score_tolerance: float = DEFAULT_SCORE_TOLERANCE,
    jit_compile: bool = False,
) -> PublishDecision:
    """Gate and publish a trained model folder (recommender, sentiment or intent): the Python API
    behind `seqlens publish`, for the demo and the Airflow DAG.

    Args:
        model_dir: the trained model folder (kind detected from its files).
        serving_root: TF Serving's model root.
        name: the servable name.
        data: held-out data (events run for the recommender, news/chats run or text file for a
            text model); default: the data run recorded in the model folder.
        metric_tolerance, keep, latency_p99_ms, version: see `publish_candidate`.
        num_requests: held-out users / texts the gate runs.
        seed: seed of the held-out sample.
        score_tolerance: allowed absolute difference between SavedModel and Keras outputs.
        jit_compile: export a recommender's numeric core compiled by XLA (faster on CPU; TF
            Serving then needs `--xla_cpu_compilation_enabled=true`).

    Returns:
        The `PublishDecision`; `models.config` under `serving_root` is rewritten when published.
    """
    candidate = candidate_from_model_dir(
        model_dir,
        data,
        num_requests=num_requests,
        seed=seed,
        score_tolerance=score_tolerance,
        jit_compile=jit_compile,
    )
    decision = publish_candidate(
        candidate,
        serving_root,
        name,
        version=version,
        keep=keep,
        metric_tolerance=metric_tolerance,
        latency_p99_ms=latency_p99_ms,
    )
    return decision


def export_version(
    write_savedmodel: SavedModelWriter,
    serving_root: str | Path,
    name: str,
    version: int | None = None,
) -> Path:
    """Write a version without the gate (`seqlens export`), still staged and renamed atomically
    under the serving root's lock; `models.config` is rewritten."""
    base_path = serving_versions.model_base_path(serving_root, name)
    with serving_versions.serving_root_lock(serving_root):
        chosen = _prepare(serving_root, name, base_path, version)
        staged = serving_versions.staging_dir(base_path, chosen)
        try:
            write_savedmodel(staged, name)
            metadata = serving_versions.read_export_metadata(staged)
            if metadata.get("source"):
                metadata["source"] = serving_versions.portable_path(
                    metadata["source"], serving_root
                )
            serving_versions.write_export_metadata(
                staged, {**metadata, "version": chosen, "exported_at": _now()}
            )
            target = serving_versions.commit_version(staged, base_path, chosen)
        finally:
            if staged.exists() and not staged.is_symlink():
                shutil.rmtree(staged)
        _write_models_config_logged(serving_root)
        return target


def roll_back_model(serving_root: str | Path, name: str) -> PublishDecision:
    """Retire the newest version of `name` so TF Serving goes back to the previous one (logged;
    `models.config` is rewritten), under the serving root's lock."""
    base_path = serving_versions.model_base_path(serving_root, name)
    with serving_versions.serving_root_lock(serving_root):
        serving_versions.refuse_symlinks(base_path)
        serving_versions.log_unlogged_versions(serving_root, name)
        retired, serving = serving_versions.roll_back(base_path)
        decision = PublishDecision(
            name=name,
            version=serving,
            decision="rolled_back",
            reasons=[f"manual rollback: version {retired} retired"],
            checks={},
            metrics=serving_versions.read_export_metadata(base_path / str(serving)).get(
                "metrics", {}
            ),
            path=str(base_path / str(serving)),
            time=_now(),
            extra={"retired_version": retired},
        )
        serving_versions.append_publish_log(serving_root, decision.log_entry())
        _write_models_config_logged(serving_root)
    return decision


def _headline(metrics: dict[str, Any], metric: str) -> dict[str, float]:
    value = find_metric(metrics, metric)
    return {} if value is None else {metric: value}


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
