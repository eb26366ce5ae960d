"""Where every artifact of a seqlens run lives: the one map shared by all parts.

The CLI, the Airflow DAG, `seqlens demo` and the dashboard all derive paths from an
`ArtifactLayout`, so a folder produced by one part is found by the others without
configuration. Every path is relative to one artifacts root:

```
<root>/
  raw/events.csv  raw/news.csv  raw/chats.csv      seqlens generate
  data/events/   sequences/ vocab/ stats.json dead_letter/      seqlens pipeline events
  data/news/     texts/ vocab/ stats.json dead_letter/          seqlens pipeline news
  data/chats/    texts/ vocab/ stats.json dead_letter/          seqlens pipeline chats
  models/recommender/  model.keras config.json history.json metrics.json data_run.json
  models/sentiment/    (same files, text model)
  models/intent/       (same files, text model)
  serving/<name>/<version>/   TF Serving SavedModels; serving/publish_log.jsonl
  alerts/  scored.parquet windows.parquet alerts.jsonl
```
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

ARTIFACTS_ENV_VAR = "SEQLENS_ARTIFACTS"
DEFAULT_ARTIFACTS_ROOT = "seqlens-demo"


def default_artifacts_root() -> Path:
    """The artifacts root from `$SEQLENS_ARTIFACTS`, else `./seqlens-demo` (the demo's output)."""
    return Path(os.environ.get(ARTIFACTS_ENV_VAR, DEFAULT_ARTIFACTS_ROOT))


@dataclass(frozen=True)
class ArtifactLayout:
    """Paths of every artifact below one root folder.

    Args:
        root: the artifacts root folder. It need not exist yet.
    """

    root: Path

    def __post_init__(self) -> None:
        if not str(self.root):
            raise ValueError(f"Expected a non-empty artifacts root. Received: root={self.root!r}")
        object.__setattr__(self, "root", Path(self.root))

    # raw logs written by `seqlens generate`
    @property
    def raw_dir(self) -> Path:
        return self.root / "raw"

    @property
    def raw_events(self) -> Path:
        return self.raw_dir / "events.csv"

    @property
    def raw_news(self) -> Path:
        return self.raw_dir / "news.csv"

    @property
    def raw_chats(self) -> Path:
        return self.raw_dir / "chats.csv"

    # pipeline runs
    def data_run(self, kind: str) -> Path:
        """Output folder of `seqlens pipeline <kind>` (`events`, `news` or `chats`)."""
        if kind not in ("events", "news", "chats"):
            raise ValueError(
                f"Expected kind to be one of 'events', 'news', 'chats'. Received: kind={kind!r}"
            )
        return self.root / "data" / kind

    # trained models
    def model_dir(self, name: str) -> Path:
        """Folder of a trained model (`recommender`, `sentiment`, `intent`, or a baseline)."""
        if not name or "/" in name:
            raise ValueError(f"Expected a plain model name. Received: name={name!r}")
        return self.root / "models" / name

    # serving
    @property
    def serving_root(self) -> Path:
        return self.root / "serving"

    @property
    def publish_log(self) -> Path:
        return self.serving_root / "publish_log.jsonl"

    # alerts
    @property
    def alerts_dir(self) -> Path:
        return self.root / "alerts"

    @property
    def alerts_file(self) -> Path:
        return self.alerts_dir / "alerts.jsonl"
