"""TestPipeline + assert_that on the text composite."""

import apache_beam as beam
from apache_beam.runners.portability.fn_api_runner import FnApiRunner
from apache_beam.testing.test_pipeline import TestPipeline as BeamTestPipeline
from apache_beam.testing.util import assert_that, equal_to

from pipeline.text_formats import TextColumns, resolve_text_format
from pipeline.text_normalization import tokenize
from pipeline.text_transforms import TextsToTokens
from pipeline.timestamps import TimestampRange

LOG = (
    "conversation_id,timestamp,text,intent\n"
    "c1,1700000000,I can't log in!,reset_password\n"
    "c1,1700000000,I can't log in!,reset_password\n"
    "c2,1700000100,send $50 to John,\n"
    ",1700000000,hello,complaint\n"
    "c3,1700000000,   ,complaint\n"
    "c4,never,hi,complaint\n"
)


def test_texts_to_tokens(tmp_path):
    path = tmp_path / "chats.csv"
    path.write_text(LOG)
    columns = TextColumns.chats()
    spec = resolve_text_format("csv", [str(path)], columns)
    with BeamTestPipeline(runner=FnApiRunner()) as pipeline:
        result = (
            pipeline
            | beam.Create([(0, str(path))])
            | TextsToTokens(
                columns,
                spec,
                TimestampRange(631_152_000, 2_000_000_000),
                [str(path)],
                num_buckets=2,
            )
        )
        texts = result["texts"] | beam.FlatMap(
            lambda table: [
                (row["conversation_id"], tuple(row["tokens"]), row["intent"])
                for row in table.to_pylist()
            ]
        )
        reasons = result["dead_letter"] | beam.FlatMap(
            lambda table: table.column("reason").to_pylist()
        )
        vocabulary = result["token_counts"] | beam.Map(
            lambda table: dict(
                zip(
                    table.column("token").to_pylist(),
                    table.column("count").to_pylist(),
                    strict=True,
                )
            )["i"]
        )
        assert_that(
            texts,
            equal_to(
                [
                    ("c1", tuple(tokenize("I can't log in!")), "reset_password"),
                    ("c2", tuple(tokenize("send $50 to John")), None),
                ]
            ),
            label="Texts",
        )
        assert_that(
            reasons,
            equal_to(["duplicate", "empty_id", "empty_text", "unparsable_timestamp"]),
            label="Reasons",
        )
        assert_that(vocabulary, equal_to([1]), label="Vocabulary")
