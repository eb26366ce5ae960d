"""Small UI helpers shared by the pages: the artifacts root and empty states."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import streamlit as st

from dashboard.artifacts import MissingArtifact

ROOT_KEY = "artifacts_root"
ITEM_METADATA_KEY = "item_metadata"


def artifacts_root() -> Path:
    """The artifacts root chosen in the sidebar (set by `dashboard/app.py`)."""
    return Path(st.session_state[ROOT_KEY])


def show_empty_state(error: MissingArtifact) -> None:
    """Tell the user what is missing and which command produces it."""
    st.info(str(error), icon=":material/inventory_2:")


@contextmanager
def empty_state_on_missing() -> Iterator[None]:
    """Run a page section; a `MissingArtifact` inside it becomes an empty state, not a traceback."""
    try:
        yield
    except MissingArtifact as error:
        show_empty_state(error)
