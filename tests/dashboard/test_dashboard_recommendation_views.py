import pytest

from dashboard.recommendation_views import (
    REASON_COLUMN,
    history_timeline,
    parse_history_text,
    recommendations_frame,
    search_users,
    user_history,
)

ROW = {
    "user_id": "u1",
    "item_ids": ["10", "11", "12", "13"],
    "timestamps": [0, 60, 120, 180],
    "event_types": None,
    "valid_position": 2,
    "test_position": 3,
}


def test_search_users_exact_match_first():
    users = ["u1", "u10", "u11", "x1"]
    assert search_users(users, "U1") == ["u1", "u10", "u11"]
    assert search_users(users, "", limit=2) == ["u1", "u10"]
    assert search_users(users, "zzz") == []


def test_search_users_rejects_zero_limit():
    with pytest.raises(ValueError, match="Received: limit=0"):
        search_users(["a"], "a", limit=0)


def test_user_history_full_and_test():
    assert user_history(ROW, "full") == ["10", "11", "12", "13"]
    assert user_history(ROW, "test") == ["10", "11", "12"]
    with pytest.raises(ValueError, match="Received: which='train'"):
        user_history(ROW, "train")


def test_history_timeline_marks_targets_and_titles():
    timeline = history_timeline(ROW, {"12": "Twelve"})
    assert list(timeline["split"]) == ["train", "train", "validation target", "test target"]
    assert list(timeline["title"]) == ["", "", "Twelve", ""]
    assert str(timeline["time"].dt.tz) == "UTC"


def test_parse_history_text_splits_and_checks_vocabulary():
    assert parse_history_text(" 1, 2;3\n4 ") == (["1", "2", "3", "4"], [])
    assert parse_history_text("1 99 2", known_items={"1", "2"}) == (["1", "2"], ["99"])
    assert parse_history_text("   ") == ([], [])


def test_recommendations_frame_ranks():
    frame = recommendations_frame(["a", "b"], [0.9, 0.1], {"a": "A"})
    assert list(frame["rank"]) == [1, 2] and list(frame["title"]) == ["A", ""]


def test_categories_add_a_column_beside_the_titles():
    frame = recommendations_frame(["a", "b"], [0.9, 0.1], {"a": "A"}, {"a": "Running"})
    assert list(frame.columns) == ["rank", "item_id", "title", "category", "score"]
    assert list(frame["category"]) == ["Running", ""]
    timeline = history_timeline(ROW, {"12": "Twelve"}, {"12": "Books"})
    assert list(timeline.columns)[3:5] == ["title", "category"]
    assert list(timeline["category"]) == ["", "", "Books", ""]
    assert "category" not in history_timeline(ROW, {"12": "Twelve"}).columns


def test_reasons_add_the_last_column_one_per_item():
    frame = recommendations_frame(["a", "b"], [2.0, 1.0], reasons=["x (60%)", "y (40%)"])
    assert list(frame.columns)[-1] == REASON_COLUMN
    assert list(frame[REASON_COLUMN]) == ["x (60%)", "y (40%)"]
    with pytest.raises(ValueError, match="Received: 1 reasons for 2 items"):
        recommendations_frame(["a", "b"], [2.0, 1.0], reasons=["x"])
