"""The events pipeline end to end: contract layout, nothing lost, ordering, options."""

import json
import random

import pandas as pd
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipeline.event_transforms import EventsConfig
from pipeline.events import run_events_pipeline
from pipeline.sequences import SplitConfig
from pipeline.timestamps import TimestampRange
from seqlens.synthetic.generator import GenerateConfig, generate
from tests.paths import REPO_ROOT
from tests.pipeline.output_compare import assert_same_output

PLAUSIBLE = TimestampRange(631_152_000, 2_000_000_000)


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    root = tmp_path_factory.mktemp("raw")
    config = GenerateConfig(
        num_users=60, num_items=40, num_days=3, num_chats=50, corrupt_fraction=0.03, seed=3
    )
    return generate(root, config)


def _check_run(output, stats):
    sequences = pd.read_parquet(output / "sequences")
    dead = pd.read_parquet(output / "dead_letter")
    assert stats["rows_in"] == stats["rows_out"] + stats["rows_dead"]
    assert len(dead) == stats["rows_dead"]
    assert dead["reason"].value_counts().to_dict() == stats["dead_by_reason"]
    assert int(sequences["item_ids"].map(len).sum()) == stats["rows_out"]
    assert len(sequences) == stats["users"] and sequences["user_id"].is_unique
    for items, times in zip(sequences["item_ids"], sequences["timestamps"], strict=True):
        pairs = list(zip(times, items, strict=True))
        assert pairs == sorted(pairs)
    return sequences, dead


def test_generated_log_produces_the_contract_layout(generated, tmp_path):
    output = tmp_path / "events"
    stats = run_events_pipeline(
        generated["events"],
        output,
        config=EventsConfig(plausible=PLAUSIBLE, max_length=50, num_buckets=3),
    )
    sequences, dead = _check_run(output, stats)
    assert set(dead["reason"]) >= {"wrong_column_count", "empty_id", "unparsable_timestamp"}
    assert stats["sequence_length"]["max"] <= 50
    row = sequences.iloc[0]
    assert row["valid_position"] == len(row["item_ids"]) - 2
    assert row["test_position"] == len(row["item_ids"]) - 1
    assert set(row["event_types"]) <= {"view", "click", "purchase"}
    vocabulary = pq.read_table(output / "vocab" / "items.parquet").to_pandas()
    assert vocabulary["count"].is_monotonic_decreasing
    assert (output / "vocab" / "items.txt").read_text().split() == vocabulary["item_id"].tolist()
    assert int(vocabulary["count"].sum()) == stats["rows_out"] and len(vocabulary) == stats["items"]
    run = json.loads((output / "run.json").read_text())
    assert run["config"]["max_length"] == 50 and run["format"] == "csv"
    # the Metrics counters (one per drop reason) agree with the counted statistics
    assert {
        name[len("dead_") :]: value
        for name, value in run["metrics"].items()
        if name.startswith("dead_")
    } == stats["dead_by_reason"]
    assert (run["metrics"]["rows_in"], run["metrics"]["rows_out"]) == (
        stats["rows_in"],
        stats["rows_out"],
    )


def test_filtering_and_time_split(generated, tmp_path):
    output = tmp_path / "events"
    config = EventsConfig(
        min_user_count=10,
        min_item_count=25,
        filter_rounds=8,
        plausible=PLAUSIBLE,
        split=SplitConfig("time", 1_704_067_200 + 10 * 86_400, 1_704_067_200 + 20 * 86_400),
    )
    stats = run_events_pipeline(generated["events"], output, config=config)
    sequences, _ = _check_run(output, stats)
    assert stats["filter_converged"] and stats["dead_by_reason"]["filtered_min_user_count"] > 0
    assert len(sequences) > 0 and sequences["item_ids"].map(len).min() >= 10
    counts = pd.read_parquet(output / "vocab" / "items.parquet")["count"]
    assert counts.min() >= 25


@pytest.mark.parametrize("filtering", [False, True])
def test_the_file_shuffle_gives_the_runner_shuffles_output(generated, tmp_path, filtering):
    """Grouping spilled files' paths (the default) changes nothing but memory; it leaves no file."""
    outputs = {}
    for shuffle in ("runner", "files"):
        config = EventsConfig(
            plausible=PLAUSIBLE,
            max_length=50,
            min_user_count=5 if filtering else 0,
            chunk_bytes=4096,  # several chunks and spill files per bucket
            shuffle=shuffle,
        )
        outputs[shuffle] = tmp_path / shuffle
        stats = run_events_pipeline(generated["events"], outputs[shuffle], config=config)
        assert stats["rows_dead"] > 0 and stats["balanced"]

    assert_same_output(outputs["runner"], outputs["files"])
    run = json.loads((outputs["files"] / "run.json").read_text())
    assert run["config"]["shuffle"] == "files" and run["config"]["num_buckets"] == 8


def _corrupt_log(seed, num_rows):
    rng = random.Random(seed)
    lines = [b"user_id,item_id,timestamp,event_type,value"]
    for _ in range(num_rows):
        fields = [
            f"u{rng.randrange(6)}",
            f"i{rng.randrange(9)}",
            str(1_700_000_000 + rng.randrange(50)),
            rng.choice(["view", "click"]),
            "1",
        ]
        kind = rng.randrange(12)
        if kind == 0:
            fields[0] = ""
        elif kind == 1:
            fields[2] = rng.choice(["later", "99999999999", "", "1970-01-01"])
        elif kind == 2:
            fields = fields[: rng.randrange(1, 5)]
        line = ",".join(fields).encode()
        if kind == 3:
            line = line.replace(b"u", b"\xff\xfe", 1)
        if kind == 4 and len(lines) > 1:
            line = lines[-1]
        if kind == 5:
            line = b'"' + line
        lines.append(line)
    return b"\r\n".join(lines) + b"\n"


@settings(
    max_examples=5, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(seed=st.integers(0, 10_000), num_rows=st.integers(0, 60))
def test_corrupted_logs_lose_nothing(tmp_path, seed, num_rows):
    path = tmp_path / f"log-{seed}-{num_rows}.csv"
    path.write_bytes(_corrupt_log(seed, num_rows))
    output = tmp_path / f"out-{seed}-{num_rows}"
    stats = run_events_pipeline(
        path, output, config=EventsConfig(plausible=PLAUSIBLE, num_buckets=2, max_length=8)
    )
    assert stats["rows_in"] == num_rows
    _check_run(output, stats)


def test_sasrec_counts_match_the_paper_data_when_present(tmp_path):

    games = REPO_ROOT / ".." / "shared" / "data" / "sasrec-games" / "Games.txt"
    if not games.exists():
        pytest.skip("../shared/data/sasrec-games/Games.txt is not present")
    sample = tmp_path / "games-head.txt"
    sample.write_bytes(b"".join(games.open("rb").readlines()[:20_000]))
    stats = run_events_pipeline(sample, tmp_path / "out", input_format="sasrec")
    frame = pd.read_csv(sample, sep=" ", header=None, names=["user", "item"])
    assert (stats["users"], stats["items"], stats["rows_out"]) == (
        frame["user"].nunique(),
        frame["item"].nunique(),
        len(frame),
    )
    sequences = pd.read_parquet(tmp_path / "out" / "sequences").set_index("user_id")
    first_user = str(frame["user"].iloc[0])
    assert sequences.loc[first_user, "item_ids"].tolist() == [
        str(item) for item in frame.loc[frame["user"] == frame["user"].iloc[0], "item"]
    ]


def test_options_are_validated():
    with pytest.raises(ValueError, match="Received: min_user_count=-1"):
        EventsConfig(min_user_count=-1)
    with pytest.raises(ValueError, match="Received: num_buckets=-1"):
        EventsConfig(num_buckets=-1)
    with pytest.raises(ValueError, match="Received: format='xml'"):
        run_events_pipeline("x", "y", input_format="xml")
