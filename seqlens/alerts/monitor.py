"""The whole monitoring path: read news -> score -> aggregate (Beam) -> detect -> alert.

`run_alerts(news_path, model_dir, output_dir, settings)` is what `seqlens alerts`, the demo and
the Airflow DAG call. It writes into `output_dir`:
`scored.parquet` (news rows + `label, score, confidence, tokens, token_attention`),
`windows.parquet` (per ticker-window statistics, baselines and z scores, `fired`),
`alerts.jsonl` (merged by dedup key: re-running a period never repeats an alert),
`dead_letter.parquet` (rows not used: the pipeline's dead-letter columns + `id`, see
`seqlens.alerts.dead_letters`), `run.json` (settings) and
`summary.json` (counts, new alerts, delivery results), and returns the summary.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from pipeline.runner import DEFAULT_RUNNER
from seqlens.alerts.alert_model import Alert, merge_alerts, unseen_alerts
from seqlens.alerts.dead_letters import empty_dead_letter_frame, write_dead_letters
from seqlens.alerts.detector import MARKET_TICKER, DetectorConfig
from seqlens.alerts.news_log import read_news
from seqlens.alerts.sinks import SINK_KINDS, WebhookSink, make_sink

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class MonitorSettings:
    """Everything `run_alerts` needs besides the paths.

    Args:
        aggregation: window and duplicate / retweet / reach settings (`AggregationConfig`).
        detector: detector settings (`DetectorConfig`).
        sink: where new alerts are delivered besides `alerts.jsonl`: `file`, `stdout`, `webhook`.
        webhook_url: endpoint for `sink="webhook"`.
        webhook_timeout_seconds / webhook_max_attempts / webhook_backoff_seconds: delivery policy.
        top_texts: texts attached to each alert.
        batch_size: texts per scoring call.
        runner: Beam runner for the aggregation.
        scored_path: an already scored table (Parquet with `score`, `label`): skips scoring.
    """

    aggregation: Any = None
    detector: DetectorConfig = field(default_factory=DetectorConfig)
    sink: str = "file"
    webhook_url: str | None = None
    webhook_timeout_seconds: float = 5.0
    webhook_max_attempts: int = 4
    webhook_backoff_seconds: float = 0.5
    top_texts: int = 5
    batch_size: int = 512
    runner: str = DEFAULT_RUNNER
    scored_path: str | None = None

    def __post_init__(self) -> None:
        if self.aggregation is None:
            from seqlens.alerts.aggregation import AggregationConfig

            object.__setattr__(self, "aggregation", AggregationConfig())
        if self.sink not in SINK_KINDS:
            raise ValueError(f"Expected sink in {SINK_KINDS}. Received: sink={self.sink!r}")
        if self.sink == "webhook" and not self.webhook_url:
            raise ValueError("Expected webhook_url with sink='webhook'. Received: webhook_url=None")
        if self.top_texts < 0:
            raise ValueError(f"Expected top_texts >= 0. Received: top_texts={self.top_texts}")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def load_scored(path: str | Path) -> pd.DataFrame:
    """An already scored table (Parquet file or folder) with the news columns + `label, score`."""
    rows, _ = read_news(path)
    if "given_label" in rows.columns and "label" not in rows.columns:
        rows = rows.rename(columns={"given_label": "label"})
    for name in ("score", "label"):
        if name not in rows.columns:
            raise ValueError(
                f"Expected a scored table with a {name!r} column. Received: scored={str(path)!r}"
            )
    return rows


def score_news(
    news_path: str | Path, model: str | Path, batch_size: int
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Read the news log and add the model's `label, score, confidence, tokens, token_attention`."""
    from seqlens.alerts.scoring import score_texts

    rows, dead = read_news(news_path)
    logger.info("scoring %d texts with %s", len(rows), model)
    scores = score_texts(rows["text"].tolist(), model, batch_size=batch_size)
    rows = rows.drop(columns=[c for c in scores.columns if c in rows.columns])
    return pd.concat([rows.reset_index(drop=True), scores], axis=1), dead


def top_texts(scored: pd.DataFrame, alert: Alert, count: int) -> list[dict[str, Any]]:
    """The `count` texts behind an alert: its window (and ticker), most telling first.

    Negative sentiment: lowest scores first; positive: highest; buzz: most repeated texts first,
    then strongest `|score|`. Retweets and repeated texts appear once.
    """
    if count == 0:
        return []
    inside = scored[
        (scored["timestamp"] >= alert.window_start) & (scored["timestamp"] < alert.window_end)
    ]
    if alert.ticker != MARKET_TICKER:
        inside = inside[inside["ticker"] == alert.ticker]
    if inside.empty:
        return []
    from seqlens.alerts.aggregation import normalise_for_duplicates

    inside = inside.assign(_key=inside["text"].map(normalise_for_duplicates))
    repeats = inside.groupby("_key")["id"].transform("count")
    inside = inside.assign(_repeats=repeats, _strength=inside["score"].abs())
    if "retweet" in inside.columns:
        inside = inside.sort_values("retweet", kind="stable")  # originals before retweets
    inside = inside.drop_duplicates("_key")
    if alert.direction == "negative":
        inside = inside.sort_values(["score", "id"])
    elif alert.direction == "positive":
        inside = inside.sort_values(["score", "id"], ascending=[False, True])
    else:
        inside = inside.sort_values(["_repeats", "_strength", "id"], ascending=[False, False, True])
    return [
        {"id": str(row.id), "text": str(row.text), "score": round(float(row.score), 4)}
        for row in inside.head(count).itertuples()
    ]


def run_alerts(
    news_path: str | Path | None,
    model_dir: str | Path | None,
    output_dir: str | Path,
    settings: MonitorSettings | None = None,
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Score, aggregate, detect and deliver; return the run summary (also in `summary.json`).

    New alerts are recorded in the webhook's outbox (`webhook_spool.jsonl`) before
    `alerts.jsonl` records them, so a run killed at any moment loses none: the next run re-sends
    what the outbox still holds (see `seqlens.alerts.sinks`).

    Args:
        news_path: news log (CSV, JSONL(.gz), Parquet file or the pipeline's texts folder);
            unused when `settings.scored_path` is given.
        model_dir: trained sentiment model folder, or `lexicon`.
        output_dir: the alerts folder (created if missing).
        settings: `MonitorSettings()` by default.
        progress: called with the name of each step reached (`scored`, `aggregated`,
            `detected`, `merged`, `finished` and the webhook's delivery steps), for fault
            injection and progress reports.
    """
    from seqlens.alerts.aggregation import aggregate_windows, window_seconds
    from seqlens.alerts.detector import detect

    settings = settings or MonitorSettings()
    step_reached = progress or (lambda _: None)
    output = Path(output_dir)
    output.mkdir(parents=True, exist_ok=True)
    timings: dict[str, float] = {}
    started = time.perf_counter()
    if settings.scored_path:
        scored, dead = load_scored(settings.scored_path), empty_dead_letter_frame()
    else:
        if news_path is None or model_dir is None:
            raise ValueError(
                "Expected news_path and model_dir (or settings.scored_path). "
                f"Received: news_path={news_path!r}"
            )
        scored, dead = score_news(news_path, model_dir, settings.batch_size)
    if scored.empty:
        raise ValueError(
            f"Expected at least one usable news row. Received: news={str(news_path)!r}"
        )
    scored.to_parquet(output / "scored.parquet", index=False)
    timings["score_seconds"] = round(time.perf_counter() - started, 2)
    step_reached("scored")

    step = time.perf_counter()
    windows, aggregation_dead = aggregate_windows(scored, settings.aggregation, settings.runner)
    timings["aggregate_seconds"] = round(time.perf_counter() - step, 2)
    step_reached("aggregated")
    step = time.perf_counter()
    seconds = window_seconds(settings.aggregation.window)
    alerts, grid = detect(windows, seconds, settings.detector)
    for alert in alerts:
        alert.top_texts = top_texts(scored, alert, settings.top_texts)
    grid[grid["count"] > 0].to_parquet(output / "windows.parquet", index=False)
    timings["detect_seconds"] = round(time.perf_counter() - step, 2)
    step_reached("detected")

    dead_letter = write_dead_letters([dead, aggregation_dead], output / "dead_letter.parquet")
    delivery: dict[str, Any] = {}
    sink = make_sink(
        settings.sink,
        output,
        settings.webhook_url,
        **(
            {
                "timeout_seconds": settings.webhook_timeout_seconds,
                "max_attempts": settings.webhook_max_attempts,
                "backoff_seconds": settings.webhook_backoff_seconds,
                "progress": progress,
            }
            if settings.sink == "webhook"
            else {}
        ),
    )
    fresh = [alert.to_dict() for alert in unseen_alerts(output / "alerts.jsonl", alerts)]
    if isinstance(sink, WebhookSink):
        sink.enqueue(fresh)  # in the outbox before alerts.jsonl: a kill in between loses none
    new_alerts = merge_alerts(output / "alerts.jsonl", alerts)
    step_reached("merged")
    if isinstance(sink, WebhookSink):
        delivery["spooled_redelivery"] = sink.deliver_spooled(
            skip={alert["dedup_key"] for alert in fresh}
        )
    if settings.sink != "file":
        delivery[settings.sink] = sink.send([alert.to_dict() for alert in new_alerts])
    summary = {
        "rows_in": int(len(scored) + len(dead)),
        "rows_scored": int(len(scored)),
        "rows_dead": int(len(dead_letter)),
        "dead_by_reason": dead_letter["reason"].value_counts().to_dict()
        if len(dead_letter)
        else {},
        "tickers": int(scored["ticker"].nunique()),
        "windows": int((grid["count"] > 0).sum()),
        "alerts_detected": len(alerts),
        "alerts_new": len(new_alerts),
        "alerts_by_kind": {
            f"{kind}:{direction}": sum(a.kind == kind and a.direction == direction for a in alerts)
            for kind, direction in (
                ("sentiment", "negative"),
                ("sentiment", "positive"),
                ("buzz", "up"),
            )
        },
        "market_alerts": sum(a.ticker == MARKET_TICKER for a in alerts),
        "beam_counters": windows.attrs.get("beam_counters", {}),
        "delivery": delivery,
        "timings": timings,
        "alerts_file": str(output / "alerts.jsonl"),
    }
    (output / "run.json").write_text(
        json.dumps(
            {"news": str(news_path), "model": str(model_dir), "settings": settings.to_dict()},
            indent=2,
            default=str,
        )
    )
    (output / "summary.json").write_text(json.dumps(summary, indent=2, default=str))
    step_reached("finished")
    logger.info(
        "alerts: %d detected, %d new -> %s", len(alerts), len(new_alerts), output / "alerts.jsonl"
    )
    return summary
