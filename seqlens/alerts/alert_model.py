"""The alert record, its stable dedup key, and merging into an existing alerts file.

An alert is identified by *what* fired, not by *when the job ran*: the dedup key hashes the
ticker, the kind (`sentiment` | `buzz`), the direction and the start of the window in which the
episode first fired. The detector only looks backwards (its baseline is made of earlier windows),
so re-running the same period — or a longer period that contains it — produces the same keys,
and `merge_alerts` keeps one line per key: re-running never repeats an alert.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from seqlens.alerts.durable_files import write_text_atomically

ALERT_KINDS = ("sentiment", "buzz")
ALERT_DIRECTIONS = ("negative", "positive", "up")
SEVERITIES = ("info", "warning", "critical")


def dedup_key(ticker: str, kind: str, direction: str, window_start: int) -> str:
    """A stable 16-hex-digit key for one alert episode.

    Args:
        ticker: the ticker (or `MARKET` for a market-wide alert).
        kind: `sentiment` or `buzz`.
        direction: `negative`, `positive` (sentiment) or `up` (buzz).
        window_start: Unix seconds of the window in which the episode first fired.

    Returns:
        `sha1("ticker|kind|direction|window_start")[:16]`.
    """
    text = f"{ticker}|{kind}|{direction}|{int(window_start)}"
    return hashlib.sha1(text.encode("utf-8")).hexdigest()[:16]


@dataclass
class Alert:
    """One alert: a ticker's sentiment or volume left its baseline in one window.

    Args:
        ticker: ticker symbol (`MARKET` for a market-wide move).
        window_start: Unix seconds, start of the window that fired (inclusive).
        window_end: Unix seconds, end of that window (exclusive).
        kind: `sentiment` or `buzz`.
        direction: `negative` / `positive` for sentiment, `up` for buzz.
        severity: `info`, `warning` or `critical`.
        statistics: the numbers that fired (`z`, `mean_score`, `baseline_median`, ...).
        top_texts: the texts behind it, `[{id, text, score}]`, most telling first.
        dedup_key: computed from the fields above when left empty.
    """

    ticker: str
    window_start: int
    window_end: int
    kind: str
    direction: str
    severity: str
    statistics: dict[str, Any] = field(default_factory=dict)
    top_texts: list[dict[str, Any]] = field(default_factory=list)
    dedup_key: str = ""

    def __post_init__(self) -> None:
        if self.kind not in ALERT_KINDS:
            raise ValueError(f"Expected kind in {ALERT_KINDS}. Received: kind={self.kind!r}")
        if self.direction not in ALERT_DIRECTIONS:
            raise ValueError(
                f"Expected direction in {ALERT_DIRECTIONS}. Received: direction={self.direction!r}"
            )
        if self.severity not in SEVERITIES:
            raise ValueError(
                f"Expected severity in {SEVERITIES}. Received: severity={self.severity!r}"
            )
        if int(self.window_end) <= int(self.window_start):
            raise ValueError(
                f"Expected window_end > window_start. Received: window_end={self.window_end}"
            )
        self.window_start = int(self.window_start)
        self.window_end = int(self.window_end)
        if not self.dedup_key:
            self.dedup_key = dedup_key(self.ticker, self.kind, self.direction, self.window_start)

    def to_dict(self) -> dict[str, Any]:
        """The JSON object written to `alerts.jsonl` (dedup_key first)."""
        record = asdict(self)
        return {"dedup_key": record.pop("dedup_key"), **record}

    @classmethod
    def from_dict(cls, record: dict[str, Any]) -> Alert:
        """Rebuild an alert from one `alerts.jsonl` object."""
        names = {
            "ticker",
            "window_start",
            "window_end",
            "kind",
            "direction",
            "severity",
            "statistics",
            "top_texts",
            "dedup_key",
        }
        return cls(**{name: value for name, value in record.items() if name in names})


def read_alerts(path: str | Path) -> list[dict[str, Any]]:
    """Every JSON object of an alerts file, in file order (`[]` when it does not exist)."""
    path = Path(path)
    if not path.exists():
        return []
    records = []
    with path.open(encoding="utf-8") as handle:
        for line_number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError as error:
                raise ValueError(
                    f"Expected one JSON object per line in {path}. "
                    f"Received: line_number={line_number} ({error.msg})"
                ) from error
    return records


def unseen_alerts(path: str | Path, alerts: list[Alert]) -> list[Alert]:
    """The alerts whose dedup key is not in the alerts file `path` yet (first of each key)."""
    known = {record.get("dedup_key") for record in read_alerts(path)}
    unseen = []
    for alert in alerts:
        if alert.dedup_key in known:
            continue
        known.add(alert.dedup_key)
        unseen.append(alert)
    return unseen


def merge_alerts(path: str | Path, alerts: list[Alert]) -> list[Alert]:
    """Append to `path` the alerts whose dedup key is not in it yet; return those new alerts.

    The file is rewritten through a temporary file (fsynced) and renamed into place, so a crash
    never leaves half a line behind. Alerts already in the file keep their place and content.
    """
    path = Path(path)
    existing = read_alerts(path)
    new_alerts = unseen_alerts(path, alerts)
    lines = [json.dumps(record, sort_keys=False) + "\n" for record in existing]
    lines += [json.dumps(alert.to_dict(), default=json_default) + "\n" for alert in new_alerts]
    write_text_atomically(path, "".join(lines))
    return new_alerts


def json_default(value: Any) -> Any:
    """numpy scalars and other numbers -> plain JSON numbers."""
    if hasattr(value, "item"):
        return value.item()
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")
