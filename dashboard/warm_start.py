"""Warm start: load the models in the background so that a first page visit does not wait.

Without it, the first visit of a page that needs a model imports TensorFlow and loads the model
(10-27 s on a 2-core machine). `start_warm_start(root)` starts one daemon thread per server
process that fills the dashboard's `st.cache_resource` entries (`dashboard.cache`) for every
trained model of the artifacts root and runs one prediction through each (so the predict
functions are traced too). The page scripts then find the models already loaded.

`seqlens dashboard` starts the thread when the server starts (`dashboard.server`), and every page
run of that server warms a root typed into the sidebar the same way (`warm_if_following`, a
no-op for a root already started). `warm_start_state()` says what is warm; the server logs one
line per root when it is done.
"""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path

logger = logging.getLogger("seqlens.dashboard")

# The models a page may need, in the order they are warmed (the landing page's first).
WARM_MODELS = ("recommender", "sentiment", "intent")
WARM_LINE_PREFIX = "seqlens dashboard: warm start done"
# The Recommendations page's default number of recommendations (its sidebar slider's value).
LANDING_PAGE_K = 10

_lock = threading.Lock()
_threads: dict[str, threading.Thread] = {}
_state: dict[str, dict] = {}
_following = {"enabled": False}


def warm_models(root: Path) -> dict[str, float | str]:
    """Load every trained model of `root` into the dashboard's caches; one prediction each.

    Args:
        root: the artifacts root.

    Returns:
        Per model, the seconds it took, or why it is not (fully) warm (`not loaded: ...`).
    """
    from dashboard import cache
    from dashboard.artifacts import MissingArtifact

    outcome: dict[str, float | str] = {}
    for name in WARM_MODELS:
        started = time.perf_counter()
        try:
            model = (
                cache.recommender(root) if name == "recommender" else cache.text_model(root, name)
            )
        except MissingArtifact as error:
            outcome[name] = f"not loaded: {error.what}"
            continue
        try:  # one prediction traces the predict functions; its failure is only reported
            if name != "recommender":
                model.predict(["warm start"])
            elif len(model.item_ids):
                model.recommend([[str(model.item_ids[0])]], k=min(10, len(model.item_ids)))
        except Exception as error:  # noqa: BLE001 - the model is loaded; the page will say more
            outcome[name] = f"loaded; warm-up prediction failed: {type(error).__name__}"
            continue
        outcome[name] = round(time.perf_counter() - started, 3)
    outcome["landing_page"] = warm_landing_page(root)
    outcome["intents_page"] = warm_intents_page(root)
    return outcome


def warm_intents_page(root: Path) -> float | str:
    """Classify the chat log the Intents page shows (`recent_chats`) into its cache.

    Args:
        root: the artifacts root.

    Returns:
        The seconds it took, or why it stopped (`not warmed: ...`).
    """
    from dashboard import cache
    from dashboard.intent_views import recent_chats

    def fill() -> None:
        recent = recent_chats(cache.texts(root, "chats"))
        cache.predict_texts(root, "intent", recent["text"].astype(str).tolist())

    return _warm_step(fill)


def _warm_step(fill) -> float | str:
    """Run `fill()`; its seconds, or why it stopped (`not warmed: ...`): a missing artifact or
    a bad file is the page's to report, never the warm-up's to raise."""
    from dashboard.artifacts import MissingArtifact

    started = time.perf_counter()
    try:
        fill()
    except MissingArtifact as error:
        return f"not warmed: {error.what}"
    except (ValueError, OSError, KeyError) as error:
        return f"not warmed: {type(error).__name__}"
    return round(time.perf_counter() - started, 3)


def warm_landing_page(root: Path) -> float | str:
    """Fill what the Recommendations page (the landing page) reads on a first visit.

    The sequences, the item titles and categories, the plotting module, and the default view's
    recommendations (the first user, the page's default history choice and `k`; two-stage when
    the root has a ranker, as the page shows them), so the first visit renders from the caches.

    Args:
        root: the artifacts root.

    Returns:
        The seconds it took, or why it stopped (`not warmed: ...`).
    """
    from dashboard import cache, charts  # noqa: F401 - imports plotly once, off the page's time
    from dashboard.artifacts import find_item_metadata
    from dashboard.recommendation_views import HISTORY_CHOICES, user_history

    def fill() -> None:
        metadata = find_item_metadata(root)
        cache.item_titles(metadata)
        cache.item_categories(metadata)
        sequences = cache.sequences(root)
        if len(sequences):
            history = user_history(sequences.iloc[0], next(iter(HISTORY_CHOICES)))
            if cache.shows_ranked(root, history):  # what the page shows then
                cache.recommend_ranked(root, history, LANDING_PAGE_K)
            else:
                cache.recommend(root, history, LANDING_PAGE_K)

    return _warm_step(fill)


def wait_until_serving(url: str, timeout_seconds: float = 120.0) -> bool:
    """Poll Streamlit's health endpoint at `url` until it answers `ok`; False on timeout."""
    import urllib.request

    deadline = time.monotonic() + timeout_seconds
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as answer:
                if answer.read().strip() == b"ok":
                    return True
        except OSError:
            pass
        time.sleep(0.25)
    return False


def _run(root: Path, key: str, after_serving: str | None) -> None:
    if after_serving:  # let the server come up first: it answers sooner, the models follow
        wait_until_serving(after_serving)
    started = time.perf_counter()
    try:
        models = warm_models(root)
        error = None
    except Exception as exception:  # a warm-up failure must never stop the server
        models, error = {}, f"{type(exception).__name__}: {exception}"
    seconds = round(time.perf_counter() - started, 3)
    _state[key] = {"done": True, "seconds": seconds, "models": models, "error": error}
    line = f"{WARM_LINE_PREFIX} in {seconds:.1f} s over {root}: {models}"
    if error:
        line += f" (stopped: {error})"
    print(line, flush=True)
    logger.info(line)


def start_warm_start(root: str | Path, after_serving: str | None = None) -> threading.Thread:
    """Start warming the models of `root` in a daemon thread, once per root and process.

    Args:
        root: the artifacts root.
        after_serving: the server's base URL (`http://127.0.0.1:8501`): wait until it answers
            its health check (at most 2 minutes) before loading anything; None = at once.

    Returns:
        The warm-up thread (the running or finished one when already started).
    """
    if not str(root):
        raise ValueError(f"Expected a non-empty artifacts root. Received: root={root!r}")
    key = str(Path(root).resolve())
    with _lock:
        thread = _threads.get(key)
        if thread is None:
            _state[key] = {"done": False}
            thread = threading.Thread(
                target=_run,
                # as given: the page scripts key their caches on the root as typed
                args=(Path(root), key, after_serving),
                name="seqlens-warm-start",
                daemon=True,
            )
            _threads[key] = thread
            thread.start()
    return thread


def warm_start_state(root: str | Path) -> dict:
    """`{"done": bool, "seconds": ..., "models": {...}, "error": ...}`; `{}` when not started."""
    return dict(_state.get(str(Path(root).resolve()), {}))


def follow_sidebar_roots(enabled: bool = True) -> None:
    """Warm every artifacts root a page run names (`warm_if_following`), not only the first.

    `dashboard.server` turns it on: a root typed into the sidebar then warms in the background
    too. Off by default, so `streamlit run` and AppTest sessions load nothing in the background.
    """
    _following["enabled"] = bool(enabled)


def warm_if_following(root: str | Path) -> None:
    """Start warming `root` (an existing folder) when `follow_sidebar_roots` is on; else nothing."""
    if _following["enabled"] and str(root) and Path(root).is_dir():
        start_warm_start(root)
