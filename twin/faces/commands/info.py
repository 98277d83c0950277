"""``twin info PATH [--json]``: what a file or scene holds."""

from __future__ import annotations

import argparse
import json

from twin.faces.commands.common import add_load_arguments, load_with_progress
from twin.summary import describe, text_summary


def register(subparsers) -> None:
    parser = subparsers.add_parser("info", help="summarise a data file or a scene")
    add_load_arguments(parser)
    parser.add_argument("--json", action="store_true", help="print the stable JSON summary (keys in the README)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    twin, seconds = load_with_progress(args, quiet=args.json)
    info = describe(twin, seconds)
    print(json.dumps(info, indent=2, allow_nan=False, default=str) if args.json else text_summary(info))
    return 0
