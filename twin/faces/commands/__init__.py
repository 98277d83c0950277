"""Subcommands of ``twin``; see :mod:`twin.faces.cli`."""
