"""The `seqlens` subcommands: one argparse module per job, each with `register(commands)`.

Command modules stay light at import time (no TensorFlow, Beam or Airflow at module level) so
that `seqlens --help` answers at once; their handlers import the library they run.
"""
