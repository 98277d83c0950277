"""The ``twin`` command.  Each subcommand lives in its own module under ``twin/faces/commands``.

A command module has ``register(subparsers)``, which adds its parser and sets ``func`` to a
function ``(args) -> int``.  Only the module of the command being run is imported: the others
are listed by name and one-line help alone, so ``twin --version`` or ``twin info`` never pay
for the web server (aiohttp), the network graphs (scipy, networkx) or another command's imports.
Bad input ends with exit status 2 and one line ``twin: error: <file>: <problem>`` on stderr,
never a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from typing import NamedTuple

from twin import __version__
from twin.errors import TwinError


class Command(NamedTuple):
    """A subcommand as ``twin --help`` lists it, and the module that registers and runs it."""

    name: str
    module: str
    help: str


#: every subcommand, in the order ``twin --help`` lists them; each ``help`` is its module's own
#: (``tests/test_startup.py`` checks that they agree)
COMMANDS = (
    Command("info", "twin.faces.commands.info", "summarise a data file or a scene"),
    Command("assets", "twin.faces.commands.assets", "list every asset (CSV)"),
    Command("render", "twin.faces.commands.render", "render a picture of a file or a scene"),
    Command("serve", "twin.faces.commands.serve", "serve the browser app on a scene"),
    Command(
        "isolate",
        "twin.faces.commands.isolate",
        "valves to close to isolate a pipe segment, and who loses supply",
    ),
    Command("trace", "twin.faces.commands.trace", "segments and nodes up- or downstream of a node or segment"),
    Command(
        "nearby",
        "twin.faces.commands.nearby",
        "assets within a radius of a pipe segment, and clearance violations",
    ),
    Command("replay", "twin.faces.commands.replay_readings", "replay recorded readings into a running server"),
    Command("report", "twin.faces.commands.report", "a situation report (PDF) of an incident, or a shift handover"),
    Command("tile", "twin.faces.commands.tile", "build a 3D Tiles 1.1 tileset of a scene (in parallel, on Dask)"),
)


def build_parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """The parser for ``argv``: the command it names is registered by its module, the others by name.

    ``argv`` None means every command's module (a parser that can parse any command line).
    """
    parser = argparse.ArgumentParser(prog="twin", description="CIM Twin: a digital twin of a city for urban safety.")
    parser.add_argument("--version", action="version", version=f"twin {__version__}")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    chosen = None if argv is None else next((arg for arg in argv if not arg.startswith("-")), "")
    for command in COMMANDS:
        if chosen is None or command.name == chosen:
            importlib.import_module(command.module).register(subparsers)
        else:
            subparsers.add_parser(command.name, help=command.help)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = build_parser(argv).parse_args(argv)
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
