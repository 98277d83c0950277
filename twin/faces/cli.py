"""The ``twin`` command.  Each subcommand lives in its own module under ``twin/commands``.

A command module has ``register(subparsers)``, which adds its parser and sets ``func`` to a
function ``(args) -> int``.  Bad input ends with exit status 2 and one line
``twin: error: <file>: <problem>`` on stderr, never a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from twin import __version__
from twin.errors import TwinError

COMMANDS = (
    "twin.faces.commands.info",
    "twin.faces.commands.assets",
    "twin.faces.commands.render",
    "twin.faces.commands.serve",
    "twin.faces.commands.isolate",
    "twin.faces.commands.trace",
    "twin.faces.commands.nearby",
    "twin.faces.commands.replay_readings",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="twin", description="CIM Twin: a digital twin of a city for urban safety.")
    parser.add_argument("--version", action="version", version=f"twin {__version__}")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMANDS:
        importlib.import_module(name).register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except TwinError as exc:
        message = str(exc).replace("\nHint: ", " (hint: ", 1)
        print(f"twin: error: {message}{')' if '(hint: ' in message else ''}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
