import json

import pytest

from models.serving import versions as sv


def _fake_savedmodel(folder):
    folder.mkdir(parents=True)
    (folder / "saved_model.pb").write_bytes(b"pb")
    (folder / "variables").mkdir()
    (folder / "variables" / "variables.index").write_bytes(b"index")
    return folder


def test_versions_ignore_non_integer_and_incomplete_folders(tmp_path):
    base = tmp_path / "recommender"
    _fake_savedmodel(base / "1")
    _fake_savedmodel(base / "3")
    _fake_savedmodel(base / ".incoming-4-abcd")
    (base / "5").mkdir()  # no saved_model.pb: not a version
    assert sv.list_versions(base) == [1, 3]
    assert sv.latest_version(base) == 3
    assert sv.next_version(base) == 6
    assert (
        sv.list_versions(tmp_path / "missing") == [] and sv.next_version(tmp_path / "missing") == 1
    )


def test_commit_renames_the_staging_folder_into_place(tmp_path):
    base = tmp_path / "recommender"
    staged = _fake_savedmodel(sv.staging_dir(base, 1))
    assert staged.name.startswith(".incoming-1-")
    target = sv.commit_version(staged, base, 1)
    assert (
        target == base / "1" and (target / "variables" / "variables.index").read_bytes() == b"index"
    )
    assert not staged.exists()
    with pytest.raises(ValueError, match="Received: version=1"):
        sv.commit_version(_fake_savedmodel(sv.staging_dir(base, 1)), base, 1)


def test_commit_refuses_an_incomplete_or_foreign_folder(tmp_path):
    base = tmp_path / "recommender"
    empty = sv.staging_dir(base, 1)
    empty.mkdir()
    with pytest.raises(ValueError, match="Received: staged="):
        sv.commit_version(empty, base, 1)
    elsewhere = _fake_savedmodel(tmp_path / "elsewhere")
    with pytest.raises(ValueError, match="same filesystem"):
        sv.commit_version(elsewhere, base, 2)


def test_prune_keeps_the_newest_versions(tmp_path):
    base = tmp_path / "m"
    for version in (1, 2, 3, 4):
        _fake_savedmodel(base / str(version))
    assert sv.prune_versions(base, keep=2) == [1, 2]
    assert sv.list_versions(base) == [3, 4]
    assert not [child for child in base.iterdir() if child.name.startswith(".")]
    with pytest.raises(ValueError, match="Received: keep=0"):
        sv.prune_versions(base, keep=0)


def test_roll_back_retires_the_newest_and_never_reuses_its_number(tmp_path):
    base = tmp_path / "m"
    for version in (1, 2):
        _fake_savedmodel(base / str(version))
    assert sv.roll_back(base) == (2, 1)
    assert sv.list_versions(base) == [1]
    assert any(child.name.startswith(".rolled-back-2-") for child in base.iterdir())
    assert sv.next_version(base) == 3
    with pytest.raises(ValueError, match="at least two published versions"):
        sv.roll_back(base)


def test_stale_staging_folders_are_removed(tmp_path):
    base = tmp_path / "m"
    _fake_savedmodel(base / "1")
    _fake_savedmodel(base / ".incoming-2-dead")
    _fake_savedmodel(base / ".retired-1-dead")
    assert sv.remove_stale_staging(base) == [".incoming-2-dead", ".retired-1-dead"]
    assert sorted(child.name for child in base.iterdir()) == ["1"]


def test_publish_log_appends_one_json_object_per_decision(tmp_path):
    entry = {
        "name": "m",
        "version": 1,
        "time": "t",
        "decision": "published",
        "reasons": [],
        "checks": {},
        "metrics": {"ndcg@10": 0.5},
    }
    sv.append_publish_log(tmp_path, entry)
    sv.append_publish_log(tmp_path, {**entry, "version": 2, "decision": "rejected"})
    lines = (tmp_path / "publish_log.jsonl").read_text().splitlines()
    assert [json.loads(line)["decision"] for line in lines] == ["published", "rejected"]
    assert sv.read_publish_log(tmp_path)[1]["version"] == 2
    with pytest.raises(ValueError, match="Received: entry missing"):
        sv.append_publish_log(tmp_path, {"name": "m"})


def test_models_config_lists_each_model_with_a_version_policy(tmp_path):
    _fake_savedmodel(tmp_path / "recommender" / "1")
    _fake_savedmodel(tmp_path / "sentiment" / "1")
    path = sv.write_models_config(tmp_path, num_versions=2)
    text = path.read_text()
    assert text.count("config {") == 2
    assert 'base_path: "/models/recommender"' in text and 'name: "sentiment"' in text
    assert "model_version_policy { latest { num_versions: 2 } }" in text


def test_export_metadata_round_trip(tmp_path):
    sv.write_export_metadata(tmp_path, {"metrics": {"ndcg@10": 0.25}})
    assert sv.read_export_metadata(tmp_path) == {"metrics": {"ndcg@10": 0.25}}
    assert sv.read_export_metadata(tmp_path / "none") == {}


@pytest.mark.parametrize(
    "name",
    ["", "a/b", ".hidden", 'evil" } config { name: "pwned', "a b", "ü", "a\nb", "models.config"],
)
def test_model_name_is_validated(tmp_path, name):
    with pytest.raises(ValueError, match="Received: name="):
        sv.model_base_path(tmp_path, name)
    with pytest.raises(ValueError, match="Received: name="):
        sv.models_config_text([name])


@pytest.mark.parametrize("name", ["recommender", "Sentiment_v2", "intent-1.0", "7"])
def test_tf_serving_names_are_accepted(tmp_path, name):
    assert sv.model_base_path(tmp_path, name) == tmp_path / name


def test_models_config_is_a_parseable_protobuf_listing_only_published_servables(tmp_path):
    from models.serving.models_config import parse_model_server_config

    _fake_savedmodel(tmp_path / "recommender" / "2")
    _fake_savedmodel(tmp_path / "sentiment.v2" / "1")
    (tmp_path / "empty").mkdir()  # no version: not a servable
    (tmp_path / "unfinished" / "1").mkdir(parents=True)  # no saved_model.pb
    _fake_savedmodel(tmp_path / "bad name" / "1")  # not a TF Serving name
    _fake_savedmodel(tmp_path / ".hidden" / "1")
    (tmp_path / "notes.txt").write_text("a file")
    root_in_container = '/srv/"models" }'
    path = sv.write_models_config(tmp_path, serving_root_in_container=root_in_container)
    config = parse_model_server_config(path.read_text())
    entries = [(c.name, c.base_path) for c in config.model_config_list.config]
    assert entries == [
        ("recommender", '/srv/"models" }/recommender'),
        ("sentiment.v2", '/srv/"models" }/sentiment.v2'),
    ]
    assert all(
        c.model_version_policy.latest.num_versions == 1 for c in config.model_config_list.config
    )
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []


def test_portable_paths_are_relative_to_the_artifacts_root(tmp_path):
    root = tmp_path / "artifacts" / "serving"
    assert sv.portable_path(tmp_path / "artifacts" / "models" / "m", root) == "models/m"
    assert sv.portable_path(root / "m" / "3", root) == "serving/m/3"
    assert sv.portable_path(tmp_path / "other" / "trained", root) == "trained"
    assert sv.portable_path("", root) == ""


def test_a_committed_version_without_its_log_line_is_logged_once(tmp_path):
    staged = _fake_savedmodel(sv.staging_dir(tmp_path / "m", 1))
    entry = {
        "name": "m",
        "version": 1,
        "time": "t",
        "decision": "published",
        "reasons": [],
        "checks": {},
        "metrics": {},
    }
    sv.record_decision(staged, entry)
    sv.commit_version(staged, tmp_path / "m", 1)  # ... and the process dies before the log
    assert sv.log_unlogged_versions(tmp_path, "m") == [1]
    assert sv.log_unlogged_versions(tmp_path, "m") == []
    (logged,) = sv.read_publish_log(tmp_path)
    assert logged["recovered"] is True and logged["version"] == 1


def test_symlinks_among_versions_and_staging_folders_are_refused(tmp_path):
    base = tmp_path / "m"
    _fake_savedmodel(base / "1")
    (base / "readme-link").symlink_to(base / "1")  # not a managed name: allowed
    sv.refuse_symlinks(base)
    (base / ".retired-1-123-abcd").symlink_to(base / "1")
    with pytest.raises(ValueError, match=r"Received: path='.*\.retired-1-123-abcd'"):
        sv.refuse_symlinks(base)
    with pytest.raises(ValueError, match="symbolic links"):
        sv.prune_versions(base, keep=1)
    assert sv.remove_stale_staging(base) == []  # a link is never followed nor deleted
    assert (base / "1" / "saved_model.pb").is_file()
