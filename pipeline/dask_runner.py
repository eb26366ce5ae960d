"""Beam's Dask runner with the gaps closed that keep it from running the seqlens pipelines.

`apache_beam.runners.dask.DaskRunner` (Beam 2.77) turns a pipeline into `dask.bag` operations
and runs them on a `distributed` cluster of worker processes. As shipped, it cannot run a
pipeline with more than one sink or with tagged outputs; this runner keeps Beam's option
parsing (`DaskOptions`: `--dask_client_address`, `--dask_npartitions`, ...) and its transform
overrides, and replaces the translation (`apache_beam/runners/dask/transform_evaluator.py`,
`dask_runner.py`) where it loses data:

1. **Tagged outputs**: Beam's `ParDo` translation puts every output of a `with_outputs` ParDo
   into one bag and strips the tags, so each consumer of `result.dead_letter` also receives the
   main output. Here the bundle returns `(tag, value)` pairs and each output PCollection is
   its own selection of them.
2. **`finish_bundle` outputs**: Beam collects the bundle's outputs *before*
   `invoke_finish_bundle`, so what a DoFn emits there is lost -- among them the file names of
   `beam.io.Write*` (`_WriteBundleDoFn` writes in `finish_bundle`), so nothing is finalised.
3. **Only the last transform is computed**: Beam computes the bag of the last visited transform
   only; the other sinks (here: the sequences, the vocabulary, the dead letters) never run.
   Here every PCollection nothing consumes is computed, in one `client.compute` call, so a
   transform shared by several sinks runs once.
4. **Side inputs** are computed *inside* the consuming task (`list(bag)` in a worker), which
   recomputes the whole upstream graph once per bundle -- and with it its side effects, e.g.
   `initialize_write` of a sink. Here a side input is a `dask.delayed` dependency of the task.
5. **Metrics**: `DaskRunnerResult.metrics()` raises `NotImplementedError`. Here each bundle
   runs under a `MetricsContainer` and returns its counters, summed on the client.
6. **Reshuffle** is a no-op in Beam's translation, so chunks planned from one file stay in one
   partition on one worker. Here a bag of fewer partitions is split into `RESHUFFLE_FAN_OUT` x
   the cluster's threads partitions (or `--dask_npartitions`): small tasks, spread over workers.

Only global windows are supported (the batch pipelines here use no other); a primitive this
translation does not know raises `NotImplementedError` naming it, instead of passing `None` on.
A worker lost mid-run is retried by the Dask scheduler (its tasks rerun on the others); a run
that still cannot finish raises `DaskJobFailed`, and the staged output is never swapped in.
"""

from __future__ import annotations

from collections.abc import Iterable

import apache_beam as beam
from apache_beam.metrics.execution import MetricKey, MetricResult
from apache_beam.metrics.metric import MetricName, MetricResults
from apache_beam.pipeline import PipelineVisitor
from apache_beam.runners.dask import dask_runner as beam_dask_runner
from apache_beam.runners.dask.overrides import (
    _Create,
    _Flatten,
    _GroupByKeyOnly,
    _Read,
    _Reshuffle,
    dask_overrides,
)
from apache_beam.runners.runner import PipelineResult, PipelineState
from apache_beam.transforms.window import GlobalWindows

from pipeline import dask_bundles as bundles

RESHUFFLE_FAN_OUT = 4  # partitions per worker thread after a Reshuffle (one task's input)


class DaskJobFailed(RuntimeError):
    """The Dask cluster could not finish the job (a task failed, or workers kept dying)."""


class _BagVisitor(PipelineVisitor):
    """Translates each primitive transform into `dask.bag` operations, one bag per PCollection."""

    def __init__(self, parallelism: int, npartitions: int | None):
        self.parallelism = max(1, parallelism)
        self.npartitions = npartitions
        self.bags: dict = {}
        self.consumed: set = set()
        self.metric_bags: list = []

    def visit_transform(self, node) -> None:
        transform = node.transform
        inputs = [value for value in node.inputs if isinstance(value, beam.pvalue.PCollection)]
        self.consumed.update(id(value) for value in inputs)
        self.consumed.update(id(side.pvalue) for side in node.side_inputs)
        input_bags = [self.bags[id(value)] for value in inputs]
        if isinstance(transform, beam.ParDo):
            self._pardo(node, input_bags[0])
            return
        if isinstance(transform, _Create):
            bag = self._create(list(transform.values))
        elif isinstance(transform, _Flatten):
            bag = self._flatten(input_bags)
        elif isinstance(transform, _GroupByKeyOnly):
            bag = (
                input_bags[0]
                .groupby(
                    bundles.first, shuffle="tasks", npartitions=self._partitions(input_bags[0])
                )
                .map_partitions(bundles.group_values)
            )
        elif isinstance(transform, _Reshuffle):
            # `Bag.groupby(shuffle="tasks")` keeps its input's partition count (its `npartitions`
            # is ignored), so a group-by cannot spread one partition; splitting it can.
            parts = self.npartitions or RESHUFFLE_FAN_OUT * self.parallelism
            bag = input_bags[0]
            if bag.npartitions < parts:
                bag = bag.repartition(npartitions=parts)
        elif isinstance(transform, _Read):
            raise NotImplementedError(
                f"The Dask runner cannot run {node.full_label!r}: Beam 2.77's Dask translation "
                "has no Read (bounded source) primitive; read files inside a DoFn instead."
            )
        else:
            raise NotImplementedError(
                f"The Dask runner cannot run {node.full_label!r}: no translation of "
                f"{type(transform).__name__} to dask.bag."
            )
        for output in node.outputs.values():
            self.bags[id(output)] = bag

    def _partitions(self, bag) -> int:
        return max(bag.npartitions, 1)

    def _create(self, values: list):
        import dask.bag as db

        parts = self.npartitions or self.parallelism
        return db.from_sequence(values, npartitions=max(1, min(len(values), parts)))

    def _flatten(self, bags: list):
        import dask.bag as db

        return db.concat(bags) if bags else db.from_sequence([], npartitions=1)

    def _pardo(self, node, input_bag) -> None:
        import dask

        transform = node.transform
        main_input = next(iter(node.main_inputs.values()))
        window_fn = main_input.windowing.windowfn
        if not isinstance(window_fn, GlobalWindows):
            raise NotImplementedError(
                f"The Dask runner here supports global windows only. Received: "
                f"{node.full_label!r} windowed by {type(window_fn).__name__}"
            )
        args, kwargs = transform.raw_side_inputs
        side_views, side_values = [], []
        for side in node.side_inputs:
            side_views.append((type(side), side._view_options()))
            parts = self.bags[id(side.pvalue)].to_delayed(optimize_graph=False)
            side_values.append(dask.delayed(bundles.concat)(parts))
        bundle = bundles.Bundle(
            node.full_label, transform.fn, tuple(args), dict(kwargs), window_fn, tuple(side_views)
        )
        # the tasks are named after the Beam step (`token`), so Dask's task stream and
        # dashboard show where the time goes step by step
        pairs = input_bag.map_partitions(
            bundles.run_bundle, bundle, *side_values, token=node.full_label
        )
        self.metric_bags.append(pairs.map_partitions(bundles.select, bundles.METRICS_TAG))
        for tag, output in node.outputs.items():  # the main output's tag is None
            self.bags[id(output)] = pairs.map_partitions(bundles.select, tag)

    def sinks(self, pipeline_outputs: Iterable) -> list:
        """Bags of the PCollections nothing consumes (reduced to counts: nothing large returns)."""
        return [
            self.bags[key].map_partitions(bundles.count_rows)
            for key in dict.fromkeys(id(value) for value in pipeline_outputs)
            if key not in self.consumed and key in self.bags
        ]


class _PCollectionLister(PipelineVisitor):
    def __init__(self):
        self.outputs: list = []

    def visit_transform(self, node) -> None:
        self.outputs.extend(node.outputs.values())


class DaskMetricResults(MetricResults):
    """The counters the bundles returned, summed (committed = attempted: a finished job)."""

    def __init__(self, counters: dict):
        self._counters = counters

    def query(self, filter=None):
        results = []
        for (step, namespace, name), value in sorted(self._counters.items()):
            key = MetricKey(step, MetricName(namespace, name))
            if MetricResults.matches(filter, key):
                results.append(MetricResult(key, value, value))
        return {
            self.COUNTERS: results,
            self.DISTRIBUTIONS: [],
            self.GAUGES: [],
            self.STRINGSETS: [],
            self.BOUNDED_TRIES: [],
        }


class DaskRunnerResult(PipelineResult):
    """Waits for every sink of the job; raises `DaskJobFailed` if the cluster cannot finish it."""

    def __init__(self, client, futures, metrics_future, owns_client: bool):
        super().__init__(PipelineState.RUNNING)
        self._client = client
        self._futures = futures
        self._metrics_future = metrics_future
        self._owns_client = owns_client
        self._counters: dict = {}

    def wait_until_finish(self, duration=None):
        """Wait for every sink (`duration` in milliseconds is not supported: waits to the end)."""
        try:
            *_, metrics = self._client.gather([*self._futures, self._metrics_future])
            for partition in metrics:
                for key, value in partition.items():
                    self._counters[key] = self._counters.get(key, 0) + value
            self._state = PipelineState.DONE
        except Exception as error:
            self._state = PipelineState.FAILED
            raise DaskJobFailed(
                f"The Dask job failed and wrote no complete output: {type(error).__name__}: {error}"
            ) from error
        finally:
            if self._owns_client:
                self._client.close()
        return self._state

    def cancel(self):
        self._client.cancel(self._futures + [self._metrics_future])
        self._state = PipelineState.CANCELLED
        return self._state

    def metrics(self):
        return DaskMetricResults(self._counters)


class DaskRunner(beam_dask_runner.DaskRunner):
    """Runs a batch pipeline on a Dask `distributed` cluster (see the module docstring)."""

    def run_pipeline(self, pipeline, options):
        import dask.bag as db
        import distributed

        dask_options = options.view_as(beam_dask_runner.DaskOptions).get_all_options(
            drop_default=True, current_only=True
        )
        bag_options = beam_dask_runner.DaskOptions._extract_bag_kwargs(dask_options)
        if bag_options.get("partition_size"):
            raise ValueError(
                "Expected --dask_npartitions (the Dask runner here partitions by count). "
                f"Received: dask_partition_size={bag_options['partition_size']}"
            )
        client = distributed.Client(set_as_default=False, **dask_options)
        try:
            threads = sum(client.nthreads().values())
            pipeline.replace_all(dask_overrides())
            visitor = _BagVisitor(threads, bag_options.get("npartitions"))
            pipeline.visit(visitor)
            lister = _PCollectionLister()
            pipeline.visit(lister)
            sinks = visitor.sinks(lister.outputs)
            metrics = (
                db.concat(visitor.metric_bags) if visitor.metric_bags else db.from_sequence([])
            )
            futures = client.compute([*sinks, metrics])
        except BaseException:
            client.close()
            raise
        return DaskRunnerResult(client, futures[:-1], futures[-1], owns_client=True)
