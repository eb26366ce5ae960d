"""Where new alerts go: a JSON Lines file (default), stdout, or a webhook.

The webhook POSTs one alert as JSON per request with a timeout, retries transient failures
(connection errors, timeouts, HTTP 5xx and 429) with exponential backoff, and never raises:
an alert it could not deliver is logged and appended to a spool file, and `deliver_spooled`
sends spooled alerts first on the next run. Nothing is lost and the run never crashes.
"""

from __future__ import annotations

import json
import logging
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, TextIO

from seqlens.alerts.alert_model import Alert, merge_alerts

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


@dataclass
class WebhookSink:
    """POST each alert as JSON to `url`; failures go to `spool_path`.

    Args:
        url: `http://` or `https://` endpoint.
        spool_path: JSON Lines file that keeps undelivered alerts for the next run.
        timeout_seconds: per-request timeout.
        max_attempts: attempts per alert (first try included).
        backoff_seconds: wait before the second attempt; doubled after each failure.
        headers: extra HTTP headers (e.g. an authorisation token read from the environment).
    """

    url: str
    spool_path: Path
    timeout_seconds: float = 5.0
    max_attempts: int = 4
    backoff_seconds: float = 0.5
    headers: dict[str, str] = field(default_factory=dict)

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

    def post(self, alert: dict[str, Any]) -> tuple[bool, str]:
        """Try to deliver one alert with retries; return `(delivered, last error or '')`."""
        body = json.dumps(alert).encode("utf-8")
        headers = {"Content-Type": "application/json", **self.headers}
        wait = self.backoff_seconds
        error = ""
        for attempt in range(1, self.max_attempts + 1):
            request = urllib.request.Request(self.url, data=body, headers=headers, method="POST")
            try:
                with urllib.request.urlopen(request, timeout=self.timeout_seconds) as response:
                    if 200 <= response.status < 300:
                        return True, ""
                    error = f"HTTP {response.status}"
            except urllib.error.HTTPError as failure:
                error = f"HTTP {failure.code}"
                if 400 <= failure.code < 500 and failure.code not in (408, 429):
                    logger.warning(
                        "webhook rejected alert %s: %s (not retried)", alert.get("dedup_key"), error
                    )
                    return False, error
            except (urllib.error.URLError, TimeoutError, ConnectionError, OSError) as failure:
                reason = getattr(failure, "reason", failure)
                error = f"{type(failure).__name__}: {reason}"
            logger.info(
                "webhook attempt %d/%d for %s failed: %s",
                attempt,
                self.max_attempts,
                alert.get("dedup_key"),
                error,
            )
            if attempt < self.max_attempts:
                time.sleep(wait)
                wait *= 2
        return False, error

    def send(self, alerts: list[dict[str, Any]]) -> dict[str, int]:
        """Deliver `alerts`; spool the ones that failed. Never raises for delivery problems."""
        failed = []
        for alert in alerts:
            delivered, error = self.post(alert)
            if not delivered:
                logger.error(
                    "webhook delivery of alert %s failed (%s); spooled to %s",
                    alert.get("dedup_key"),
                    error,
                    self.spool_path,
                )
                failed.append({"alert": alert, "error": error, "time": int(time.time())})
        if failed:
            self.spool_path.parent.mkdir(parents=True, exist_ok=True)
            with self.spool_path.open("a", encoding="utf-8") as handle:
                for record in failed:
                    handle.write(json.dumps(record) + "\n")
        return {"delivered": len(alerts) - len(failed), "failed": len(failed)}

    def deliver_spooled(self) -> dict[str, int]:
        """Re-send every spooled alert; keep in the spool only those that fail again."""
        if not self.spool_path.exists():
            return {"delivered": 0, "failed": 0}
        records = [
            json.loads(line)
            for line in self.spool_path.read_text(encoding="utf-8").splitlines()
            if line.strip()
        ]
        alerts = list(
            {record["alert"].get("dedup_key"): record["alert"] for record in records}.values()
        )
        temporary = self.spool_path.with_name(self.spool_path.name + ".sending")
        self.spool_path.replace(temporary)  # a crash now leaves the alerts in `.sending`, not lost
        try:
            result = self.send(alerts)
        finally:
            temporary.unlink()
        return result


def make_sink(
    kind: str, output_dir: Path, webhook_url: str | None = None, **webhook_options: Any
) -> AlertSink:
    """The sink named `kind` (`file`, `stdout`, `webhook`).

    `file` merges into `output_dir / "alerts.jsonl"` (the deduplicated record, which every run
    writes anyway); `webhook` spools to `output_dir / "webhook_spool.jsonl"`.
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
