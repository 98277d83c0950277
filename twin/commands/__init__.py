"""Subcommands of ``twin``; see :mod:`twin.cli`."""
