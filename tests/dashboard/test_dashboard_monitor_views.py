import pandas as pd

from dashboard.artifacts import load_alerts, load_scored_texts
from dashboard.monitor_views import (
    alert_label,
    alert_table,
    filter_alerts,
    ordered_severities,
    texts_for_alert,
)
from tests.dashboard_fixtures import MALICIOUS_TWEET, write_data_artifacts


def test_filters_combine(tmp_path):
    alerts = load_alerts(write_data_artifacts(tmp_path))
    assert len(filter_alerts(alerts)) == 2
    assert list(filter_alerts(alerts, tickers=["EVIL"])["ticker"]) == ["EVIL"]
    assert filter_alerts(alerts, tickers=["EVIL"], severities=["info"]).empty
    assert list(filter_alerts(alerts, directions=["up"])["ticker"]) == ["GOOD"]


def test_severities_in_order():
    assert ordered_severities(["info", "critical", "weird", "warning", "info"]) == [
        "critical",
        "warning",
        "info",
        "weird",
    ]


def test_alert_table_and_label(tmp_path):
    alerts = load_alerts(write_data_artifacts(tmp_path))
    table = alert_table(alerts)
    assert table.loc[0, "z"] == -4.2
    assert alert_label(alerts.iloc[0]).startswith(
        "EVIL · sentiment · negative · critical · 2024-01-03"
    )


def test_texts_for_alert_from_scored_window_most_negative_first(tmp_path):
    root = write_data_artifacts(tmp_path)
    alerts, scored = load_alerts(root), load_scored_texts(root)
    texts = texts_for_alert(alerts.iloc[0], scored)
    assert texts.loc[0, "text"] == MALICIOUS_TWEET
    assert len(texts) == 4  # 3 neutral texts of that day + the tweet
    assert len(texts.loc[0, "tokens"]) == len(texts.loc[0, "token_attention"])


def test_texts_for_alert_falls_back_to_top_texts(tmp_path):
    alerts = load_alerts(write_data_artifacts(tmp_path))
    texts = texts_for_alert(alerts.iloc[0], None)
    assert list(texts["text"]) == [MALICIOUS_TWEET]
    assert texts["tokens"].isna().all()
    empty = texts_for_alert(alerts.iloc[1], pd.DataFrame())
    assert empty.empty
