"""Test order for a short wall clock on two workers: the files with `slow` tests start first.

`make test` runs `pytest -n 2 --dist loadfile --no-loadscope-reorder`: each worker takes the next
whole file from a queue in collection order. Left alone, the few files that take minutes
(process kills at every step, the Airflow DAG runs, the demo) came last, and one worker ran
them alone while the other had finished. Started first, they overlap with everything else and
the suite ends on short files. The order of tests inside a file is kept.
"""

from __future__ import annotations


def pytest_collection_modifyitems(session, config, items) -> None:
    slow_files = {item.path for item in items if item.get_closest_marker("slow") is not None}
    items.sort(key=lambda item: item.path not in slow_files)  # stable: keeps the order within
