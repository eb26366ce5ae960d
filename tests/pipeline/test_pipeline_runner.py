import apache_beam as beam
import pytest
from apache_beam.metrics import Metrics
from apache_beam.runners.portability.fn_api_runner import FnApiRunner

from pipeline.runner import make_runner, pipeline_options, run_pipeline, split_pipeline_args


@pytest.mark.parametrize("name", ["FnApiRunner", "DirectRunner"])
def test_local_names_give_the_fn_api_runner_without_prism(name):
    options = pipeline_options(name, ["--direct_num_workers=2"])
    assert isinstance(make_runner(name, options), FnApiRunner)
    assert options.get_all_options()["direct_num_workers"] == 2


def test_other_runners_are_set_on_the_options():
    options = pipeline_options("FlinkRunner", ["--flink_master=localhost:8081"])
    assert options.get_all_options()["runner"] == "FlinkRunner"


def test_pass_through_flags_are_checked():
    assert split_pipeline_args(["--", "--a=1"]) == ["--a=1"]
    with pytest.raises(ValueError, match="Received: option='oops'"):
        split_pipeline_args(["oops"])
    with pytest.raises(ValueError, match="Received: runner=''"):
        make_runner("", None)


def test_run_pipeline_reports_the_counters_of_one_namespace():
    class CountFn(beam.DoFn):
        def __init__(self):
            self.seen = Metrics.counter("seqlens", "seen")
            self.other = Metrics.counter("alerts", "rows_in")

        def process(self, element):
            self.seen.inc()
            self.other.inc(2)
            yield element

    def counters(namespace=None):
        options = pipeline_options("FnApiRunner")
        pipeline = beam.Pipeline(runner=make_runner("FnApiRunner", options), options=options)
        _ = pipeline | beam.Create([1, 2, 3]) | beam.ParDo(CountFn())
        return run_pipeline(pipeline) if namespace is None else run_pipeline(pipeline, namespace)

    assert counters() == {"seen": 3}
    assert counters("alerts") == {"rows_in": 6}
