"""`seqlens demo --fast` end to end: every step runs and every artifact of docs/CONTRACTS.md exists.

One demo run (tiny data, tiny models, real Beam, real Keras fit, real SavedModel export and gate)
is shared by every test of this module.
"""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from seqlens import batch
from seqlens.cli import main
from seqlens.layout import ArtifactLayout

pytestmark = pytest.mark.slow  # a minute or more

MODEL_FILES = ("model.keras", "config.json", "history.json", "metrics.json", "data_run.json")


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory) -> dict:
    output = tmp_path_factory.mktemp("demo") / "artifacts"
    code = main(["demo", "--output", str(output), "--seed", "3", "--fast"])
    return {
        "code": code,
        "layout": ArtifactLayout(output),
        "report": json.loads((output / "demo_report.json").read_text()),
    }


@pytest.fixture(scope="module")
def layout(demo_run) -> ArtifactLayout:
    return demo_run["layout"]


def test_every_step_runs(demo_run):
    statuses = {step["name"]: step["status"] for step in demo_run["report"]["steps"]}
    assert demo_run["code"] == 0
    assert statuses == {name: "ok" for name in statuses}, statuses
    assert len(statuses) == 12
    assert all(step["seconds"] >= 0 for step in demo_run["report"]["steps"])


def test_summary_names_the_dashboard_command(demo_run, capsys):
    from seqlens.demo import DemoReport, StepOutcome, print_summary

    report = DemoReport(
        output=str(demo_run["layout"].root),
        steps=[StepOutcome(**step) for step in demo_run["report"]["steps"]],
    )
    print_summary(report)
    printed = capsys.readouterr().out
    assert f"seqlens dashboard --artifacts {demo_run['layout'].root}" in printed
    assert "(not written)" not in printed


def test_raw_logs(layout):
    for path in (layout.raw_events, layout.raw_news, layout.raw_chats):
        assert path.stat().st_size > 0


def test_events_data_run(layout):
    folder = layout.data_run("events")
    sequences = pq.read_table(folder / "sequences")
    assert {"user_id", "item_ids", "timestamps", "valid_position", "test_position"} <= set(
        sequences.column_names
    )
    assert sequences.num_rows > 0
    assert set(pq.read_table(folder / "vocab" / "items.parquet").column_names) >= {
        "item_id",
        "count",
    }
    assert (folder / "vocab" / "items.txt").exists()
    stats = json.loads((folder / "stats.json").read_text())
    assert stats["rows_in"] == stats["rows_out"] + stats["rows_dead"]
    assert (folder / "dead_letter").is_dir() and (folder / "run.json").exists()


@pytest.mark.parametrize("kind", ["news", "chats"])
def test_text_data_runs(layout, kind):
    folder = layout.data_run(kind)
    texts = pq.read_table(folder / "texts")
    assert {"timestamp", "text", "tokens"} <= set(texts.column_names) and texts.num_rows > 0
    assert (folder / "vocab" / "tokens.parquet").exists()
    for name in ("stats.json", "run.json"):
        assert (folder / name).exists()
    assert (folder / "dead_letter").is_dir()


@pytest.mark.parametrize("name", batch.MODEL_NAMES)
def test_trained_model_folders(layout, name):
    folder = layout.model_dir(name)
    for file_name in MODEL_FILES:
        assert (folder / file_name).exists(), file_name
    extra = "item_vocab.txt" if name == "recommender" else "labels.json"
    assert (folder / extra).exists()
    assert json.loads((folder / "metrics.json").read_text())


@pytest.mark.parametrize("name", batch.MODEL_NAMES)
def test_published_savedmodels(layout, name):
    versions = [path for path in (layout.serving_root / name).iterdir() if path.name.isdigit()]
    assert len(versions) == 1
    version = versions[0]
    assert (version / "saved_model.pb").exists() and (version / "variables").is_dir()
    assert (version / "assets.extra" / "tf_serving_warmup_requests").exists()


def test_publish_log(layout):
    entries = [json.loads(line) for line in layout.publish_log.read_text().splitlines()]
    assert {entry["name"] for entry in entries} == set(batch.MODEL_NAMES)
    for entry in entries:
        assert {"name", "version", "time", "decision", "reasons", "checks", "metrics"} <= set(entry)
        assert entry["decision"] == "published"


def test_alerts(layout):
    folder = layout.alerts_dir
    scored = pq.read_table(folder / "scored.parquet")
    assert {"label", "score", "tokens", "token_attention"} <= set(scored.column_names)
    assert pq.read_table(folder / "windows.parquet").num_rows > 0
    for line in layout.alerts_file.read_text().splitlines():
        assert {"dedup_key", "ticker", "kind", "severity"} <= set(json.loads(line))


def test_rerunning_publish_and_alerts_duplicates_nothing(layout):
    run = batch.BatchRun(root=layout.root, settings=batch.BatchSettings.fast(seed=3))
    log_before = layout.publish_log.read_text()
    versions_before = {
        name: sorted(p.name for p in (layout.serving_root / name).iterdir())
        for name in batch.MODEL_NAMES
    }
    alerts_before = layout.alerts_file.read_text()
    batch.publish_models(run, batch.MODEL_NAMES)
    batch.raise_alerts(run)
    assert layout.publish_log.read_text() == log_before
    assert {
        name: sorted(p.name for p in (layout.serving_root / name).iterdir())
        for name in batch.MODEL_NAMES
    } == versions_before
    assert layout.alerts_file.read_text() == alerts_before


def test_fast_flag_is_listed_in_help(capsys):
    with pytest.raises(SystemExit):
        main(["demo", "--help"])
    assert "--fast" in capsys.readouterr().out


def test_report_json_is_complete(demo_run):
    report = demo_run["report"]
    assert report["total_seconds"] >= sum(step["seconds"] for step in report["steps"]) - 1
    assert Path(report["output"]) == demo_run["layout"].root
