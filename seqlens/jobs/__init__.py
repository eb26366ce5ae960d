"""The work behind the commands: typed Python functions the CLI handlers and the batch steps share.

A `seqlens.commands` module parses flags and calls one of these functions; `seqlens.batch` calls
the same function with its settings. Each returns what it wrote and a one-line summary, which the
CLI prints and the batch path logs.
"""
