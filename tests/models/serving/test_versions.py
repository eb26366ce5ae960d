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


@pytest.mark.parametrize("name", ["", "a/b", ".hidden"])
def test_model_name_is_validated(tmp_path, name):
    with pytest.raises(ValueError, match="Received: name="):
        sv.model_base_path(tmp_path, name)
