"""What the Dask runner's tasks run on the workers: a ParDo over one partition, bag helpers.

Module-level functions only (the tasks pickle them by reference). `run_bundle` runs a DoFn the
way a Beam worker runs a bundle -- setup, start_bundle, process per element, finish_bundle,
teardown -- under a `MetricsContainer`, and returns every output as a `(tag, value)` pair (the
main output's tag is None) plus one `(METRICS_TAG, {(step, namespace, name): value})` pair.
Elements travel between tasks without their window: the runner supports global windows only.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import apache_beam as beam
from apache_beam.runners.common import Receiver
from apache_beam.transforms.window import GlobalWindow
from apache_beam.utils.windowed_value import WindowedValue

METRICS_TAG = "__seqlens_dask_metrics__"


@dataclass(frozen=True)
class Bundle:
    """What a worker needs to run one ParDo over one partition (pickled into the graph)."""

    label: str
    fn: Any
    args: tuple
    kwargs: dict
    window_fn: Any
    side_views: tuple  # ((view class, view options), ...) in the order of `side_values`


class _Receiver(Receiver):
    def __init__(self, tag, outputs: list):
        self._tag = tag
        self._outputs = outputs

    def receive(self, windowed_value):
        self._outputs.append((self._tag, windowed_value.value))


class _Receivers(dict):
    """`{tag: receiver}` that creates the receiver of a tag on first use (None: main)."""

    def __init__(self, outputs: list):
        super().__init__()
        self._outputs = outputs

    def __missing__(self, tag):
        receiver = self[tag] = _Receiver(tag, self._outputs)
        return receiver


def _windowed(value) -> WindowedValue:
    return WindowedValue(value, 0, (GlobalWindow(),))


def run_bundle(items: Iterable, bundle: Bundle, *side_values) -> list:
    """Run `bundle.fn` over one partition; returns `(tag, value)` pairs and one metrics pair."""
    from apache_beam.metrics.execution import MetricsContainer
    from apache_beam.runners.common import (
        DoFnContext,
        DoFnInvoker,
        DoFnSignature,
        _OutputHandler,
    )
    from apache_beam.runners.worker import statesampler
    from apache_beam.transforms.sideinputs import SideInputMap
    from apache_beam.utils.counters import CounterFactory

    outputs: list = []
    receivers = _Receivers(outputs)
    handler = _OutputHandler(
        window_fn=bundle.window_fn,
        main_receivers=receivers[None],
        tagged_receivers=receivers,
        per_element_output_counter=None,
        output_batch_converter=None,
        process_yields_batches=False,
        process_batch_yields_elements=False,
    )
    side_inputs = [
        SideInputMap(view_class, view_options, [_windowed(value) for value in values])
        for (view_class, view_options), values in zip(bundle.side_views, side_values, strict=True)
    ]
    invoker = DoFnInvoker.create_invoker(
        DoFnSignature(bundle.fn),
        handler,
        context=DoFnContext(bundle.label, state=None),
        side_inputs=side_inputs,
        input_args=list(bundle.args),
        input_kwargs=dict(bundle.kwargs),
        user_state_context=None,
        bundle_finalizer_param=beam.DoFn.BundleFinalizerParam(),
    )
    sampler = statesampler.StateSampler("", CounterFactory())
    container = MetricsContainer(bundle.label)
    statesampler.set_current_tracker(sampler)
    try:
        with sampler.scoped_state(bundle.label, "process", metrics_container=container):
            invoker.invoke_setup()
            invoker.invoke_start_bundle()
            for item in items:
                invoker.invoke_process(_windowed(item))
            invoker.invoke_finish_bundle()
            invoker.invoke_teardown()
    finally:
        statesampler.set_current_tracker(None)
    counters = {
        (key.step, key.metric.namespace, key.metric.name): int(value)
        for key, value in container.get_cumulative().counters.items()
    }
    outputs.append((METRICS_TAG, counters))
    return outputs


def select(pairs: Iterable, tag) -> list:
    return [value for pair_tag, value in pairs if pair_tag == tag]


def first(pair):
    return pair[0]


def group_values(groups: Iterable) -> list:
    return [(key, [value for _, value in pairs]) for key, pairs in groups]


def concat(partitions: list) -> list:
    return [value for partition in partitions for value in partition]


def count_rows(partition: Iterable) -> list:
    """`[number of elements]` of a partition (what a sink's task returns to the client)."""
    return [sum(1 for _ in partition)]
