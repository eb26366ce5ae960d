"""The end-to-end monitoring path and the `seqlens alerts` command (real Beam, real files)."""

import json
import signal
import subprocess
import sys

import pandas as pd
import pytest

from seqlens.alerts.aggregation import AggregationConfig
from seqlens.alerts.alert_model import Alert, read_alerts
from seqlens.alerts.monitor import MonitorSettings, run_alerts
from seqlens.cli import main
from seqlens.synthetic.planted_evaluation import evaluate_alerts
from seqlens.synthetic.planted_spikes import PlantedConfig, generate_planted
from tests.paths import REPO_ROOT
from tests.seqlens.alerts.test_alerts_sinks import AlertServer

SMALL = PlantedConfig(
    num_tickers=6,
    num_windows=40,
    texts_per_window=(20.0, 30.0),
    episodes_per_ticker=1,
    min_strength=0.7,
    max_strength=0.85,
    market_moves=0,
    volume_bursts=1,
    retweet_storms=1,
    drift_windows=80,
    seed=3,
)


@pytest.fixture(scope="module")
def planted(tmp_path_factory):
    rows, truth = generate_planted(SMALL)
    folder = tmp_path_factory.mktemp("planted")
    rows.to_parquet(folder / "scored.parquet", index=False)
    news = rows[["id", "timestamp", "ticker", "text", "author"]]
    news.to_csv(folder / "news.csv", index=False)
    return folder, rows, truth


def test_run_twice_never_repeats_an_alert_and_spools_failed_webhooks(planted, tmp_path):
    folder, _, truth = planted
    settings = MonitorSettings(
        scored_path=str(folder / "scored.parquet"),
        sink="webhook",
        webhook_url="http://127.0.0.1:9/unreachable",
        webhook_max_attempts=1,
        webhook_backoff_seconds=0.0,
        webhook_timeout_seconds=1.0,
    )
    first = run_alerts(None, None, tmp_path, settings)
    records = read_alerts(tmp_path / "alerts.jsonl")
    assert first["alerts_new"] == len(records) > 0
    # the webhook was down: nothing lost, every new alert kept in the spool, the run succeeded
    spool = (tmp_path / "webhook_spool.jsonl").read_text().splitlines()
    assert len(spool) == len(records) and first["delivery"]["webhook"]["failed"] == len(records)
    # the planted episodes are found, each once, with their texts
    alerts = [Alert.from_dict(record) for record in records]
    figures = evaluate_alerts(alerts, truth, SMALL)
    assert figures["recall"] == 1.0 and figures["repeat_alerts_within_episode"] == 0
    assert figures["false_sentiment_alerts"] <= 1
    negative = next(a for a in alerts if a.kind == "sentiment" and a.direction == "negative")
    assert negative.top_texts and negative.top_texts[0]["score"] < 0
    assert len({text["text"] for text in negative.top_texts}) == len(negative.top_texts)
    # second run over the same period: no new alert, the file is unchanged
    second = run_alerts(
        None, None, tmp_path, MonitorSettings(scored_path=str(folder / "scored.parquet"))
    )
    assert second["alerts_new"] == 0
    again = read_alerts(tmp_path / "alerts.jsonl")
    assert again == records
    assert len({record["dedup_key"] for record in again}) == len(again)
    windows = pd.read_parquet(tmp_path / "windows.parquet")
    for column in (
        "ticker",
        "window_start",
        "window_end",
        "count",
        "mean_score",
        "share_negative",
        "share_positive",
        "negative_z",
        "fired",
    ):
        assert column in windows.columns


def test_alerts_of_a_run_killed_while_delivering_reach_the_receiver_on_the_next_run(
    planted, tmp_path
):
    # The reproduction: a real `seqlens alerts` process, a receiver that does not answer,
    # SIGKILL when the first POST arrives. The alerts are already in alerts.jsonl, so the next
    # run detects nothing new: only the outbox can still deliver them.
    folder, _, _ = planted
    output = tmp_path / "alerts"
    command = [sys.executable, "-c", "import sys; from seqlens.cli import main; sys.exit(main())"]
    with AlertServer(hold=True) as hanging, (tmp_path / "stderr.txt").open("w") as stderr:
        process = subprocess.Popen(
            command
            + ["alerts", "--scored", str(folder / "scored.parquet"), "--output", str(output)]
            + ["--sink", "webhook", "--webhook-url", hanging.url, "--webhook-timeout", "600"],
            cwd=REPO_ROOT,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
        )
        while not hanging.arrived.wait(0.5):  # the kill moment is the process's first POST
            assert process.poll() is None, (tmp_path / "stderr.txt").read_text()[-2000:]
        process.send_signal(signal.SIGKILL)
        assert process.wait() == -signal.SIGKILL
    records = read_alerts(output / "alerts.jsonl")
    keys = [record["dedup_key"] for record in records]
    assert keys and hanging.keys == keys[:1]
    outbox = [
        json.loads(line) for line in (output / "webhook_spool.jsonl").read_text().splitlines()
    ]
    assert [record["alert"]["dedup_key"] for record in outbox] == keys
    assert {record["status"] for record in outbox} == {"pending"}

    with AlertServer() as receiver:
        settings = MonitorSettings(
            scored_path=str(folder / "scored.parquet"), sink="webhook", webhook_url=receiver.url
        )
        summary = run_alerts(None, None, output, settings)
    assert summary["alerts_new"] == 0
    assert summary["delivery"]["spooled_redelivery"] == {
        "delivered": len(keys),
        "failed": 0,
        "unknown": 0,
    }
    assert receiver.keys == keys and list(receiver.processed) == keys
    assert not (output / "webhook_spool.jsonl").exists()


def test_cli_scores_a_news_csv_with_the_lexicon_fallback(planted, tmp_path, capsys):
    folder, rows, _ = planted
    code = main(
        [
            "alerts",
            "--news",
            str(folder / "news.csv"),
            "--model",
            "lexicon",
            "--output",
            str(tmp_path),
            "--window",
            "day",
            "--top-texts",
            "2",
        ]
    )
    assert code == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["rows_scored"] == len(rows)
    scored = pd.read_parquet(tmp_path / "scored.parquet")
    assert {"label", "score", "confidence", "tokens", "token_attention"} <= set(scored.columns)
    assert scored["score"].between(-1, 1).all()
    assert (tmp_path / "alerts.jsonl").exists() and (tmp_path / "summary.json").exists()
    dead_letter = pd.read_parquet(tmp_path / "dead_letter.parquet")
    assert list(dead_letter.columns) == ["reason", "source", "line_number", "raw", "id"]
    assert summary["rows_dead"] == len(dead_letter)


def test_settings_from_a_config_file_and_flags(tmp_path):
    from seqlens.cli import build_parser
    from seqlens.commands.alerts import build_settings

    config = tmp_path / "alerts.json"
    config.write_text(
        json.dumps(
            {
                "aggregation": {"window": "hour", "retweet_policy": "keep"},
                "detector": {"z_negative": 2.5, "cooldown_windows": 6},
                "top_texts": 3,
            }
        )
    )
    args = build_parser().parse_args(
        [
            "alerts",
            "--scored",
            "x.parquet",
            "--config",
            str(config),
            "--z-negative",
            "3.0",
            "--duplicates",
            "downweight",
        ]
    )
    settings = build_settings(args)
    assert settings.aggregation == AggregationConfig(
        window="hour", retweet_policy="keep", duplicate_policy="downweight"
    )
    assert settings.detector.z_negative == 3.0 and settings.detector.cooldown_windows == 6
    assert settings.top_texts == 3 and settings.scored_path == "x.parquet"


@pytest.mark.parametrize(
    "arguments, message",
    [
        (["alerts", "--output", "OUT"], "--news and --model"),
        (["alerts", "--news", "missing.csv", "--model", "lexicon", "--output", "OUT"], "news="),
        (
            ["alerts", "--scored", "x.parquet", "--output", "OUT", "--z-negative", "-1"],
            "z_negative",
        ),
        (["alerts", "--news", "NEWS", "--model", "missing-model", "--output", "OUT"], "model="),
        (
            ["alerts", "--scored", "x.parquet", "--sink", "webhook", "--output", "OUT"],
            "webhook_url",
        ),
    ],
)
def test_input_errors_exit_with_code_2_and_one_line(planted, tmp_path, capsys, arguments, message):
    folder, _, _ = planted
    arguments = [
        str(tmp_path / "out") if a == "OUT" else str(folder / "news.csv") if a == "NEWS" else a
        for a in arguments
    ]
    assert main(arguments) == 2
    error = capsys.readouterr().err.strip()
    assert error.count("\n") == 0 and message in error


def test_unknown_config_keys_are_rejected(tmp_path, capsys):
    config = tmp_path / "alerts.json"
    config.write_text(json.dumps({"detector": {"z_neg": 2}}))
    assert main(["alerts", "--scored", "x.parquet", "--config", str(config)]) == 2
    assert "Received: unknown=['z_neg']" in capsys.readouterr().err
