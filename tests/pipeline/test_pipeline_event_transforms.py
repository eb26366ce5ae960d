"""TestPipeline + assert_that on each composite of the events pipeline."""

import apache_beam as beam
import pyarrow as pa
import pytest
from apache_beam.runners.portability.fn_api_runner import FnApiRunner
from apache_beam.testing.test_pipeline import TestPipeline as BeamTestPipeline
from apache_beam.testing.util import assert_that, equal_to

from pipeline import dead_letter
from pipeline.event_formats import EventColumns, resolve_event_format
from pipeline.event_transforms import (
    BuildSequences,
    EventsConfig,
    EventsToSequences,
    FilterMinCounts,
    GroupEventsByUser,
    ReadEventLog,
)
from pipeline.event_validation import EVENT_SCHEMA
from pipeline.sequences import SplitConfig
from pipeline.timestamps import TimestampRange

PLAUSIBLE = TimestampRange(631_152_000, 2_000_000_000)
LOG = (
    "user_id,item_id,timestamp,event_type,value\n"
    "u1,a,1700000003,view,1\n"
    "u1,b,1700000001,view,1\n"
    "u1,b,1700000001,view,1\n"  # exact duplicate of line 3
    "u2,a,1700000002,click,\n"
    "u2,c,2023-11-14T22:13:25Z,view,1\n"
    ",a,1700000000,view,1\n"  # empty user id
    "u3,a,yesterday,view,1\n"  # unparsable timestamp
    "u3,a,99999999999,view,1\n"  # absurd timestamp
    "u3,a,1700000000\n"  # wrong column count
    "u1,c,1700000005,view,1\n"
)


def _pipeline():
    return BeamTestPipeline(runner=FnApiRunner())


@pytest.fixture()
def log_path(tmp_path):
    path = tmp_path / "events.csv"
    path.write_text(LOG)
    return str(path)


def _spec(path):
    return resolve_event_format("csv", [path], EventColumns())


def _events(rows):
    return pa.Table.from_pylist(
        [dict(zip(EVENT_SCHEMA.names, row, strict=True)) for row in rows], schema=EVENT_SCHEMA
    )


def test_read_event_log_parses_and_dead_letters_each_row(log_path):
    config = EventsConfig(plausible=PLAUSIBLE, num_buckets=1)
    with _pipeline() as pipeline:
        read = pipeline | beam.Create([(0, log_path)]) | ReadEventLog(_spec(log_path), config)
        lines = read.events | "Lines" >> beam.FlatMap(
            lambda element: element[1].column("line_number").to_pylist()
        )
        reasons = read.dead_letter | "Reasons" >> beam.FlatMap(
            lambda table: zip(
                table.column("reason").to_pylist(),
                table.column("line_number").to_pylist(),
                strict=True,
            )
        )
        rows_in = read.stats | "RowsIn" >> beam.Map(lambda stats: stats["rows_in"])
        assert_that(lines, equal_to([2, 3, 4, 5, 6, 11]), label="CheckLines")
        assert_that(
            reasons,
            equal_to(
                [
                    (dead_letter.EMPTY_ID, 7),
                    (dead_letter.UNPARSABLE_TIMESTAMP, 8),
                    (dead_letter.ABSURD_TIMESTAMP, 9),
                    (dead_letter.WRONG_COLUMN_COUNT, 10),
                ]
            ),
            label="CheckDeadLetters",
        )
        assert_that(rows_in | beam.CombineGlobally(sum), equal_to([10]), label="CheckRowsIn")


def test_group_events_by_user_deduplicates_and_sorts():
    part_one = _events([("u1", "b", 5, None, None, 0, 2), ("u1", "a", 9, None, None, 0, 3)])
    part_two = _events([("u1", "b", 5, None, None, 0, 7), ("u1", "c", 1, None, None, 0, 8)])
    with _pipeline() as pipeline:
        grouped = (
            pipeline | beam.Create([(0, part_one), (0, part_two)]) | GroupEventsByUser(["log.csv"])
        )
        items = grouped.buckets | beam.Map(lambda element: element[1].column("item_id").to_pylist())
        dead = grouped.dead_letter | beam.Map(lambda table: table.to_pylist())
        assert_that(items, equal_to([["c", "b", "a"]]), label="CheckOrder")
        assert_that(
            dead,
            equal_to(
                [
                    [
                        {
                            "reason": "duplicate",
                            "source": "log.csv",
                            "line_number": 7,
                            "raw": "u1,b,5,,",
                        }
                    ]
                ]
            ),
            label="CheckDuplicate",
        )


def test_filter_min_counts_reaches_the_fixed_point():
    # u2's only frequent item is x; after dropping rare items u2 has 1 event and is dropped,
    # which makes x rare in round two, which removes x from u1.
    rows = [
        ("u1", "x", 1, None, None, 0, 1),
        ("u1", "y", 2, None, None, 0, 2),
        ("u1", "y", 3, None, None, 0, 3),
        ("u2", "x", 1, None, None, 0, 4),
        ("u2", "z", 2, None, None, 0, 5),
        ("u3", "y", 1, None, None, 0, 6),
        ("u3", "y", 2, None, None, 0, 7),
    ]
    config = EventsConfig(min_user_count=2, min_item_count=2, filter_rounds=3)
    with _pipeline() as pipeline:
        buckets = pipeline | beam.Create([(0, _events(rows))])
        result = buckets | FilterMinCounts(config, ["log.csv"])
        kept = result["buckets"] | beam.FlatMap(
            lambda element: zip(
                element[1].column("user_id").to_pylist(),
                element[1].column("item_id").to_pylist(),
                strict=True,
            )
        )
        dead = (
            result["dead_letter"]
            | beam.Flatten()
            | beam.FlatMap(
                lambda table: zip(
                    table.column("reason").to_pylist(),
                    table.column("line_number").to_pylist(),
                    strict=True,
                )
            )
        )
        assert_that(
            kept, equal_to([("u1", "y"), ("u1", "y"), ("u3", "y"), ("u3", "y")]), label="Kept"
        )
        assert_that(
            dead,
            equal_to(
                [
                    (dead_letter.FILTERED_MIN_ITEM_COUNT, 5),
                    (dead_letter.FILTERED_MIN_USER_COUNT, 4),
                    (dead_letter.FILTERED_MIN_ITEM_COUNT, 1),
                ]
            ),
            label="Dead",
        )


def test_build_sequences_truncates_and_splits():
    rows = [("u1", f"i{k}", k, "view", None, 0, k + 1) for k in range(5)] + [
        ("u2", "a", 1, "view", None, 0, 10),
        ("u2", "b", 2, "click", None, 0, 11),
    ]
    config = EventsConfig(max_length=4, split=SplitConfig())
    with _pipeline() as pipeline:
        built = (
            pipeline | beam.Create([(0, _events(rows))]) | BuildSequences(config, True, ["log.csv"])
        )
        sequences = built.sequences | beam.FlatMap(lambda table: table.to_pylist())
        dead = built.dead_letter | beam.FlatMap(lambda table: table.column("reason").to_pylist())
        assert_that(
            sequences,
            equal_to(
                [
                    {
                        "user_id": "u1",
                        "item_ids": ["i1", "i2", "i3", "i4"],
                        "timestamps": [1, 2, 3, 4],
                        "event_types": ["view"] * 4,
                        "valid_position": 2,
                        "test_position": 3,
                    },
                    {
                        "user_id": "u2",
                        "item_ids": ["a", "b"],
                        "timestamps": [1, 2],
                        "event_types": ["view", "click"],
                        "valid_position": -1,
                        "test_position": -1,
                    },
                ]
            ),
            label="Sequences",
        )
        assert_that(dead, equal_to([dead_letter.TRUNCATED_MAX_LENGTH]), label="Truncated")


@pytest.mark.parametrize("shuffle", ["files", "runner"])
def test_events_to_sequences_balances_rows(log_path, tmp_path, shuffle):
    config = EventsConfig(plausible=PLAUSIBLE, num_buckets=3, shuffle=shuffle)
    spill_dir = str(tmp_path / "spill") if shuffle == "files" else None
    with _pipeline() as pipeline:
        result = (
            pipeline
            | beam.Create([(0, log_path)])
            | EventsToSequences(_spec(log_path), config, [log_path], spill_dir)
        )
        sequences = result["sequences"] | beam.FlatMap(
            lambda table: zip(
                table.column("user_id").to_pylist(),
                table.column("item_ids").to_pylist(),
                strict=True,
            )
        )
        dead_rows = (
            result["dead_letter"]
            | beam.Map(lambda table: table.num_rows)
            | "SumDead" >> beam.CombineGlobally(sum)
        )
        stats = result["stats"] | beam.Map(
            lambda stats: (stats["rows_in"], stats["rows_out"], stats["users"])
        )
        vocabulary = result["item_counts"] | beam.Map(
            lambda table: sorted(table.to_pylist(), key=str)
        )
        assert_that(sequences, equal_to([("u1", ["b", "a", "c"]), ("u2", ["a", "c"])]), label="Seq")
        assert_that(dead_rows, equal_to([5]), label="Dead")
        assert_that(stats, equal_to([(10, 5, 2)]), label="Stats")
        assert_that(
            vocabulary,
            equal_to(
                [
                    sorted(
                        [
                            {"item_id": "a", "count": 2},
                            {"item_id": "b", "count": 1},
                            {"item_id": "c", "count": 2},
                        ],
                        key=str,
                    )
                ]
            ),
            label="Vocabulary",
        )


def test_file_shuffle_needs_a_spill_folder(log_path):
    with pytest.raises(ValueError, match="Expected a spill_dir with shuffle='files'"):
        EventsToSequences(
            _spec(log_path), EventsConfig(plausible=PLAUSIBLE, num_buckets=3), [log_path]
        )


def test_automatic_buckets_must_be_resolved_before_the_graph(log_path, tmp_path):
    with pytest.raises(ValueError, match="Expected num_buckets resolved for the input"):
        EventsToSequences(_spec(log_path), EventsConfig(), [log_path], str(tmp_path))


@pytest.mark.parametrize(
    ("num_buckets", "input_bytes", "expected"),
    [
        (0, 0, 8),
        (0, 100 * 2**20, 8),
        (0, 8 * 64 * 2**20 + 1, 9),
        (0, 1_761_330_977, 27),
        (5, 10**12, 5),
    ],
)
def test_buckets_grow_with_the_input_unless_set(num_buckets, input_bytes, expected):
    config = EventsConfig(num_buckets=num_buckets).with_input_size(input_bytes)

    assert config.num_buckets == expected


def test_negative_input_size_is_refused():
    with pytest.raises(ValueError, match="Expected input_bytes >= 0"):
        EventsConfig().with_input_size(-1)


def test_unknown_shuffle_is_refused():
    with pytest.raises(ValueError, match="Expected shuffle to be one of files, runner"):
        EventsConfig(shuffle="memory")
