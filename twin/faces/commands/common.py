"""Arguments and loading shared by the subcommands."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from twin.errors import InputError

if TYPE_CHECKING:
    from twin.scene import Twin


def add_load_arguments(parser: argparse.ArgumentParser) -> None:
    """PATH plus the options that change how it loads."""
    parser.add_argument(
        "path", help="a data file (.ifc, .las, .laz, .inp, .geojson, .city.json, ...) or a scene manifest (.toml)"
    )
    parser.add_argument("--kind", help="read PATH as this kind or loader, whatever its suffix")
    parser.add_argument("--budget", type=int, help="point budget for point clouds (points shown at most)")
    parser.add_argument(
        "-O",
        "--option",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a loader option, for a single data file (repeatable)",
    )


def loader_options(args: argparse.Namespace) -> dict[str, Any]:
    options: dict[str, Any] = {}
    for item in args.option:
        key, _, value = item.partition("=")
        options[key.strip()] = _scalar(value.strip())
    if args.budget is not None:
        options["budget"] = args.budget
    return options


def _scalar(text: str) -> Any:
    for convert in (int, float):
        try:
            return convert(text)
        except ValueError:
            pass
    return {"true": True, "false": False}.get(text.lower(), text)


def load_with_progress(args: argparse.Namespace, quiet: bool = False) -> tuple[Twin, float]:
    """Load PATH, showing progress on a terminal unless ``quiet``; return the twin and the seconds."""
    show = not quiet and sys.stderr.isatty()

    def progress(done: int, total: int, what: str) -> None:
        if show:
            width = 30
            filled = int(width * done / max(total, 1))
            print(
                f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{total} {what[:40]:<40}",
                end="" if done < total else "\n",
                file=sys.stderr,
                flush=True,
            )

    from twin.loading import load  # here, not at import: ``twin CMD --help`` needs no loading machinery

    started = time.perf_counter()
    twin = load(args.path, kind=args.kind, options=loader_options(args), progress=progress)
    return twin, time.perf_counter() - started


def check_output(text: str) -> None:
    """Refuse an output the picture cannot be written to, before minutes of loading are spent."""
    output = Path(text)
    if output.is_dir():
        raise InputError(output, "is a directory: give a file name such as view.png", where="-o")
    if not output.parent.is_dir():
        raise InputError(output, f"no such folder: {output.parent}", where="-o")
