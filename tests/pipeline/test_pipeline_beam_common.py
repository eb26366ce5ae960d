import apache_beam as beam
import pyarrow as pa
import pyarrow.parquet as pq
from apache_beam.runners.portability.fn_api_runner import FnApiRunner
from apache_beam.testing.test_pipeline import TestPipeline as BeamTestPipeline
from apache_beam.testing.util import assert_that, equal_to

from pipeline import dead_letter
from pipeline.beam_common import MergeCountTablesFn, SumCountsFn, WriteDeadLetters, add_nested


def test_add_nested():
    assert add_nested({"a": 1, "d": {"x": 1}}, {"a": 2, "d": {"x": 1, "y": 3}}) == {
        "a": 3,
        "d": {"x": 2, "y": 3},
    }


def test_combine_fns_and_dead_letter_writer(tmp_path):
    tables = [
        pa.table({"item_id": ["a", "b"], "count": [1, 2]}),
        pa.table({"item_id": ["a"], "count": [5]}),
    ]
    dead = [
        dead_letter.dead_letters_from_rows(["duplicate", "empty_id"], "f", [1, 2], ["x", "y"]),
        dead_letter.empty_dead_letters(),
        dead_letter.dead_letters_from_rows(["duplicate"], "f", [3], ["z"]),
    ]
    with BeamTestPipeline(runner=FnApiRunner()) as pipeline:
        merged = (
            pipeline
            | "Tables" >> beam.Create(tables)
            | beam.CombineGlobally(MergeCountTablesFn("item_id"))
        )
        as_dict = merged | beam.Map(
            lambda table: dict(
                zip(
                    table.column("item_id").to_pylist(),
                    table.column("count").to_pylist(),
                    strict=True,
                )
            )
        )
        sums = (
            pipeline
            | "Dicts" >> beam.Create([{"a": 1}, {"a": 2, "b": {"c": 1}}])
            | ("Sum" >> beam.CombineGlobally(SumCountsFn()))
        )
        counts = (
            pipeline | "Dead" >> beam.Create(dead) | WriteDeadLetters(str(tmp_path / "dead_letter"))
        )
        total = counts | "Total" >> beam.CombineGlobally(SumCountsFn())
        assert_that(as_dict, equal_to([{"a": 6, "b": 2}]), label="Merged")
        assert_that(sums, equal_to([{"a": 3, "b": {"c": 1}}]), label="Sums")
        assert_that(
            total, equal_to([{"dead_by_reason": {"duplicate": 2, "empty_id": 1}}]), label="Dead"
        )
    assert pq.read_table(tmp_path / "dead_letter").num_rows == 3
