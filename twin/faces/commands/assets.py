"""``twin assets PATH [--csv OUT]``: the asset inventory, one row per asset."""

from __future__ import annotations

import argparse
import sys

from twin.faces.commands.common import add_load_arguments, load_with_progress


def register(subparsers) -> None:
    parser = subparsers.add_parser("assets", help="list every asset (CSV)")
    add_load_arguments(parser)
    parser.add_argument("--csv", metavar="OUT", help="write to this file instead of standard output")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    twin, _ = load_with_progress(args, quiet=args.csv is None)
    if args.csv:
        with open(args.csv, "w", encoding="utf-8", newline="") as handle:
            twin.assets.write_csv(handle)
        print(f"wrote {len(twin.assets):,} assets to {args.csv}", file=sys.stderr)
    else:
        twin.assets.write_csv(sys.stdout)
    return 0
