"""Subcommands of this module (being built; registers nothing yet)."""


def register(commands) -> None:
    """Add this module's subcommands to `commands` (see `seqlens.cli.CommandGroups`)."""
