"""Where new alerts go: a JSON Lines file (default), stdout, or a webhook.

The webhook delivers at least once, through an outbox: the spool file `webhook_spool.jsonl`
holds every alert not yet known to be delivered. `run_alerts` records new alerts there as
`pending` *before* `alerts.jsonl` records them, each one is POSTed with an `Idempotency-Key`
header (its dedup key) and removed from the spool only after a 2xx answer, and the spool is
rewritten whole (temporary file, fsync, rename) after each change. A process killed at any
moment therefore leaves every alert either delivered or in the spool, and the next run re-sends
the spool first; a receiver that drops repeated keys sees each alert once.

Per alert, one run tries up to `max_attempts` times with exponential backoff when the request
never got an answer (connection refused or reset before sending, HTTP 5xx, 408, 429). A request
that was sent but not answered within the timeout is `unknown`: the receiver may have acted on
it, so it is not retried in this run (a slow receiver would otherwise get it again and again);
it stays in the spool and goes again, with the same key, on the next run. Other 4xx answers are
`failed` at once. Delivery never raises: problems are logged and counted in the run summary
(`delivered`, `failed`, `unknown`).
"""

from __future__ import annotations

import hashlib
import http.client
import json
import logging
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, TextIO

from seqlens.alerts.alert_model import Alert, json_default, merge_alerts
from seqlens.alerts.durable_files import remove_durably, write_text_atomically

logger = logging.getLogger(__name__)

SINK_KINDS = ("file", "stdout", "webhook")


class AlertSink(Protocol):
    """Anything that takes alert dicts and reports how many it delivered."""

    def send(self, alerts: list[dict[str, Any]]) -> dict[str, int]: ...


@dataclass
class FileSink:
    """Merge alert dicts into a JSON Lines file: an alert whose `dedup_key` is there is skipped."""

    path: Path

    def send(self, alerts: list[dict[str, Any]]) -> dict[str, int]:
        new_alerts = merge_alerts(self.path, [Alert.from_dict(alert) for alert in alerts])
        return {
            "delivered": len(new_alerts),
            "failed": 0,
            "duplicates": len(alerts) - len(new_alerts),
        }


@dataclass
class StdoutSink:
    """Print one JSON object per line."""

    stream: TextIO = field(default_factory=lambda: sys.stdout)

    def send(self, alerts: list[dict[str, Any]]) -> dict[str, int]:
        for alert in alerts:
            self.stream.write(json.dumps(alert) + "\n")
        self.stream.flush()
        return {"delivered": len(alerts), "failed": 0}


IDEMPOTENCY_HEADER = "Idempotency-Key"
DELIVERY_OUTCOMES = ("delivered", "failed", "unknown")


def alert_key(alert: dict[str, Any]) -> str:
    """The alert's `dedup_key` (a hash of its JSON for an alert dict without one)."""
    key = alert.get("dedup_key")
    if key:
        return str(key)
    text = json.dumps(alert, sort_keys=True, default=json_default)
    return hashlib.sha1(text.encode("utf-8")).hexdigest()[:16]


@dataclass
class WebhookSink:
    """POST each alert as JSON to `url`, at least once, through the outbox `spool_path`.

    Args:
        url: `http://` or `https://` endpoint.
        spool_path: the outbox: JSON Lines, one `{alert, status, error, attempts, time}` per
            alert not yet delivered (`status`: `pending`, `failed` or `unknown`).
        timeout_seconds: per-request timeout.
        max_attempts: attempts per alert and run (first try included) while no request got
            through; an unanswered request (timeout) is not retried in the same run.
        backoff_seconds: wait before the second attempt; doubled after each failure.
        headers: extra HTTP headers (e.g. an authorisation token read from the environment).
        progress: called with the name of each delivery step (`queued`, `sending:<key>`,
            `answered:<key>`, `recorded:<key>`), for fault injection and progress reports.
    """

    url: str
    spool_path: Path
    timeout_seconds: float = 5.0
    max_attempts: int = 4
    backoff_seconds: float = 0.5
    headers: dict[str, str] = field(default_factory=dict)
    progress: Callable[[str], None] | None = None

    def __post_init__(self) -> None:
        if not self.url.startswith(("http://", "https://")):
            raise ValueError(
                f"Expected an http:// or https:// webhook URL. Received: url={self.url!r}"
            )
        if self.timeout_seconds <= 0:
            raise ValueError(
                f"Expected timeout_seconds > 0. Received: timeout_seconds={self.timeout_seconds!r}"
            )
        if not isinstance(self.max_attempts, int) or self.max_attempts < 1:
            raise ValueError(
                f"Expected max_attempts >= 1. Received: max_attempts={self.max_attempts!r}"
            )
        if self.backoff_seconds < 0:
            raise ValueError(
                f"Expected backoff_seconds >= 0. Received: backoff_seconds={self.backoff_seconds!r}"
            )
        self.spool_path = Path(self.spool_path)

    def _step(self, name: str) -> None:
        if self.progress is not None:
            self.progress(name)

    def post(self, alert: dict[str, Any]) -> tuple[str, str]:
        """Try to deliver one alert; return `(outcome, last error or '')`.

        `outcome` is `delivered` (a 2xx answer), `failed` (refused, or never got through in
        `max_attempts` tries) or `unknown` (sent, but no answer within the timeout).
        """
        body = json.dumps(alert, default=json_default).encode("utf-8")
        headers = {
            "Content-Type": "application/json",
            **self.headers,
            IDEMPOTENCY_HEADER: alert_key(alert),
        }
        wait = self.backoff_seconds
        error = ""
        for attempt in range(1, self.max_attempts + 1):
            request = urllib.request.Request(self.url, data=body, headers=headers, method="POST")
            try:
                with urllib.request.urlopen(request, timeout=self.timeout_seconds) as response:
                    if 200 <= response.status < 300:
                        return "delivered", ""
                    error = f"HTTP {response.status}"
            except urllib.error.HTTPError as failure:
                error = f"HTTP {failure.code}"
                if 400 <= failure.code < 500 and failure.code not in (408, 429):
                    logger.warning(
                        "webhook rejected alert %s: %s (not retried)", alert_key(alert), error
                    )
                    return "failed", error
            except urllib.error.URLError as failure:  # raised before the request was sent
                reason = failure.reason
                error = (
                    f"{type(reason).__name__}: {reason}"
                    if isinstance(reason, BaseException)
                    else f"URLError: {reason}"
                )
            except (TimeoutError, ConnectionError, http.client.HTTPException) as failure:
                # urllib raises these unwrapped while waiting for the answer: the request was
                # sent and the receiver may have acted on it. Not retried now (a slow receiver
                # would get it again and again); the next run sends it again with the same key.
                error = f"{type(failure).__name__}: {failure}"
                logger.warning(
                    "webhook gave no answer for alert %s (%s): delivery unknown, kept for the "
                    "next run",
                    alert_key(alert),
                    error,
                )
                return "unknown", error
            except OSError as failure:
                error = f"{type(failure).__name__}: {failure}"
            logger.info(
                "webhook attempt %d/%d for %s failed: %s",
                attempt,
                self.max_attempts,
                alert_key(alert),
                error,
            )
            if attempt < self.max_attempts:
                time.sleep(wait)
                wait *= 2
        return "failed", error

    def read_spool(self) -> dict[str, dict[str, Any]]:
        """The outbox: `{dedup_key: record}` in queue order.

        Also takes in `<spool>.sending`, which earlier versions left behind when they were
        killed while re-sending the spool: its alerts are queued again, not lost.
        """
        records: dict[str, dict[str, Any]] = {}
        stranded = self.spool_path.with_name(self.spool_path.name + ".sending")
        for path in (stranded, self.spool_path):
            if not path.exists():
                continue
            for line_number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
                if not line.strip():
                    continue
                try:
                    record = json.loads(line)
                    key = alert_key(record["alert"])
                except (json.JSONDecodeError, KeyError, TypeError) as error:
                    # only an older version's interrupted append can leave half a line
                    logger.error("skipping unreadable line %d of %s: %s", line_number, path, error)
                    continue
                record.setdefault("status", "failed")
                records.setdefault(key, record)
        if stranded.exists():
            self._write_spool(records)
            remove_durably(stranded)
        return records

    def _write_spool(self, records: dict[str, dict[str, Any]]) -> None:
        if not records:
            remove_durably(self.spool_path)
            return
        write_text_atomically(
            self.spool_path,
            "".join(json.dumps(r, default=json_default) + "\n" for r in records.values()),
        )

    def enqueue(self, alerts: list[dict[str, Any]]) -> None:
        """Record `alerts` as `pending` in the outbox (durably) unless they are there already."""
        records = self.read_spool()
        added = False
        for alert in alerts:
            key = alert_key(alert)
            if key not in records:
                records[key] = {
                    "alert": alert,
                    "status": "pending",
                    "error": "",
                    "attempts": 0,
                    "time": int(time.time()),
                }
                added = True
        if added:
            self._write_spool(records)
        self._step("queued")

    def send(self, alerts: list[dict[str, Any]]) -> dict[str, int]:
        """Queue `alerts` in the outbox, then deliver them. Never raises for delivery problems.

        Returns:
            `{"delivered": n, "failed": n, "unknown": n}`.
        """
        self.enqueue(alerts)
        return self._deliver(list(dict.fromkeys(alert_key(alert) for alert in alerts)))

    def deliver_spooled(self, skip: set[str] | frozenset[str] = frozenset()) -> dict[str, int]:
        """Re-send every alert in the outbox (but those keyed in `skip`); keep the undelivered."""
        return self._deliver([key for key in self.read_spool() if key not in skip])

    def _deliver(self, keys: list[str]) -> dict[str, int]:
        counts = dict.fromkeys(DELIVERY_OUTCOMES, 0)
        records = self.read_spool()
        for key in keys:
            record = records.get(key)
            if record is None:
                continue
            self._step(f"sending:{key}")
            outcome, error = self.post(record["alert"])
            self._step(f"answered:{key}")
            counts[outcome] += 1
            if outcome == "delivered":
                del records[key]
            else:
                record.update(
                    status=outcome,
                    error=error,
                    attempts=int(record.get("attempts", 0)) + 1,
                    time=int(time.time()),
                )
                logger.error(
                    "webhook delivery of alert %s %s (%s); kept in %s for the next run",
                    key,
                    "failed" if outcome == "failed" else "got no answer",
                    error,
                    self.spool_path,
                )
            self._write_spool(records)
            self._step(f"recorded:{key}")
        return counts


def make_sink(
    kind: str, output_dir: Path, webhook_url: str | None = None, **webhook_options: Any
) -> AlertSink:
    """The sink named `kind` (`file`, `stdout`, `webhook`).

    `file` merges into `output_dir / "alerts.jsonl"` (the deduplicated record, which every run
    writes anyway); `webhook` keeps its outbox in `output_dir / "webhook_spool.jsonl"`.
    """
    if kind == "file":
        return FileSink(Path(output_dir) / "alerts.jsonl")
    if kind == "stdout":
        return StdoutSink()
    if kind == "webhook":
        if not webhook_url:
            raise ValueError(
                "Expected --webhook-url with --sink webhook. Received: webhook_url=None"
            )
        return WebhookSink(webhook_url, Path(output_dir) / "webhook_spool.jsonl", **webhook_options)
    raise ValueError(f"Expected sink in {SINK_KINDS}. Received: sink={kind!r}")
