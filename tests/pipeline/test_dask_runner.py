"""The pipelines on a real distributed engine: Beam's Dask runner on a cluster of worker processes.

A `distributed.LocalCluster` of 2 worker processes (1 thread each) runs the events, news and
chats pipelines unchanged; every output (sequences / texts, vocabularies, stats, dead letters,
the counters in `run.json`) must equal the FnApiRunner's on the same corrupted input, row for
row. A worker killed mid-run must give the same output or a clear error and no output folder.
"""

import json
import os
import signal
import threading
import time

import apache_beam as beam
import pytest

distributed = pytest.importorskip("distributed")

from pipeline.dask_runner import DaskJobFailed, DaskRunner  # noqa: E402
from pipeline.event_transforms import EventsConfig  # noqa: E402
from pipeline.events import run_events_pipeline  # noqa: E402
from pipeline.runner import make_runner, pipeline_options, run_pipeline  # noqa: E402
from pipeline.texts import run_chats_pipeline, run_news_pipeline  # noqa: E402
from pipeline.timestamps import TimestampRange  # noqa: E402
from seqlens.synthetic.generator import GenerateConfig, generate  # noqa: E402
from tests.pipeline.output_compare import assert_same_output  # noqa: E402

PLAUSIBLE = TimestampRange(631_152_000, 2_000_000_000)
# side inputs are exercised by CombineGlobally's default value and the Parquet sinks
EVENTS_CONFIG = EventsConfig(
    plausible=PLAUSIBLE,
    max_length=50,
    num_buckets=3,
    chunk_bytes=4096,  # several chunks, dealt over both workers
)
PIPELINES = {
    "events": lambda path, output, **kw: run_events_pipeline(
        path, output, config=EVENTS_CONFIG, **kw
    ),
    "news": lambda path, output, **kw: run_news_pipeline(path, output, plausible=PLAUSIBLE, **kw),
    "chats": lambda path, output, **kw: run_chats_pipeline(path, output, plausible=PLAUSIBLE, **kw),
}


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    config = GenerateConfig(
        num_users=60, num_items=40, num_days=3, num_chats=50, corrupt_fraction=0.03, seed=3
    )
    return generate(tmp_path_factory.mktemp("raw"), config)


@pytest.fixture(scope="module")
def cluster():
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    ) as local_cluster:
        yield local_cluster


@pytest.fixture(scope="module")
def reference(generated, tmp_path_factory):
    """The FnApiRunner's output folder of each pipeline."""
    root = tmp_path_factory.mktemp("fn_api")
    for kind, run in PIPELINES.items():
        run(generated[kind], root / kind)
    return root


def _dask_args(cluster):
    return [f"--dask_client_address={cluster.scheduler_address}"]


@pytest.mark.parametrize("kind", list(PIPELINES))
def test_dask_runner_output_equals_the_fn_api_runner_output(
    kind, generated, cluster, reference, tmp_path
):
    output = tmp_path / kind
    stats = PIPELINES[kind](
        generated[kind], output, runner="DaskRunner", pipeline_args=_dask_args(cluster)
    )
    assert stats["rows_dead"] > 0 and stats["balanced"]
    assert_same_output(reference / kind, output)
    assert json.loads((output / "run.json").read_text())["runner"] == "DaskRunner"


def test_a_killed_worker_gives_the_same_output_or_a_clear_error(
    generated, cluster, reference, tmp_path
):
    output = tmp_path / "events"
    outcome = {}

    def run():
        try:
            PIPELINES["events"](
                generated["events"], output, runner="DaskRunner", pipeline_args=_dask_args(cluster)
            )
        except DaskJobFailed as error:
            outcome["error"] = error

    with distributed.Client(cluster.scheduler_address, set_as_default=False) as client:
        job = threading.Thread(target=run)
        job.start()
        busy = None
        deadline = time.monotonic() + 120
        while busy is None and job.is_alive() and time.monotonic() < deadline:
            busy = next((address for address, keys in client.processing().items() if keys), None)
            time.sleep(0.02)
        assert busy is not None, "the job finished before a worker could be killed"
        nanny = next(n for n in cluster.workers.values() if n.worker_address == busy)
        os.kill(nanny.pid, signal.SIGKILL)
        job.join(timeout=240)
    assert not job.is_alive()
    if "error" in outcome:  # a clear error, and no output folder at all
        assert "Dask job failed" in str(outcome["error"])
        assert not output.exists()
    else:
        assert_same_output(reference / "events", output)


def test_a_transform_without_a_dask_translation_is_named(cluster, tmp_path):
    path = tmp_path / "lines.txt"
    path.write_text("a\nb\n")
    options = pipeline_options("DaskRunner", _dask_args(cluster))
    runner = make_runner("DaskRunner", options)
    assert isinstance(runner, DaskRunner)
    pipeline = beam.Pipeline(runner=runner, options=options)
    _ = pipeline | "ReadLines" >> beam.io.ReadFromText(str(path))
    with pytest.raises(NotImplementedError, match="ReadLines"):
        run_pipeline(pipeline)


def test_windows_other_than_global_are_refused_by_name(cluster):
    options = pipeline_options("DaskRunner", _dask_args(cluster))
    pipeline = beam.Pipeline(runner=make_runner("DaskRunner", options), options=options)
    _ = (
        pipeline
        | beam.Create([1, 2])
        | "Windowed" >> beam.WindowInto(beam.window.FixedWindows(60))
        | "Doubled" >> beam.Map(lambda value: 2 * value)
    )
    with pytest.raises(NotImplementedError, match="global windows only.*Doubled"):
        run_pipeline(pipeline)


def _record_worker(element, folder):
    time.sleep(0.05)  # long enough that the scheduler hands the parts to both workers
    (folder / f"{element}-{os.getpid()}").touch()
    return element


def test_reshuffle_spreads_one_partition_over_the_workers(cluster, tmp_path):
    """Chunks planned from one file arrive as one partition; after Reshuffle both workers work."""
    options = pipeline_options("DaskRunner", _dask_args(cluster))
    pipeline = beam.Pipeline(runner=make_runner("DaskRunner", options), options=options)
    _ = (
        pipeline
        | beam.Create([16])
        | "Plan" >> beam.FlatMap(lambda count: list(range(count)))
        | beam.Reshuffle()
        | "Record" >> beam.Map(_record_worker, tmp_path)
    )
    run_pipeline(pipeline)

    records = [path.name.split("-") for path in tmp_path.iterdir()]
    assert sorted(int(element) for element, _ in records) == list(range(16))
    assert len({pid for _, pid in records}) == 2
