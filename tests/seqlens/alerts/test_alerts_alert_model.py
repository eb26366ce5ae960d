"""The alert record, its dedup key and merging into an alerts file."""

import json

import pytest

from seqlens.alerts.alert_model import Alert, dedup_key, merge_alerts, read_alerts


def make(ticker="ACME", start=86_400, direction="negative", kind="sentiment"):
    return Alert(
        ticker=ticker,
        window_start=start,
        window_end=start + 3_600,
        kind=kind,
        direction=direction,
        severity="warning",
        statistics={"z": 4.2},
    )


def test_dedup_key_is_stable_and_depends_on_what_fired():
    assert (
        make().dedup_key == make().dedup_key == dedup_key("ACME", "sentiment", "negative", 86_400)
    )
    keys = {
        make().dedup_key,
        make(ticker="BOLT").dedup_key,
        make(start=90_000).dedup_key,
        make(direction="positive").dedup_key,
        make(kind="buzz", direction="up").dedup_key,
    }
    assert len(keys) == 5


def test_merge_twice_writes_each_alert_once(tmp_path):
    path = tmp_path / "alerts.jsonl"
    assert len(merge_alerts(path, [make(), make(ticker="BOLT")])) == 2
    assert merge_alerts(path, [make(), make(ticker="BOLT")]) == []
    new = merge_alerts(path, [make(), make(ticker="CORE")])
    assert [alert.ticker for alert in new] == ["CORE"]
    records = read_alerts(path)
    assert [record["ticker"] for record in records] == ["ACME", "BOLT", "CORE"]
    assert len({record["dedup_key"] for record in records}) == 3
    assert list(records[0])[:2] == ["dedup_key", "ticker"]


def test_round_trip_through_json(tmp_path):
    alert = make()
    alert.top_texts = [{"id": "n1", "text": "profit warning", "score": -0.8}]
    assert Alert.from_dict(json.loads(json.dumps(alert.to_dict()))) == alert


def test_corrupt_alerts_file_is_reported_with_the_line(tmp_path):
    path = tmp_path / "alerts.jsonl"
    path.write_text('{"dedup_key": "x"}\nnot json\n')
    with pytest.raises(ValueError, match="Received: line_number=2"):
        read_alerts(path)


@pytest.mark.parametrize(
    "name, value",
    [("kind", "volume"), ("direction", "down"), ("severity", "page"), ("window_end", 10)],
)
def test_bad_fields_name_the_argument(name, value):
    arguments = {
        "ticker": "ACME",
        "window_start": 86_400,
        "window_end": 90_000,
        "kind": "sentiment",
        "direction": "negative",
        "severity": "warning",
        name: value,
    }
    with pytest.raises(ValueError, match=rf"Received: {name}="):
        Alert(**arguments)
