"""Warm start: the models are loaded into the dashboard's caches in the background."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from dashboard import cache
from dashboard.intent_views import recent_chats
from dashboard.recommendation_views import HISTORY_CHOICES, user_history
from dashboard.server import app_arguments, main, server_url
from dashboard.warm_start import (
    LANDING_PAGE_K,
    WARM_LINE_PREFIX,
    WARM_MODELS,
    follow_sidebar_roots,
    start_warm_start,
    warm_if_following,
    warm_landing_page,
    warm_models,
    warm_start_state,
)
from tests.dashboard_fixtures import write_data_artifacts
from tests.paths import REPO_ROOT


@pytest.fixture(scope="module")
def model_root(tmp_path_factory):
    from tests.dashboard_fixtures import write_trained_models

    return write_trained_models(write_data_artifacts(tmp_path_factory.mktemp("warm_models")))


def test_warm_models_names_what_is_not_trained(tmp_path):
    outcome = warm_models(tmp_path)
    assert set(outcome) == {"recommender", "sentiment", "intent", "landing_page", "intents_page"}
    assert all(str(outcome[name]).startswith("not loaded") for name in WARM_MODELS)
    assert outcome["landing_page"].startswith("not warmed")
    assert outcome["intents_page"].startswith("not warmed")


def test_background_thread_fills_the_caches_the_pages_read(model_root, monkeypatch):
    monkeypatch.chdir(model_root.parent)
    relative = Path(model_root.name)  # as `seqlens dashboard --artifacts NAME` passes it
    thread = start_warm_start(relative)
    assert start_warm_start(model_root) is thread  # once per root and process
    thread.join(timeout=600)
    state = warm_start_state(relative)
    assert state["done"] and state["error"] is None
    assert isinstance(state["models"]["recommender"], float)
    assert isinstance(state["models"]["intent"], float)
    assert isinstance(state["models"]["landing_page"], float)
    assert isinstance(state["models"]["intents_page"], float)
    assert state["models"]["sentiment"].startswith("not loaded")

    def no_second_load(*arguments):
        raise AssertionError("the page loaded a model the warm start had loaded")

    monkeypatch.setattr("models.recommender.inference.load_recommender", no_second_load)
    monkeypatch.setattr("models.text.inference.load_text_model", no_second_load)
    first = cache.recommender(relative)  # the page's root, as typed: the warmed entry
    assert cache.recommender(relative) is first
    assert cache.text_model(relative, "intent") is cache.text_model(relative, "intent")
    sequences = cache.sequences(relative)
    history = user_history(sequences.iloc[0], next(iter(HISTORY_CHOICES)))
    item_ids, scores, _, _ = cache.recommend(relative, history, LANDING_PAGE_K)
    assert len(item_ids) == len(scores) == LANDING_PAGE_K
    recent = recent_chats(cache.texts(relative, "chats"))
    predictions = cache.predict_texts(relative, "intent", recent["text"].astype(str).tolist())
    assert len(predictions) == len(recent) > 0


def test_with_a_ranker_the_warm_up_fills_the_two_stage_list_the_page_shows(
    model_root, tmp_path, monkeypatch
):
    import shutil

    from tests.dashboard_fixtures import write_trained_ranker

    root = tmp_path / "root"
    shutil.copytree(model_root, root)
    write_trained_ranker(root)
    assert isinstance(warm_landing_page(root), float)

    def no_load(*arguments):
        raise AssertionError("the page loaded the ranker the warm start had loaded")

    monkeypatch.setattr("models.recommender.ranker_inference.load_two_stage", no_load)
    history = user_history(cache.sequences(root).iloc[0], next(iter(HISTORY_CHOICES)))
    item_ids, scores, attention, attended = cache.recommend_ranked(root, history, LANDING_PAGE_K)
    assert len(item_ids) == len(scores) == LANDING_PAGE_K
    assert attention.shape == (LANDING_PAGE_K, len(attended))


def test_server_arguments_and_errors():
    assert app_arguments(["run", "app.py", "--", "--artifacts", "x"]) == ["--artifacts", "x"]
    assert app_arguments(["run", "app.py"]) == []
    assert server_url(["run", "app.py", "--", "--artifacts", "x"]) == "http://localhost:8501"
    options = ["run", "a.py", "--server.port", "8600", "--server.address", "0.0.0.0"]
    assert server_url(options) == "http://127.0.0.1:8600"
    assert server_url(["run", "a.py", "--server.port", "0"]) is None
    with pytest.raises(ValueError, match="Received: argv=\\['hello'\\]"):
        main(["hello"])
    with pytest.raises(ValueError, match="Received: root=''"):
        start_warm_start("")


def test_server_process_reports_the_warm_start_once_it_serves(tmp_path):
    from tests.dashboard_browser_harness import free_port

    port = str(free_port())
    command = [sys.executable, "-m", "dashboard.server", "run", str(REPO_ROOT / "dashboard/app.py")]
    command += ["--server.headless", "true", "--server.port", port, "--server.address", "127.0.0.1"]
    command += ["--browser.gatherUsageStats", "false", "--", "--artifacts", str(tmp_path)]
    server = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        lines = []
        deadline = time.monotonic() + 300  # a wait limit for a busy machine, not a timing check
        while time.monotonic() < deadline:
            line = server.stdout.readline()
            if not line:
                break
            lines.append(line)
            if line.startswith(WARM_LINE_PREFIX):
                break
        assert any(line.startswith(WARM_LINE_PREFIX) for line in lines), lines[-20:]
        assert "not loaded" in lines[-1]
    finally:
        server.terminate()
        server.wait(timeout=60)


def test_sidebar_roots_warm_only_when_following(tmp_path):
    first, second = tmp_path / "first", tmp_path / "second"
    first.mkdir()
    second.mkdir()
    warm_if_following(first)
    assert warm_start_state(first) == {}  # off by default (streamlit run, AppTest)
    follow_sidebar_roots()
    try:
        warm_if_following(second)
        warm_if_following(tmp_path / "missing")
    finally:
        follow_sidebar_roots(False)
    start_warm_start(second).join(timeout=600)
    assert warm_start_state(second)["done"]
    assert warm_start_state(tmp_path / "missing") == {}
