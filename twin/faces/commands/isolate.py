"""``twin isolate PATH SEGMENT_ID``: the valves that cut a segment off, and who loses supply."""

from __future__ import annotations

import argparse

from twin.faces.commands.network_args import add_network_arguments, emit, listing, load_and_find, segment_layer
from twin.nearby import served_buildings
from twin.networks import STRATEGIES, isolate


def register(subparsers) -> None:
    parser = subparsers.add_parser("isolate", help="valves to close to isolate a pipe segment, and who loses supply")
    add_network_arguments(parser, "the segment (pipe) id")
    parser.add_argument(
        "--valves",
        choices=STRATEGIES,
        help="valve layer: the data's valves, or assumed at "
        "every pipe end (N) or all but one end per node (N-1); default: data if any, else N-1",
    )
    parser.add_argument(
        "--reach",
        type=float,
        default=60.0,
        help="a building is served by its nearest main within this many metres (default 60)",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    twin, ref, _ = load_and_find(args, prefer="segment")
    result = isolate(ref.graph, args.id, args.valves)
    layer = segment_layer(twin, ref)
    result["buildings"] = served_buildings(twin, layer, set(result["segments"]), args.reach) if layer else []
    flag = " (assumed valve layer " + result["strategy"] + ")" if result["valves_assumed"] else ""
    lines = [
        f"isolate segment {args.id} of network {result['network']}{flag}",
        listing("close", [v["id"] for v in result["valves"]]),
        listing("segments", result["segments"]),
        listing("unintended", result["unintended_segments"]),
        listing("nodes", result["nodes"]),
        listing("customers", result["customers"]),
        listing("buildings", [b["id"] for b in result["buildings"]]),
        f"  length       {result['length_m']:.1f} m out of supply",
    ]
    return emit(result, args.json, lines)
