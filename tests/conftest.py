"""Shared pytest hooks.

The modules holding a test marked `slow` are collected first: `make test` runs two xdist
workers that take whole modules (`--dist loadfile`) in collection order, so the long modules
(fault injection, the DAG runs, the demo) start at once instead of leaving one worker alone with
them at the end.
"""

from __future__ import annotations

import pytest


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    slow_modules = {item.nodeid.split("::")[0] for item in items if item.get_closest_marker("slow")}
    items.sort(key=lambda item: item.nodeid.split("::")[0] not in slow_modules)  # stable sort
