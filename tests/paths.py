"""Paths the tests share: the repository root, wherever a test module sits below `tests/`."""

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
