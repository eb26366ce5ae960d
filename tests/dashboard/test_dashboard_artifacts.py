import json

import pandas as pd
import pytest

from dashboard.artifacts import (
    MissingArtifact,
    find_item_metadata,
    fingerprint,
    flag_value,
    list_model_folders,
    list_served_versions,
    load_alerts,
    load_item_categories,
    load_item_titles,
    load_publish_log,
    load_scored_texts,
    load_sequences,
    load_texts,
    load_windows,
    model_dir_if_trained,
    resolve_artifacts_root,
)
from tests.dashboard_fixtures import MALICIOUS_TWEET, NUM_USERS, write_data_artifacts


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    return write_data_artifacts(tmp_path_factory.mktemp("artifacts"))


def test_resolve_root_prefers_flag_then_environment(tmp_path):
    assert str(resolve_artifacts_root(["--artifacts", "a"], {})) == "a"
    assert str(resolve_artifacts_root(["--artifacts=b"], {"SEQLENS_ARTIFACTS": "c"})) == "b"
    assert str(resolve_artifacts_root([], {"SEQLENS_ARTIFACTS": "c"})) == "c"
    assert str(resolve_artifacts_root([], {})) == "seqlens-demo"
    assert flag_value(["--item-metadata", "m.csv"], "--item-metadata") == "m.csv"
    assert flag_value(["--artifacts"], "--artifacts") is None


def test_sequences_and_texts_load(root):
    sequences = load_sequences(root)
    assert len(sequences) == NUM_USERS
    assert sequences["user_id"].is_monotonic_increasing
    chats = load_texts(root, "chats")
    assert str(chats["time"].dt.tz) == "UTC" and len(chats) == 40


def test_load_texts_rejects_unknown_kind(root):
    with pytest.raises(ValueError, match="Received: kind='events'"):
        load_texts(root, "events")


def test_missing_artifacts_name_the_command(tmp_path):
    with pytest.raises(MissingArtifact, match="seqlens pipeline events"):
        load_sequences(tmp_path)
    with pytest.raises(MissingArtifact, match="seqlens pipeline news"):
        load_texts(tmp_path, "news")
    with pytest.raises(MissingArtifact, match="seqlens alerts"):
        load_alerts(tmp_path)
    with pytest.raises(MissingArtifact, match="seqlens train"):
        list_model_folders(tmp_path)
    with pytest.raises(MissingArtifact, match="seqlens train recommender"):
        model_dir_if_trained(tmp_path, "recommender")
    with pytest.raises(MissingArtifact, match="seqlens demo"):
        load_publish_log(tmp_path)


def test_corrupt_parquet_is_a_missing_artifact(tmp_path):
    path = tmp_path / "alerts" / "windows.parquet"
    path.parent.mkdir()
    path.write_bytes(b"not parquet")
    with pytest.raises(MissingArtifact, match="unreadable"):
        load_windows(tmp_path)


def test_alerts_windows_and_scored_texts(root):
    alerts = load_alerts(root)
    assert list(alerts["ticker"]) == ["EVIL", "GOOD"]  # newest window first
    assert str(alerts["window_start"].dt.tz) == "UTC"
    windows = load_windows(root)
    assert set(windows["ticker"]) == {"EVIL", "GOOD"}
    scored = load_scored_texts(root)
    assert MALICIOUS_TWEET in set(scored["text"])


def test_half_written_alert_line_is_skipped(tmp_path):
    (tmp_path / "alerts").mkdir()
    (tmp_path / "alerts" / "alerts.jsonl").write_text(
        json.dumps(
            {
                "ticker": "A",
                "window_start": 0,
                "window_end": 60,
                "kind": "buzz",
                "direction": "up",
                "severity": "low",
            }
        )
        + '\n{"ticker": "B", '
    )
    assert list(load_alerts(tmp_path)["ticker"]) == ["A"]


def test_publish_log_and_served_versions(root):
    log = load_publish_log(root)
    assert list(log["version"]) == [3, 2, 1]
    assert list(list_served_versions(root)["version"]) == [1, 2]


def test_model_folders_put_product_models_first(root):
    folders = list_model_folders(root)
    assert [folder.name for folder in folders] == ["recommender", "popularity"]
    assert folders[1].is_baseline and not folders[0].is_baseline
    assert folders[0].history["loss"] == [2.0, 1.5, 1.2]


def test_item_titles_from_movielens_csv(root):
    titles = load_item_titles(find_item_metadata(root))
    assert titles["2"] == "Film number 2"
    assert load_item_titles(None) == {}


def test_item_titles_without_title_column_raise(tmp_path):
    path = tmp_path / "items.csv"
    pd.DataFrame({"movieId": ["1"], "name_of_thing": ["x"]}).to_csv(path, index=False)
    with pytest.raises(ValueError, match="Received: path="):
        load_item_titles(path)


def test_fingerprint_changes_with_content(tmp_path):
    path = tmp_path / "file.txt"
    assert fingerprint(path) == "missing"
    path.write_text("a")
    first = fingerprint(tmp_path)
    path.write_text("ab")
    assert fingerprint(tmp_path) != first


def test_items_csv_beside_the_vocabulary_gives_titles_and_categories(tmp_path):
    vocab = tmp_path / "data" / "events" / "vocab"
    vocab.mkdir(parents=True)
    path = vocab / "items.csv"
    path.write_text('item_id,title,category\ni00001,"Trail running shoes, size 42",Running\n')
    assert find_item_metadata(tmp_path) == path
    assert load_item_titles(path) == {"i00001": "Trail running shoes, size 42"}
    assert load_item_categories(path) == {"i00001": "Running"}
    raw = tmp_path / "raw"
    raw.mkdir()
    (raw / "items.csv").write_text("item_id,title\ni00001,Shoes\n")
    assert find_item_metadata(tmp_path) == raw / "items.csv"  # the raw logs' file comes first
    assert load_item_categories(raw / "items.csv") == {}
    assert load_item_categories(None) == {}
