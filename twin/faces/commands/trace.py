"""``twin trace PATH ID --upstream|--downstream``: what lies up- or downstream of a node or segment."""

from __future__ import annotations

import argparse

from twin.faces.commands.network_args import add_network_arguments, emit, listing, load_and_find
from twin.networks import trace


def register(subparsers) -> None:
    parser = subparsers.add_parser("trace", help="segments and nodes up- or downstream of a node or segment")
    add_network_arguments(parser, "a segment or node id (segments are looked up first)")
    side = parser.add_mutually_exclusive_group(required=True)
    side.add_argument("--upstream", dest="direction", action="store_const", const="upstream")
    side.add_argument("--downstream", dest="direction", action="store_const", const="downstream")
    parser.add_argument("--node", action="store_true", help="ID is a node even if a segment has the same id")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    _, ref, what = load_and_find(args, prefer="node" if args.node else "segment")
    result = trace(ref.graph, args.id, args.direction, what)
    lines = [
        f"{args.direction} of {what} {args.id} in network {result['network']} (by {result['basis']})",
        listing("segments", result["segments"]),
        listing("nodes", result["nodes"]),
        listing("ends", result["ends"]),
        f"  length       {result['length_m']:.1f} m",
    ]
    return emit(result, args.json, lines)
