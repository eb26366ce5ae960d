"""AppTest of every dashboard page: on fixture artifacts, on an empty root, with hostile text."""

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from tests.dashboard_fixtures import MALICIOUS_TWEET, write_data_artifacts
from tests.paths import REPO_ROOT

APP = str(REPO_ROOT / "dashboard" / "app.py")
PAGES = {
    "recommendations": "app_pages/recommendations.py",
    "sentiment": "app_pages/sentiment_monitor.py",
    "intents": "app_pages/intents.py",
    "models": "app_pages/models_overview.py",
}


def run_page(root: Path, page: str) -> AppTest:
    app = AppTest.from_file(
        APP, default_timeout=600
    )  # generous: first runs import TensorFlow on a busy machine
    app.session_state["artifacts_root"] = str(root)
    app.switch_page(PAGES[page])
    app.run()
    return app


def assert_no_exception(app: AppTest) -> None:
    assert not app.exception, [element.value for element in app.exception]
    assert not app.error, [element.value for element in app.error]


@pytest.fixture(scope="module")
def data_root(tmp_path_factory):
    return write_data_artifacts(tmp_path_factory.mktemp("dashboard_data"))


@pytest.mark.parametrize("page", sorted(PAGES))
def test_empty_root_shows_which_command_to_run(tmp_path, page):
    app = run_page(tmp_path, page)
    assert_no_exception(app)
    messages = " ".join(element.value for element in app.info)
    assert "seqlens" in messages and "seqlens demo" in messages


@pytest.mark.parametrize("page", sorted(PAGES))
def test_every_page_renders_on_data_artifacts(data_root, page):
    assert_no_exception(run_page(data_root, page))


def test_recommendations_page_without_model_still_shows_history(data_root):
    app = run_page(data_root, "recommendations")
    assert app.selectbox[0].value == "u00"
    assert any("seqlens train recommender" in element.value for element in app.info)
    search = app.text_input[0]
    search.input("u07").run()
    assert app.selectbox[0].options == ["u07"]
    assert_no_exception(app)


def test_sentiment_page_escapes_hostile_tweet(data_root):
    app = run_page(data_root, "sentiment")
    assert_no_exception(app)
    assert app.selectbox[0].value == "EVIL"  # the ticker with the most alerts comes first
    html_bodies = [element.proto.body for element in app.get("html")]
    joined = " ".join(html_bodies)
    assert "&lt;script&gt;" in joined and "&lt;img src=x onerror=alert(1)&gt;" in joined
    assert "<script" not in joined and "<img" not in joined
    # the raw tweet is shown only as plain text, never as Markdown or HTML
    assert MALICIOUS_TWEET in [element.value for element in app.text]
    for element in app.markdown:
        assert "<script" not in element.value and "<img" not in element.value


def test_sentiment_filters_narrow_the_alert_list(data_root):
    app = run_page(data_root, "sentiment")
    app.multiselect[2].select("info").run()  # severity
    assert_no_exception(app)
    assert list(app.dataframe[0].value["ticker"]) == ["GOOD"]


def test_models_page_shows_metrics_beside_baseline_and_gate_decisions(data_root):
    app = run_page(data_root, "models")
    assert_no_exception(app)
    metrics = app.dataframe[0].value
    assert {"protocol", "recommender", "most popular (baseline)"} <= set(metrics.columns)
    assert "popularity (baseline)" in app.dataframe[1].value.columns  # an extra model folder
    decisions = app.dataframe[-1].value
    assert list(decisions["decision"]) == ["rejected", "published", "published"]


# ---- with real trained models (tiny, trained once for this module) -------------------------


@pytest.fixture(scope="module")
def model_root(tmp_path_factory):
    from tests.dashboard_fixtures import write_trained_models

    return write_trained_models(write_data_artifacts(tmp_path_factory.mktemp("dashboard_models")))


def recommendation_tables(app: AppTest) -> list:
    """The top-k tables on the page (user first, then the ad-hoc history's)."""
    return [element.value for element in app.dataframe if "rank" in element.value.columns]


def test_picking_a_user_changes_the_recommendations(model_root):
    app = run_page(model_root, "recommendations")
    assert_no_exception(app)
    first = list(recommendation_tables(app)[0]["item_id"])
    assert len(first) == 10
    assert "Because you interacted with" in " ".join(element.value for element in app.markdown)
    assert app.get("plotly_chart"), "attention heatmap missing"
    app.selectbox[0].select("u17").run()
    assert_no_exception(app)
    second = list(recommendation_tables(app)[0]["item_id"])
    assert second != first


def test_ad_hoc_history_gives_live_recommendations(model_root):
    app = run_page(model_root, "recommendations")
    app.text_area(key="adhoc_history").input("1, 2, 3, zzz").run()
    assert_no_exception(app)
    tables = recommendation_tables(app)
    assert len(tables) == 2
    items = list(tables[-1]["item_id"])
    assert len(items) == 10 and not {"1", "2", "3"} & set(items)  # history excluded
    assert any("zzz" in element.value for element in app.warning)


def test_typing_a_message_shows_its_intent(model_root):
    app = run_page(model_root, "intents")
    assert_no_exception(app)
    app.text_input(key="intent_message").input("please cancel my order <script>x</script>").run()
    assert_no_exception(app)
    metrics = {element.label: element.value for element in app.metric}
    assert metrics["Intent"] in {"cancel_order", "track_order", "refund", "greeting"}
    assert metrics["Out of scope"] in {"yes", "no"}
    assert "Out-of-scope share" in metrics  # the chat log was predicted too
    html = " ".join(element.proto.body for element in app.get("html"))
    assert "&lt;script&gt;" in html or "script" in html
    assert "<script" not in html
    captions = " ".join(element.value for element in app.caption)
    assert "Attention of the deep branch" in captions and "wide (n-gram) branch" in captions


def test_models_page_shows_trained_models_and_curves(model_root):
    app = run_page(model_root, "models")
    assert_no_exception(app)
    model_choice = app.get("button_group")[0]
    assert {"recommender", "intent"} <= {option.content for option in model_choice.proto.options}
    assert len(app.get("plotly_chart")) == 2  # loss and validation metrics of the first model


def test_titles_and_categories_shown_for_recommended_and_history_items(model_root, tmp_path):
    import shutil

    import pandas as pd

    root = tmp_path / "root"
    shutil.copytree(model_root, root)
    (root / "raw" / "movies.csv").unlink()
    items = [str(item) for item in range(1, 41)]
    # an items file beside the events run's vocabulary is found without any setting
    pd.DataFrame(
        {
            "item_id": items,
            "title": [f"Trail running shoes, size {item}" for item in items],
            "category": ["Running" if int(item) % 2 else "Camping" for item in items],
        }
    ).to_csv(root / "data" / "events" / "vocab" / "items.csv", index=False)
    app = run_page(root, "recommendations")
    assert_no_exception(app)
    recommended = recommendation_tables(app)[0]
    assert all(title.startswith("Trail running shoes") for title in recommended["title"])
    assert set(recommended["category"]) <= {"Running", "Camping"}
    history = next(table for table in (e.value for e in app.dataframe) if "split" in table)
    assert all(title.startswith("Trail running shoes") for title in history["title"])
    assert set(history["category"]) <= {"Running", "Camping"}
    because = " ".join(element.value for element in app.markdown)
    assert "Trail running shoes" in because


@pytest.fixture(scope="module")
def ranker_root(model_root, tmp_path_factory):
    """`model_root` plus a tiny real two-stage ranker (`models/ranker`) over its recommender."""
    import shutil

    from tests.dashboard_fixtures import write_trained_ranker

    root = tmp_path_factory.mktemp("dashboard_ranker") / "root"
    shutil.copytree(model_root, root)
    return write_trained_ranker(root)


def test_a_ranker_gives_each_recommendation_its_own_reason_and_heatmap_row(ranker_root):
    from dashboard.recommendation_views import REASON_COLUMN

    app = run_page(ranker_root, "recommendations")
    assert_no_exception(app)
    table = recommendation_tables(app)[0]
    assert len(table) == 10 and REASON_COLUMN in table.columns
    history_table = next(e.value for e in app.dataframe if "split" in e.value.columns)
    history_items = set(history_table["item_id"].astype(str))
    for reason in table[REASON_COLUMN]:  # "<item or title (item)> (<share>%)", from the history
        named = reason.rsplit(" (", 1)[0]
        assert any(named == item or named.endswith(f"({item})") for item in history_items), reason
    captions = " ".join(element.value for element in app.caption)
    assert "Each recommended item attended to the history on its own" in captions
    heatmap = app.get("plotly_chart")[-1]
    assert "What each recommendation attended to" in heatmap.proto.spec
    app.text_area(key="adhoc_history").input("1, 2, 3").run()  # the ad-hoc history too
    assert_no_exception(app)
    assert REASON_COLUMN in recommendation_tables(app)[-1].columns
