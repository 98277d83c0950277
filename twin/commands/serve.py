"""``twin serve [PATH]``: the browser app on a scene (the demo district without PATH)."""

from __future__ import annotations

import argparse

def register(subparsers) -> None:
    parser = subparsers.add_parser("serve", help="serve the browser app")
    parser.add_argument("path", nargs="?", help="a data file or scene manifest (default: the demo district)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    raise NotImplementedError
