import json
import shutil

import pytest

from models.serving import versions as serving_versions
from seqlens.cli import main
from tests.recommender_fixtures import planted_sequences, write_events_run


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    from models.recommender.sequence_data import load_sequence_data
    from models.recommender.training import RecommenderConfig, train_recommender

    root = tmp_path_factory.mktemp("cli")
    run = write_events_run(root / "events", planted_sequences(num_users=80, num_items=40))
    model_dir = root / "recommender"
    train_recommender(
        load_sequence_data(run),
        model_dir,
        RecommenderConfig(
            hidden_dim=16,
            num_blocks=1,
            num_heads=2,
            max_length=8,
            dropout=0.0,
            batch_size=32,
            epochs=1,
            patience=1,
            jit_compile=False,
            validation_users=None,
        ),
        data_run=str(run),
        verbose=0,
    )
    (model_dir / "metrics.json").write_text(json.dumps({"headline": {"full/NDCG@10": 0.30}}))
    worse = root / "worse"
    shutil.copytree(model_dir, worse)
    (worse / "metrics.json").write_text(json.dumps({"headline": {"full/NDCG@10": 0.10}}))
    return root, run, model_dir, worse


def test_export_publish_reject_and_roll_back(trained, tmp_path, capsys):
    _, run, model_dir, worse = trained
    serving = tmp_path / "serving"
    common = ["--serving-root", str(serving), "--name", "recommender"]
    assert main(["export", "recommender", "--model", str(model_dir), *common]) == 0
    assert serving_versions.list_versions(serving / "recommender") == [1]
    assert 'base_path: "/models/recommender"' in (serving / "models.config").read_text()

    assert (
        main(
            ["publish", "--model", str(model_dir), *common, "--data", str(run), "--requests", "20"]
        )
        == 0
    )
    assert "published recommender version 2" in capsys.readouterr().out

    before = sorted(path.name for path in (serving / "recommender").iterdir())
    assert (
        main(["publish", "--model", str(worse), *common, "--requests", "20"]) == 1
    )  # data from data_run.json
    error = capsys.readouterr().err.strip()
    assert error.count("\n") == 0 and "ndcg@10 regressed from 0.3000" in error
    assert sorted(path.name for path in (serving / "recommender").iterdir()) == before

    assert main(["publish", "--rollback", *common]) == 0
    assert "now serving version 1" in capsys.readouterr().out
    assert serving_versions.list_versions(serving / "recommender") == [1]
    decisions = [entry["decision"] for entry in serving_versions.read_publish_log(serving)]
    assert decisions == ["published", "rejected", "rolled_back"]


@pytest.mark.parametrize(
    "argv",
    [
        ["export", "recommender", "--model", "/does/not/exist"],
        ["publish", "--name", "recommender"],
        ["publish", "--rollback", "--name", "nothing-published"],
    ],
)
def test_bad_input_is_one_line_and_exit_code_2(tmp_path, capsys, argv):
    assert main([*argv, "--serving-root", str(tmp_path)]) == 2
    assert capsys.readouterr().err.strip().count("\n") == 0


def test_exporting_a_folder_of_another_kind_is_an_input_error(trained, tmp_path, capsys):
    _, _, model_dir, _ = trained
    assert (
        main(["export", "sentiment", "--model", str(model_dir), "--serving-root", str(tmp_path)])
        == 2
    )
    assert "Expected a sentiment model folder" in capsys.readouterr().err


def test_negative_tolerance_is_an_input_error(trained, tmp_path, capsys):
    _, _, model_dir, _ = trained
    assert (
        main(
            [
                "publish",
                "--model",
                str(model_dir),
                "--serving-root",
                str(tmp_path),
                "--tolerance",
                "-1",
            ]
        )
        == 2
    )
    assert "Received: tolerance=-1" in capsys.readouterr().err


def test_xla_export_and_publish_pass_the_gate(trained, tmp_path, capsys):
    _, run, model_dir, _ = trained
    common = ["--serving-root", str(tmp_path / "serving"), "--name", "recommender", "--xla"]
    assert main(["export", "recommender", "--model", str(model_dir), *common]) == 0
    assert (
        main(
            ["publish", "--model", str(model_dir), *common, "--data", str(run), "--requests", "20"]
        )
        == 0
    )
    assert "published recommender version 2" in capsys.readouterr().out
    for version in ("1", "2"):
        metadata = (
            tmp_path / "serving" / "recommender" / version / "assets.extra" / "seqlens_export.json"
        )
        assert json.loads(metadata.read_text())["xla_jit_compile"] is True


def test_xla_publish_of_a_text_model_is_an_input_error(tmp_path, capsys):
    text_model = tmp_path / "sentiment"
    text_model.mkdir()
    (text_model / "labels.json").write_text(json.dumps(["negative", "neutral", "positive"]))
    (text_model / "config.json").write_text(json.dumps({"task": "sentiment"}))
    assert (
        main(
            [
                "publish",
                "--model",
                str(text_model),
                "--serving-root",
                str(tmp_path / "serving"),
                "--name",
                "sentiment",
                "--xla",
            ]
        )
        == 2
    )
    error = capsys.readouterr().err
    assert "Expected --xla only for a recommender" in error and error.strip().count("\n") == 0
    assert not (tmp_path / "serving" / "sentiment").exists()


def test_a_servable_name_that_would_change_models_config_is_an_input_error(
    trained, tmp_path, capsys
):
    _, _, model_dir, _ = trained
    serving = tmp_path / "serving"
    evil = 'evil" } config { name: "pwned'
    argv = ["--model", str(model_dir), "--serving-root", str(serving), "--name", evil]
    assert main(["export", "sentiment", *argv]) == 2
    assert main(["export", "recommender", *argv]) == 2
    error = capsys.readouterr().err.strip()
    assert error.count("\n") == 1 and "Received: name=" in error
    assert main(["publish", *argv]) == 2
    assert main(["publish", "--rollback", "--serving-root", str(serving), "--name", evil]) == 2
    assert not (serving / "models.config").exists()
    assert not serving.exists() or not any(serving.iterdir())


def test_a_symlink_in_the_serving_root_is_a_one_line_input_error(trained, tmp_path, capsys):
    _, _, model_dir, _ = trained
    serving = tmp_path / "serving"
    common = ["--serving-root", str(serving), "--name", "recommender"]
    assert main(["export", "recommender", "--model", str(model_dir), *common]) == 0
    capsys.readouterr()
    (serving / "recommender" / ".incoming-9-0-feedface").symlink_to(tmp_path)
    assert main(["export", "recommender", "--model", str(model_dir), *common]) == 2
    assert main(["publish", "--rollback", *common]) == 2
    errors = capsys.readouterr().err.strip().splitlines()
    assert len(errors) == 2 and all(".incoming-9-0-feedface" in line for line in errors)
    assert serving_versions.list_versions(serving / "recommender") == [1]
