import json

import pytest

from models.serving.candidates import model_kind


def test_model_kind_from_the_folder_files(tmp_path):
    (tmp_path / "rec").mkdir()
    (tmp_path / "rec" / "item_vocab.txt").write_text("a\n")
    assert model_kind(tmp_path / "rec") == "recommender"
    (tmp_path / "text").mkdir()
    (tmp_path / "text" / "labels.json").write_text("[]")
    (tmp_path / "text" / "config.json").write_text(json.dumps({"task": "intent"}))
    assert model_kind(tmp_path / "text") == "intent"
    with pytest.raises(FileNotFoundError, match="Received: model="):
        model_kind(tmp_path)
