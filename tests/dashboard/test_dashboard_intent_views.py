import pandas as pd
import pytest

from dashboard.intent_views import OUT_OF_SCOPE_LABEL, intent_counts_over_time, prediction_summary


def messages():
    return pd.DataFrame(
        {
            "time": pd.to_datetime([0, 3600, 86_400, 90_000], unit="s", utc=True),
            "label": ["refund", "refund", "greeting", "refund"],
            "out_of_scope": [False, True, False, False],
        }
    )


def test_counts_per_day_with_out_of_scope():
    counts, share = intent_counts_over_time(messages(), period="day")
    assert list(counts.index.strftime("%Y-%m-%d")) == ["1970-01-01", "1970-01-02"]
    assert counts.loc[counts.index[0], "refund"] == 1
    assert counts.loc[counts.index[0], OUT_OF_SCOPE_LABEL] == 1
    assert list(share) == [0.5, 0.0]


def test_counts_from_labels_without_out_of_scope():
    frame = messages().drop(columns="out_of_scope").rename(columns={"label": "intent"})
    counts, share = intent_counts_over_time(frame, period="week", label_column="intent")
    assert counts.to_numpy().sum() == 4 and (share == 0).all()


def test_period_is_validated():
    with pytest.raises(ValueError, match="Received: period='month'"):
        intent_counts_over_time(messages(), period="month")


def test_prediction_summary():
    row = pd.Series({"label": "refund", "confidence": 0.8, "out_of_scope": True})
    assert prediction_summary(row) == {"intent": "refund", "confidence": 0.8, "out_of_scope": True}


def test_recent_chats_are_the_latest_by_time_oldest_first():
    from dashboard.intent_views import recent_chats

    chats = pd.DataFrame({"time": [5, 1, 4, 2, 3], "text": ["e", "a", "d", "b", "c"]})
    assert recent_chats(chats, limit=3)["text"].tolist() == ["c", "d", "e"]
    assert recent_chats(chats, limit=3).index.tolist() == [0, 1, 2]
    with pytest.raises(ValueError, match="Received: limit=0"):
        recent_chats(chats, limit=0)
