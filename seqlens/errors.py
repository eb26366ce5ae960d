"""Errors the command line turns into one clear line and exit code 2 instead of a traceback."""


class UsageError(Exception):
    """A problem with the user's input that deserves one clear line, not a traceback."""
