"""``twin nearby PATH ID --radius R``: assets near a segment, and clearance violations between networks."""

from __future__ import annotations

import argparse

from twin.faces.commands.network_args import (
    add_network_arguments,
    asset_row,
    connected_segments,
    emit,
    listing,
    load_and_find,
)
from twin.nearby import nearby


def register(subparsers) -> None:
    parser = subparsers.add_parser("nearby", help="assets within a radius of a pipe segment, and clearance violations")
    add_network_arguments(parser, "a segment or node id")
    parser.add_argument("--radius", type=float, required=True, help="search radius in metres")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    twin, ref, what = load_and_find(args)
    result = nearby(twin, asset_row(twin, ref, args.id, what), args.radius)
    joined = connected_segments(ref, args.id, what)
    for pipe in result["pipes"]:
        pipe["connected"] = pipe["network"] == result["network"] and pipe["id"] in joined
    lines = [
        f"within {args.radius:g} m of {what} {args.id} ({result['network']})",
        listing("pipes", [f"{p['id']} ({p['network']}, {p['clearance_m']:.2f} m)" for p in result["pipes"]]),
        listing("assets", [f"{a['id']} ({a['kind']}, {a['distance_m']:.1f} m)" for a in result["assets"]]),
        listing(
            "violations",
            [
                f"{v['id']} ({v['network']}: {v['clearance_m']:.2f} < {v['required_m']:.2f} m)"
                for v in result["violations"]
            ],
        ),
    ]
    return emit(result, args.json, lines)
