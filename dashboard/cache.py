"""Streamlit-cached access to artifacts and models: data with `st.cache_data`, models with
`st.cache_resource`.

Every cached function takes the artifacts root (or a model folder) as a string plus a
`fingerprint` of the files, so re-running a pipeline or a training shows up without restarting
the dashboard, while a page re-render after the first load reads nothing from disk.

Models are imported lazily (TensorFlow / Keras load only when a model page needs them). A model
that cannot be imported or loaded raises `MissingArtifact` with the reason, never a traceback.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import streamlit as st

from dashboard import artifacts
from dashboard.artifacts import MissingArtifact, fingerprint
from seqlens.layout import ArtifactLayout


@st.cache_data(show_spinner=False, max_entries=8)
def _sequences(root: str, stamp: str) -> pd.DataFrame:
    return artifacts.load_sequences(Path(root))


def sequences(root: Path) -> pd.DataFrame:
    """Cached `artifacts.load_sequences`."""
    return _sequences(str(root), fingerprint(ArtifactLayout(root).data_run("events") / "sequences"))


@st.cache_data(show_spinner=False, max_entries=8)
def _texts(root: str, kind: str, stamp: str) -> pd.DataFrame:
    return artifacts.load_texts(Path(root), kind)


def texts(root: Path, kind: str) -> pd.DataFrame:
    """Cached `artifacts.load_texts`."""
    return _texts(str(root), kind, fingerprint(ArtifactLayout(root).data_run(kind) / "texts"))


@st.cache_data(show_spinner=False, max_entries=8)
def _alert_data(root: str, stamp: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    return artifacts.load_alerts(Path(root)), artifacts.load_windows(Path(root))


def alert_data(root: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Cached `(alerts, windows)`."""
    return _alert_data(str(root), fingerprint(ArtifactLayout(root).alerts_dir))


@st.cache_data(show_spinner=False, max_entries=8)
def _scored_texts(root: str, stamp: str) -> pd.DataFrame:
    return artifacts.load_scored_texts(Path(root))


def scored_texts(root: Path) -> pd.DataFrame | None:
    """Cached `artifacts.load_scored_texts`, or None when the alerts run wrote none."""
    path = ArtifactLayout(root).alerts_dir / "scored.parquet"
    try:
        return _scored_texts(str(root), fingerprint(path))
    except MissingArtifact:
        return None


@st.cache_data(show_spinner=False, max_entries=8)
def _models_overview(root: str, stamp: str):
    return (artifacts.list_model_folders(Path(root)),)


def model_folders(root: Path) -> list[artifacts.ModelFolder]:
    """Cached `artifacts.list_model_folders`."""
    return _models_overview(str(root), fingerprint(Path(root) / "models"))[0]


@st.cache_data(show_spinner=False, max_entries=8)
def _publishing(root: str, stamp: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    return artifacts.load_publish_log(Path(root)), artifacts.list_served_versions(Path(root))


def publishing(root: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Cached `(publish log, served versions)`."""
    return _publishing(str(root), fingerprint(ArtifactLayout(root).publish_log))


@st.cache_data(show_spinner=False, max_entries=8)
def _item_titles(path: str, stamp: str) -> dict[str, str]:
    return artifacts.load_item_titles(Path(path))


def item_titles(path: Path | None) -> dict[str, str]:
    """Cached `artifacts.load_item_titles` (empty when there is no metadata file)."""
    if path is None or not Path(path).is_file():
        return {}
    return _item_titles(str(path), fingerprint(Path(path)))


@st.cache_data(show_spinner=False, max_entries=8)
def _item_categories(path: str, stamp: str) -> dict[str, str]:
    return artifacts.load_item_categories(Path(path))


def item_categories(path: Path | None) -> dict[str, str]:
    """Cached `artifacts.load_item_categories` (empty when there is no metadata file)."""
    if path is None or not Path(path).is_file():
        return {}
    return _item_categories(str(path), fingerprint(Path(path)))


# ---- models -------------------------------------------------------------------------------


@st.cache_resource(show_spinner="Loading the recommender...", max_entries=4)
def _recommender(model_dir: str, stamp: str):
    from models.recommender.inference import load_recommender

    return load_recommender(model_dir)


@st.cache_resource(show_spinner="Loading the text model...", max_entries=4)
def _text_model(model_dir: str, stamp: str):
    from models.text.inference import load_text_model

    return load_text_model(model_dir)


def _load_model(loader, root: Path, name: str):
    model_dir = artifacts.model_dir_if_trained(root, name)
    try:
        return loader(str(model_dir), fingerprint(model_dir / "model.keras"))
    except MissingArtifact:
        raise
    except Exception as error:  # a model that fails to load must become an empty state
        raise MissingArtifact(
            f"loadable {name} model",
            model_dir,
            artifacts.PRODUCING_COMMANDS.get(name, "seqlens train"),
            detail=f"{type(error).__name__}: {error}",
        ) from error


def recommender(root: Path):
    """The trained recommender of this artifacts root, loaded once per process."""
    return _load_model(_recommender, root, "recommender")


def text_model(root: Path, name: str):
    """The trained text model `name` (`sentiment` or `intent`), loaded once per process."""
    return _load_model(_text_model, root, name)


def _first_row(result) -> tuple[list[str], np.ndarray, np.ndarray, list[str]]:
    """`(item_ids, scores, attention, attended history)` of a one-history recommendation."""
    return (
        list(result.item_ids[0]),
        np.asarray(result.scores[0], dtype=float),
        np.asarray(result.attention[0], dtype=float),
        [str(item) for item in result.history[0]],
    )


@st.cache_data(show_spinner=False, max_entries=256)
def _recommend(model_dir: str, stamp: str, history: tuple[str, ...], k: int):
    model = _recommender(model_dir, stamp)
    result = model.recommend([list(history)], k=k, exclude_history=True)
    return _first_row(result)


def recommend(root: Path, history: list[str], k: int):
    """`(item_ids, scores (k,), attention (heads, T), attended history (T,))` for one history."""
    model = recommender(root)  # loads (or names the missing model) first
    k = max(1, min(int(k), len(model.item_ids)))
    model_dir = artifacts.model_dir_if_trained(root, "recommender")
    return _recommend(str(model_dir), fingerprint(model_dir / "model.keras"), tuple(history), k)


@st.cache_data(show_spinner=False, max_entries=256)
def _predict(model_dir: str, stamp: str, texts_to_predict: tuple[str, ...]) -> pd.DataFrame:
    return _text_model(model_dir, stamp).predict(list(texts_to_predict))


def predict_texts(root: Path, name: str, texts_to_predict: list[str]) -> pd.DataFrame:
    """Predictions of text model `name` for `texts_to_predict` (cached per distinct input)."""
    text_model(root, name)
    model_dir = artifacts.model_dir_if_trained(root, name)
    return _predict(str(model_dir), fingerprint(model_dir / "model.keras"), tuple(texts_to_predict))


@st.cache_resource(show_spinner="Loading the ranker...", max_entries=4)
def _two_stage(ranker_dir: str, retriever_dir: str, stamp: str):
    from models.recommender.ranker_inference import load_two_stage

    return load_two_stage(ranker_dir, retriever_dir)


def _two_stage_key(root: Path) -> tuple[str, str, str]:
    ranker_dir = artifacts.ranker_dir_if_trained(root)
    if ranker_dir is None:
        raise MissingArtifact(
            "trained ranker", ArtifactLayout(root).model_dir("ranker"), "seqlens train ranker"
        )
    retriever_dir = artifacts.model_dir_if_trained(root, "recommender")
    stamp = fingerprint(ranker_dir / "model.keras") + fingerprint(retriever_dir / "model.keras")
    return str(ranker_dir), str(retriever_dir), stamp


def two_stage(root: Path):
    """The root's retriever (`models/recommender`) with its ranker (`models/ranker`), loaded
    once per process; `MissingArtifact` when there is no ranker or it does not load."""
    return _loaded_two_stage(_two_stage_key(root))


def _loaded_two_stage(key: tuple[str, str, str]):
    try:
        return _two_stage(*key)
    except Exception as error:  # a ranker that fails to load must become an empty state
        raise MissingArtifact(
            "loadable ranker",
            Path(key[0]),
            "seqlens train ranker",
            f"{type(error).__name__}: {error}",
        ) from error


@st.cache_data(show_spinner=False, max_entries=256)
def _recommend_ranked(
    ranker_dir: str, retriever_dir: str, stamp: str, history: tuple[str, ...], k: int
):
    result = _two_stage(ranker_dir, retriever_dir, stamp).recommend([list(history)], k=k)
    return _first_row(result)


def shows_ranked(root: Path, history: list[str]) -> bool:
    """Whether the Recommendations page shows the two-stage list for `history` (a non-empty
    history and a trained ranker in the root) rather than the retriever's."""
    return bool(history) and artifacts.ranker_dir_if_trained(root) is not None


def recommend_ranked(root: Path, history: list[str], k: int):
    """Two-stage `(item_ids, scores (k,), attention (k, T), attended history (T,))` for one
    non-empty history: row `i` of `attention` is recommended item `i`'s own attention."""
    if not history:
        raise ValueError("Expected a non-empty history. Received: history=[]")
    key = _two_stage_key(root)  # the folders and their fingerprints, read once
    k = max(1, min(int(k), _loaded_two_stage(key).num_candidates))
    return _recommend_ranked(*key, tuple(history), k)


def item_vocabulary(root: Path) -> set[str]:
    """Item ids the recommender knows."""
    return set(map(str, recommender(root).item_ids))
