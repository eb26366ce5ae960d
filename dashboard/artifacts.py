"""Find and read the artifacts a seqlens run produced, for the dashboard.

Over 300 lines on purpose: one loader per artifact of docs/CONTRACTS.md, each a few lines, with
the error that names the command producing it.

Every loader here is a plain function of paths (no Streamlit), so it is tested directly; the
pages wrap them in `st.cache_data` / `st.cache_resource` through `dashboard.cache`.

A missing or unreadable artifact raises `MissingArtifact`, whose message names the command
that produces it. Pages catch it and show that message as an empty state, never a traceback.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from seqlens.layout import ARTIFACTS_ENV_VAR, ArtifactLayout, default_artifacts_root

# Model folders that hold the product models; any other folder under `models/` is a baseline
# or an experiment and is shown beside them.
PRODUCT_MODELS: tuple[str, ...] = ("recommender", "sentiment", "intent")

# What produces each artifact, in words a user can paste into a shell.
PRODUCING_COMMANDS: dict[str, str] = {
    "events": "seqlens pipeline events",
    "news": "seqlens pipeline news",
    "chats": "seqlens pipeline chats",
    "recommender": "seqlens train recommender",
    "ranker": "seqlens train ranker",
    "sentiment": "seqlens train sentiment",
    "intent": "seqlens train intent",
    "models": "seqlens train recommender | sentiment | intent",
    "publish_log": "seqlens publish",
    "alerts": "seqlens alerts",
    "everything": "seqlens demo",
}


class MissingArtifact(Exception):
    """An artifact the page needs is absent or unreadable; the message says how to produce it."""

    def __init__(self, what: str, path: Path, command: str, detail: str = ""):
        self.what = what
        self.path = Path(path)
        self.command = command
        self.detail = detail
        suffix = f" ({detail})" if detail else ""
        super().__init__(
            f"No {what} found at `{path}`{suffix}. Produce it with `{command}`, "
            f"or everything at once with `{PRODUCING_COMMANDS['everything']}`."
        )


def flag_value(argv: Sequence[str] | None, flag: str) -> str | None:
    """The value of `flag` in `argv` (`--flag VALUE` or `--flag=VALUE`), else None."""
    arguments = list(argv or [])
    for index, argument in enumerate(arguments):
        if argument == flag and index + 1 < len(arguments):
            return arguments[index + 1]
        if argument.startswith(f"{flag}="):
            return argument.split("=", 1)[1]
    return None


def resolve_artifacts_root(
    argv: Sequence[str] | None = None, environ: dict[str, str] | None = None
) -> Path:
    """The artifacts root: `--artifacts DIR` in `argv`, else `$SEQLENS_ARTIFACTS`, else the demo's.

    Args:
        argv: the script's arguments (`streamlit run app.py -- --artifacts DIR` passes them).
        environ: the environment; `os.environ` when None.
    """
    from_flag = flag_value(argv, "--artifacts")
    if from_flag:
        return Path(from_flag)
    environment = os.environ if environ is None else environ
    if environment.get(ARTIFACTS_ENV_VAR):
        return Path(environment[ARTIFACTS_ENV_VAR])
    return default_artifacts_root()


# Item metadata file names, in the order `find_item_metadata` tries them in each folder.
ITEM_METADATA_FILES = ("items.csv", "movies.csv")


def fingerprint(path: Path) -> str:
    """A string that changes when `path` (a file, or any file below a folder) changes.

    Used as an extra cache key so that a re-run of a pipeline or training shows up in the
    dashboard without restarting it.
    """
    path = Path(path)
    if not path.exists():
        return "missing"
    if path.is_file():
        stat = path.stat()
        return f"{stat.st_mtime_ns}-{stat.st_size}"
    parts = []
    for child in sorted(path.rglob("*")):
        if child.is_file():
            stat = child.stat()
            parts.append(f"{child.name}:{stat.st_mtime_ns}:{stat.st_size}")
    return str(hash(tuple(parts)))


def _read_parquet(path: Path, what: str, command: str) -> pd.DataFrame:
    """Read a Parquet file or folder, turning absence or corruption into `MissingArtifact`."""
    path = Path(path)
    if not path.exists() or (path.is_dir() and not any(path.glob("*.parquet"))):
        raise MissingArtifact(what, path, command)
    try:
        return pd.read_parquet(path)
    except (OSError, ValueError) as error:
        raise MissingArtifact(what, path, command, detail=f"unreadable: {error}") from error


def _read_json(path: Path, what: str, command: str) -> dict | list:
    path = Path(path)
    if not path.is_file():
        raise MissingArtifact(what, path, command)
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise MissingArtifact(what, path, command, detail=f"unreadable: {error}") from error


def _read_json_lines(path: Path, what: str, command: str) -> list[dict]:
    """Read JSON Lines; a line that does not parse is skipped (a half-written last line)."""
    path = Path(path)
    if not path.is_file():
        raise MissingArtifact(what, path, command)
    records = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict):
            records.append(record)
    return records


def load_sequences(root: Path) -> pd.DataFrame:
    """Per-user sequences of `seqlens pipeline events`, indexed by nothing, `user_id` as string."""
    folder = ArtifactLayout(root).data_run("events") / "sequences"
    frame = _read_parquet(folder, "user sequences", PRODUCING_COMMANDS["events"])
    frame["user_id"] = frame["user_id"].astype(str)
    return frame.sort_values("user_id", kind="stable").reset_index(drop=True)


def load_texts(root: Path, kind: str) -> pd.DataFrame:
    """Texts of `seqlens pipeline news|chats`, with `timestamp` as a UTC datetime `time` column."""
    if kind not in ("news", "chats"):
        raise ValueError(f"Expected kind to be 'news' or 'chats'. Received: kind={kind!r}")
    folder = ArtifactLayout(root).data_run(kind) / "texts"
    frame = _read_parquet(folder, f"{kind} texts", PRODUCING_COMMANDS[kind])
    if "timestamp" in frame.columns:
        frame["time"] = pd.to_datetime(frame["timestamp"], unit="s", utc=True)
    return frame


def load_data_stats(root: Path, kind: str) -> dict:
    """`stats.json` of a pipeline run (`events`, `news` or `chats`)."""
    path = ArtifactLayout(root).data_run(kind) / "stats.json"
    stats = _read_json(path, f"{kind} pipeline statistics", PRODUCING_COMMANDS[kind])
    return stats if isinstance(stats, dict) else {}


def load_alerts(root: Path) -> pd.DataFrame:
    """`alerts.jsonl` as a frame, newest window first, with `severity` as text."""
    layout = ArtifactLayout(root)
    records = _read_json_lines(layout.alerts_file, "alerts", PRODUCING_COMMANDS["alerts"])
    columns = [
        "dedup_key",
        "ticker",
        "window_start",
        "window_end",
        "kind",
        "direction",
        "severity",
        "statistics",
        "top_texts",
    ]
    frame = pd.DataFrame.from_records(records)
    for column in columns:
        if column not in frame.columns:
            frame[column] = None
    if frame.empty:
        return frame[columns]
    for column in ("window_start", "window_end"):
        frame[column] = _to_utc_time(frame[column])
    frame["severity"] = frame["severity"].astype(str)
    frame["direction"] = frame["direction"].astype(str)
    frame["ticker"] = frame["ticker"].astype(str)
    return frame.sort_values("window_start", ascending=False, kind="stable").reset_index(drop=True)


def load_windows(root: Path) -> pd.DataFrame:
    """Per-ticker sentiment windows (`alerts/windows.parquet`), `window_start` as UTC datetime."""
    path = ArtifactLayout(root).alerts_dir / "windows.parquet"
    frame = _read_parquet(path, "sentiment windows", PRODUCING_COMMANDS["alerts"])
    for column in ("window_start", "window_end"):
        if column in frame.columns:
            frame[column] = _to_utc_time(frame[column])
    frame["ticker"] = frame["ticker"].astype(str)
    return frame.sort_values(["ticker", "window_start"], kind="stable").reset_index(drop=True)


def load_scored_texts(root: Path) -> pd.DataFrame:
    """News rows with their sentiment and token attention (`alerts/scored.parquet`)."""
    path = ArtifactLayout(root).alerts_dir / "scored.parquet"
    frame = _read_parquet(path, "scored news texts", PRODUCING_COMMANDS["alerts"])
    if "timestamp" in frame.columns:
        frame["time"] = pd.to_datetime(frame["timestamp"], unit="s", utc=True)
    return frame


def load_publish_log(root: Path) -> pd.DataFrame:
    """Every validation-gate decision of `serving/publish_log.jsonl`, newest first."""
    layout = ArtifactLayout(root)
    records = _read_json_lines(layout.publish_log, "publish log", PRODUCING_COMMANDS["publish_log"])
    frame = pd.DataFrame.from_records(records)
    for column in ("name", "version", "time", "decision", "reasons", "checks", "metrics"):
        if column not in frame.columns:
            frame[column] = None
    if not frame.empty:
        frame["time"] = _to_utc_time(frame["time"])
        frame = frame.sort_values("time", ascending=False, kind="stable").reset_index(drop=True)
    return frame


def list_served_versions(root: Path) -> pd.DataFrame:
    """Published SavedModel versions on disk: one row per `serving/<name>/<version>/`."""
    serving_root = ArtifactLayout(root).serving_root
    rows = []
    if serving_root.is_dir():
        for model_folder in sorted(path for path in serving_root.iterdir() if path.is_dir()):
            for version_folder in model_folder.iterdir():
                if version_folder.name.isdigit() and (version_folder / "saved_model.pb").exists():
                    rows.append({"name": model_folder.name, "version": int(version_folder.name)})
    frame = pd.DataFrame(rows, columns=["name", "version"])
    return frame.sort_values(["name", "version"], kind="stable").reset_index(drop=True)


@dataclass(frozen=True)
class ModelFolder:
    """What the dashboard knows about one trained model folder."""

    name: str
    path: Path
    metrics: dict
    history: dict
    config: dict

    @property
    def is_baseline(self) -> bool:
        return self.name not in PRODUCT_MODELS


def list_model_folders(root: Path) -> list[ModelFolder]:
    """Every folder under `models/` that has a `metrics.json` or a `history.json`.

    Product models come first (recommender, sentiment, intent), then the others by name.
    Unreadable JSON files count as empty rather than failing the page.
    """
    models_root = ArtifactLayout(root).root / "models"
    if not models_root.is_dir():
        raise MissingArtifact("trained models", models_root, PRODUCING_COMMANDS["models"])
    folders = []
    for path in sorted(child for child in models_root.iterdir() if child.is_dir()):
        contents = {}
        for name in ("metrics", "history", "config"):
            try:
                value = _read_json(path / f"{name}.json", name, "")
            except MissingArtifact:
                value = {}
            contents[name] = value if isinstance(value, dict) else {"values": value}
        if contents["metrics"] or contents["history"]:
            folders.append(ModelFolder(name=path.name, path=path, **contents))
    if not folders:
        raise MissingArtifact("trained models", models_root, PRODUCING_COMMANDS["models"])
    order = {name: index for index, name in enumerate(PRODUCT_MODELS)}
    return sorted(folders, key=lambda folder: (order.get(folder.name, len(order)), folder.name))


def model_dir_if_trained(root: Path, name: str) -> Path:
    """The folder of model `name` when it holds a `model.keras`; else `MissingArtifact`."""
    path = ArtifactLayout(root).model_dir(name)
    if not (path / "model.keras").exists():
        raise MissingArtifact(
            f"trained {name} model", path, PRODUCING_COMMANDS.get(name, "seqlens train")
        )
    return path


def ranker_dir_if_trained(root: Path) -> Path | None:
    """`models/ranker` when it holds a trained ranker (`seqlens train ranker`), else `None`:
    the ranker is optional, the pages fall back to the retriever alone."""
    path = ArtifactLayout(root).model_dir("ranker")
    return path if (path / "model.keras").exists() and (path / "config.json").exists() else None


def load_item_metadata(path: Path | None) -> pd.DataFrame:
    """`item_id, title, category` from an items CSV (`item_id,title,category`, the category
    optional) or a MovieLens `movies.csv` (`movieId,title,genres`: the genres are the category).

    Returns an empty frame when `path` is None or absent, so titles are always optional.
    """
    columns = ["item_id", "title", "category"]
    if path is None or not Path(path).is_file():
        return pd.DataFrame(columns=columns, dtype=str)
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    id_column = next(
        (c for c in ("item_id", "movieId", "movie_id", "id") if c in frame.columns), None
    )
    title_column = next((c for c in ("title", "name") if c in frame.columns), None)
    if id_column is None or title_column is None:
        raise ValueError(
            "Expected an item metadata CSV with an id column (item_id or movieId) and a title "
            f"column. Received: path={str(path)!r} with columns={list(frame.columns)}"
        )
    category_column = next((c for c in ("category", "genres") if c in frame.columns), None)
    return pd.DataFrame(
        {
            "item_id": frame[id_column].astype(str),
            "title": frame[title_column].astype(str),
            "category": frame[category_column].astype(str) if category_column else "",
        },
        columns=columns,
    )


def load_item_titles(path: Path | None) -> dict[str, str]:
    """Item id -> title from an item metadata CSV (see `load_item_metadata`); empty without one."""
    frame = load_item_metadata(path)
    return dict(zip(frame["item_id"], frame["title"], strict=True))


def load_item_categories(path: Path | None) -> dict[str, str]:
    """Item id -> category from an item metadata CSV; empty without one or without categories."""
    frame = load_item_metadata(path)
    frame = frame[frame["category"] != ""]
    return dict(zip(frame["item_id"], frame["category"], strict=True))


def find_item_metadata(root: Path) -> Path | None:
    """The item metadata file of an artifacts root: `raw/items.csv` (written by `seqlens
    generate` and the demo), `raw/movies.csv` (MovieLens), or an `items.csv` / `movies.csv` beside
    the events run's vocabulary (`data/events/` or `data/events/vocab/`)."""
    layout = ArtifactLayout(root)
    events = layout.data_run("events")
    folders = (layout.raw_dir, events, events / "vocab")
    for candidate in (folder / name for folder in folders for name in ITEM_METADATA_FILES):
        if candidate.is_file():
            return candidate
    return None


def _to_utc_time(values: pd.Series) -> pd.Series:
    """Unix seconds or ISO 8601 strings -> UTC datetimes (unparsable -> NaT)."""
    if pd.api.types.is_datetime64_any_dtype(values):
        return values.dt.tz_localize("UTC") if values.dt.tz is None else values.dt.tz_convert("UTC")
    if pd.api.types.is_numeric_dtype(values):
        return pd.to_datetime(values, unit="s", utc=True, errors="coerce")
    return pd.to_datetime(values, utc=True, errors="coerce", format="mixed")
