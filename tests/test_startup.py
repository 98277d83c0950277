"""Start-up of the ``twin`` command: each command imports only what it uses (issue #20).

What a command line imports is read from ``sys.modules`` of a fresh interpreter, never timed
here (``bench/bench_startup.py`` has the figures).
"""

from __future__ import annotations

import argparse
import importlib
import json
import subprocess
import sys

import pytest

from twin.faces import cli

#: what no command but those that need them may import: the web server, graphs, VTK's scene
HEAVY = ("aiohttp", "trame", "scipy.spatial", "networkx", "duckdb", "pyarrow")


def imported_by(*argv: str) -> set[str]:
    """The modules a fresh interpreter holds after building the parser for ``argv``."""
    code = (
        "import json, sys\n"
        "from twin.faces import cli\n"
        f"cli.build_parser({list(argv)!r})\n"
        "print(json.dumps(sorted(sys.modules)))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return set(json.loads(done.stdout))


def heavy(modules: set[str]) -> set[str]:
    return {name for name in HEAVY if name in modules}


def test_version_imports_no_command():
    modules = imported_by("--version")
    assert not heavy(modules)
    assert not any(name.startswith("twin.faces.commands.") for name in modules)


@pytest.mark.parametrize("command", ["info", "assets", "render"])
def test_loading_commands_import_neither_server_nor_graphs(command):
    modules = imported_by(command, "x.las")
    assert f"twin.faces.commands.{command}" in modules
    assert not heavy(modules), heavy(modules)
    assert not {name for name in modules if name.startswith("twin.faces.commands.")} - {
        f"twin.faces.commands.{command}",
        "twin.faces.commands",
        "twin.faces.commands.common",
    }


def test_each_command_imports_its_own_module_only():
    for command in cli.COMMANDS:
        modules = imported_by(command.name)
        commands = {name for name in modules if name.startswith("twin.faces.commands.")}
        assert command.module in commands
        others = {c.module for c in cli.COMMANDS} - {command.module}
        assert not commands & others, (command.name, commands & others)


def test_the_listing_help_is_each_modules_own():
    # build_parser() with no argv registers every command from its module: compare the help
    parser = cli.build_parser()
    actions = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    helps = {choice.dest: choice.help for choice in actions._choices_actions}
    assert helps == {c.name: c.help for c in cli.COMMANDS}
    for command in cli.COMMANDS:
        assert hasattr(importlib.import_module(command.module), "register")


def test_help_lists_every_command_and_unknown_ones_fail(capsys):
    with pytest.raises(SystemExit) as done:
        cli.main(["--help"])
    assert done.value.code == 0
    listing = capsys.readouterr().out
    assert all(c.name in listing for c in cli.COMMANDS)
    with pytest.raises(SystemExit) as done:
        cli.main(["nonsense"])
    assert done.value.code == 2 and "invalid choice" in capsys.readouterr().err


def test_a_command_parses_its_own_arguments():
    args = cli.build_parser(["info", "scene.toml", "--json"]).parse_args(["info", "scene.toml", "--json"])
    assert args.command == "info" and args.json and args.path == "scene.toml" and callable(args.func)


def test_every_public_name_of_twin_is_exported_lazily():
    import twin

    assert set(twin.__all__) == set(twin._EXPORTS) | {"__version__"}
    assert all(getattr(twin, name) is not None for name in twin.__all__)
