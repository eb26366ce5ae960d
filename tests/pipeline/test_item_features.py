"""Item features: the three readers, dead letters, the vocabulary files, the pipeline flag."""

import json

import pandas as pd
import pytest

from pipeline import item_features
from pipeline.events import run_events_pipeline
from pipeline.item_features import (
    UNKNOWN_FEATURE,
    item_feature_tables,
    read_item_features,
    write_item_features,
)
from seqlens.jobs import pipelines


def test_s3rec_json_reader_dead_letters_malformed_entries(tmp_path):
    path = tmp_path / "Toys_item2attributes.json"
    path.write_text(json.dumps({"4": [1, 2], "5": "not a list", "6": [3, True], "": [1], "7": []}))
    rows = read_item_features(path)
    assert rows.features == {"4": ["attribute=1", "attribute=2"], "7": []}
    assert sorted(rows.dead_reasons) == ["empty_id", "malformed_record", "malformed_record"]
    assert rows.rows_in == 5


def test_movielens_reader_splits_genres_and_keeps_quoted_titles(tmp_path):
    path = tmp_path / "movies.csv"
    path.write_bytes(
        b"movieId,title,genres\r\n"
        b'1,"Toy Story, the (1995)",Animation|Comedy\r\n'
        b"2,Heat (1995)\r\n"
        b"3,Nothing (2000),(no genres listed)\r\n"
        b"1,Again,Drama\r\n"
    )
    rows = read_item_features(path)
    assert rows.features == {"1": ["genre=Animation", "genre=Comedy"], "3": []}
    assert rows.dead_reasons == ["wrong_column_count", "duplicate"]
    assert rows.dead_lines == [3, 5]


def test_csv_reader_uses_every_column_but_title(tmp_path):
    path = tmp_path / "items.csv"
    path.write_bytes(
        b"item_id,title,category,brand\n"
        b"a,Alpha,shoes,acme\n"
        b"b,Beta,shoes|outdoor,\n"
        b"[seqlens:oov],x,y,z\n"
        b"c,\xff,bags,acme\n"
    )
    rows = read_item_features(path)
    assert rows.features == {
        "a": ["brand=acme", "category=shoes"],
        "b": ["category=outdoor", "category=shoes"],
    }
    assert rows.dead_reasons == ["reserved_id", "invalid_utf8"]


def test_bad_files_and_formats_get_clear_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="item_features="):
        read_item_features(tmp_path / "missing.csv")
    bad_json = tmp_path / "bad.json"
    bad_json.write_text("[1, 2]")
    with pytest.raises(ValueError, match="Expected a JSON object"):
        read_item_features(bad_json)
    no_header = tmp_path / "no_header.csv"
    no_header.write_text("1,shoes\n")
    with pytest.raises(ValueError, match="header starting with 'item_id'"):
        read_item_features(no_header)
    with pytest.raises(ValueError, match="item_features_format="):
        read_item_features(no_header, "xml")


def test_tables_cover_the_vocabulary_with_unknown_and_cold_items():
    rows = item_features.ItemFeatureRows(
        features={"b": ["category=x"], "cold": ["category=y"]}, rows_in=3
    )
    rows.dead("wrong_column_count", 2, "bad")
    table, values, stats = item_feature_tables(rows, ["a", "b"])
    frame = table.to_pandas()
    assert frame["item_id"].tolist() == ["a", "b", "cold"]
    assert [list(f) for f in frame["features"]] == [
        [UNKNOWN_FEATURE],
        ["category=x"],
        ["category=y"],
    ]
    assert frame["in_vocabulary"].tolist() == [True, True, False]
    assert values.num_rows == 3
    assert stats["balanced"] and stats["rows_dead"] == 1
    assert stats["vocabulary_items_without_features"] == 1
    assert stats["items_outside_vocabulary"] == 1


def test_command_line_formats_match_the_module():
    assert pipelines.ITEM_FEATURE_FORMATS == item_features.ITEM_FEATURE_FORMATS
    with pytest.raises(FileNotFoundError, match="item_features="):
        pipelines.check_item_features_input("/no/such/file.csv")


def test_events_pipeline_writes_item_features(tmp_path):
    events = tmp_path / "events.csv"
    events.write_text(
        "user_id,item_id,timestamp\n"
        + "".join(f"u{u},i{(u + t) % 4},{1_700_000_000 + t}\n" for u in range(3) for t in range(4))
    )
    features = tmp_path / "items.csv"
    features.write_text("item_id,title,category\ni0,Zero,red\ni1,One,blue\nnew,New,red\nbad,row\n")
    output = tmp_path / "run"
    stats = run_events_pipeline(events, output, item_features=features)
    frame = pd.read_parquet(output / "vocab" / "item_features.parquet")
    vocabulary = (output / "vocab" / "items.txt").read_text().splitlines()
    assert frame["item_id"].tolist() == vocabulary + ["new"]
    by_item = dict(zip(frame["item_id"], frame["features"], strict=True))
    assert list(by_item["i2"]) == [UNKNOWN_FEATURE] and list(by_item["new"]) == ["category=red"]
    dead = pd.read_parquet(output / "item_features_dead_letter")
    assert dead["reason"].tolist() == ["wrong_column_count"]
    assert stats["item_features"]["rows_dead"] == 1 and stats["item_features"]["balanced"]
    assert stats["balanced"]  # the events' own balance is unchanged
    with pytest.raises(ValueError, match="item_features_format="):
        run_events_pipeline(events, output, item_features=features, item_features_format="xml")


def test_write_item_features_needs_a_run_folder(tmp_path):
    features = tmp_path / "items.csv"
    features.write_text("item_id,category\na,x\n")
    with pytest.raises(FileNotFoundError, match="vocab/items.txt"):
        write_item_features(features, tmp_path)


def test_command_line_flag(tmp_path, capsys):
    from seqlens.cli import main

    events = tmp_path / "events.csv"
    events.write_text("user_id,item_id,timestamp\nu1,a,1700000000\nu1,b,1700000001\n")
    features = tmp_path / "movies.csv"
    features.write_text("movieId,title,genres\na,A,Drama|Comedy\n")
    output = tmp_path / "run"
    arguments = ["pipeline", "events", "--input", str(events), "--output", str(output)]
    assert main([*arguments, "--item-features", str(features)]) == 0
    frame = pd.read_parquet(output / "vocab" / "item_features.parquet")
    assert [list(values) for values in frame["features"]] == [
        ["genre=Comedy", "genre=Drama"],
        [UNKNOWN_FEATURE],
    ]
    capsys.readouterr()
    assert main([*arguments, "--item-features", str(tmp_path / "missing.csv")]) == 2
    assert "item_features=" in capsys.readouterr().err
