"""Choosing the Beam runner explicitly and passing Beam options through.

Beam's default (and `DirectRunner`, which first tries the Prism runner) downloads a Prism
binary, which fails offline and costs time. Locally the pipelines therefore run on the
`FnApiRunner` (the engine behind `DirectRunner`), built here directly; it honours
`--direct_num_workers` and `--direct_running_mode` (`in_memory`, `multi_threading`,
`multi_processing`). `DaskRunner` runs on a Dask `distributed` cluster
(`--dask_client_address=HOST:8786`; without it Dask starts a local cluster) through
`pipeline.dask_runner`, Beam's Dask runner with the gaps closed that lose outputs of these
pipelines (tagged outputs, `finish_bundle` outputs, every sink but the last, metrics). Any other
runner name (`DataflowRunner`, `FlinkRunner`, `SparkRunner`, `PortableRunner`, `PrismRunner`)
is handed to Beam unchanged with the pass-through options.
"""

from __future__ import annotations

from collections.abc import Sequence

DEFAULT_RUNNER = "FnApiRunner"
LOCAL_RUNNERS = ("FnApiRunner", "DirectRunner", "SwitchingDirectRunner")
DASK_RUNNER = "DaskRunner"


def pipeline_options(runner: str, pipeline_args: Sequence[str] = ()):
    """`PipelineOptions` from pass-through flags, with `runner` and the job name set."""
    from apache_beam.options.pipeline_options import PipelineOptions, StandardOptions

    options = PipelineOptions(list(pipeline_args))
    if runner not in LOCAL_RUNNERS:
        options.view_as(StandardOptions).runner = runner
    return options


def make_runner(runner: str, options):
    """The runner object for `runner` (see the module docstring)."""
    if not runner:
        raise ValueError(f"Expected a runner name. Received: runner={runner!r}")
    if runner in LOCAL_RUNNERS:
        from apache_beam.portability.api import beam_provision_api_pb2
        from apache_beam.runners.portability.fn_api_runner import fn_runner
        from apache_beam.runners.portability.portable_runner import JobServiceHandle

        encoded = JobServiceHandle.encode_pipeline_options(options.get_all_options())
        provision_info = fn_runner.ExtendedProvisionInfo(
            beam_provision_api_pb2.ProvisionInfo(pipeline_options=encoded)
        )
        return fn_runner.FnApiRunner(provision_info=provision_info)
    if runner == DASK_RUNNER:
        from pipeline.dask_runner import DaskRunner

        return DaskRunner()
    from apache_beam.runners.runner import create_runner

    return create_runner(runner)


def split_pipeline_args(argv: Sequence[str]) -> list[str]:
    """Validate pass-through Beam flags: each must look like `--name=value` or `--name`."""
    args = list(argv)
    if args and args[0] == "--":
        args = args[1:]
    for arg in args:
        if not arg.startswith("--"):
            raise ValueError(
                f"Expected Beam pipeline options of the form --name=value. Received: option={arg!r}"
            )
    return args


def run_pipeline(pipeline, namespace: str = "seqlens") -> dict[str, int]:
    """Run `pipeline` to completion; return its counters `{name: value}` in `namespace`.

    Counters are read from the runner's metrics (committed values where the runner reports
    them, else attempted ones), so `run.json` shows what `Metrics.counter` counted.

    Args:
        pipeline: a `beam.Pipeline` (see `make_runner`, `pipeline_options`).
        namespace: the `Metrics.counter` namespace to report (`seqlens` for the pipelines).
    """
    from apache_beam.metrics.metric import MetricsFilter

    result = pipeline.run()
    result.wait_until_finish()
    counters: dict[str, int] = {}
    try:
        query = result.metrics().query(MetricsFilter().with_namespace(namespace))
    except (NotImplementedError, AttributeError):
        return counters
    for counter in query.get("counters", []):
        value = counter.committed if counter.committed is not None else counter.attempted
        counters[counter.key.metric.name] = counters.get(counter.key.metric.name, 0) + int(
            value or 0
        )
    return dict(sorted(counters.items()))
