"""Silence the two messages Apache Beam logs on import about Google Cloud clients it lacks.

Importing `apache_beam` logs `apitools not found, and bigquery client libraries are not
available ...` (a root-logger warning) and `No module named google.cloud.bigquery_storage_v1 ...`
(from `apache_beam.io.gcp.bigquery`). Neither matters to a local or non-Google run, and they
preceded every one-line error of `seqlens pipeline`. `quiet_beam_import_messages` adds a filter
that drops exactly these two records (nothing else of Beam's logging changes); the `pipeline`
package calls it on import, before any of its modules imports Beam.
"""

from __future__ import annotations

import logging

# (logger name, message prefix) of each dropped record.
QUIET_MESSAGES: tuple[tuple[str, str], ...] = (
    ("root", "apitools not found, and bigquery client libraries are not available"),
    ("apache_beam.io.gcp.bigquery", "No module named google.cloud.bigquery_storage_v1"),
)


class _DropMessages(logging.Filter):
    def __init__(self, prefix: str):
        super().__init__()
        self.prefix = prefix

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith(self.prefix)


def quiet_beam_import_messages() -> None:
    """Install the filters (idempotent)."""
    for name, prefix in QUIET_MESSAGES:
        logger = logging.getLogger() if name == "root" else logging.getLogger(name)
        if not any(
            isinstance(existing, _DropMessages) and existing.prefix == prefix
            for existing in logger.filters
        ):
            logger.addFilter(_DropMessages(prefix))
