"""``twin isolate PATH SEGMENT_ID``: the valves that cut a segment off, and who loses supply.

With ``--hydraulic`` the network's EPANET model is solved with those valves closed
(:mod:`twin.hydraulics`): junctions below service pressure, demand not served, pipes whose
flow speeds up or reverses, and the buildings affected, critical facilities first.
"""

from __future__ import annotations

import argparse

from twin.faces.commands.network_args import add_network_arguments, emit, listing, load_and_find, segment_layer
from twin.hydraulics.drainage import is_gravity, plug
from twin.nearby import served_buildings
from twin.networks import STRATEGIES, default_strategy, isolate, set_valve_state


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
        help="a building is served by its nearest main (--hydraulic: junction) within this many metres (default 60)",
    )
    parser.add_argument(
        "--inoperable",
        action="append",
        default=[],
        metavar="VALVE",
        help="a valve that will not close (repeatable): isolation closes the next ones out",
    )
    parser.add_argument(
        "--hydraulic",
        action="store_true",
        help="solve the network's EPANET model with the valves closed: pressures, unserved demand, buildings",
    )
    parser.add_argument(
        "--service-pressure",
        type=float,
        default=0.14,
        metavar="MPA",
        help="with --hydraulic: a junction below this pressure is not served (default 0.14 MPa)",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    twin, ref, _ = load_and_find(args, prefer="segment")
    if is_gravity(ref.graph):
        return _drainage(args, ref)
    strategy = args.valves or default_strategy(ref.graph)
    for valve in args.inoperable:
        set_valve_state(ref.graph, valve, operable=False, strategy=strategy)
    if args.hydraulic:
        return _hydraulic(args, twin, ref, strategy)
    result = isolate(ref.graph, args.id, strategy)
    layer = segment_layer(twin, ref)
    result["buildings"] = served_buildings(twin, layer, set(result["segments"]), args.reach) if layer else []
    lines = [*_isolation_lines(args, result), listing("buildings", [b["id"] for b in result["buildings"]])]
    return emit(result, args.json, lines)


def _isolation_lines(args: argparse.Namespace, result: dict) -> list[str]:
    flag = " (assumed valve layer " + result["strategy"] + ")" if result["valves_assumed"] else ""
    return [
        f"isolate segment {args.id} of network {result['network']}{flag}",
        listing("close", [v["id"] for v in result["valves"]]),
        listing("segments", result["segments"]),
        listing("unintended", result["unintended_segments"]),
        listing("nodes", result["nodes"]),
        listing("customers", result["customers"]),
        f"  length       {result['length_m']:.1f} m out of supply",
    ]


def _hydraulic(args: argparse.Namespace, twin, ref, strategy: str) -> int:
    from twin.hydraulics import HydraulicSettings, consequences

    settings = HydraulicSettings(service_pressure_mpa=args.service_pressure, reach_m=args.reach)
    result = consequences(twin, ref, args.id, settings, strategy)
    h = result["hydraulic"]
    lines = _isolation_lines(args, result)
    if h["status"] != "ok":
        lines.append(f"  hydraulics   {h['message']}")
    else:
        reversed_ = [p["id"] for p in h["pipes"] if p["reversed"]]
        lines += [
            f"  hydraulics   {h['engine']}, service pressure {h['service_pressure_mpa']:g} MPa ({h['seconds']:.2f} s)",
            listing("low pressure", [j["id"] for j in h["junctions_below"]]),
            f"  unserved     {h['unserved_lps']:.2f} of {h['demand_lps']:.2f} L/s",
            listing("faster", [p["id"] for p in h["pipes"] if not p["reversed"]]),
            listing("reversed", reversed_),
        ]
    lines += [
        listing("buildings", [b["id"] + (f" ({b['critical']})" if b["critical"] else "") for b in h["buildings"]])
    ]
    lines.append(f"  {h['headline']}")
    return emit(result, args.json, lines)


def _drainage(args: argparse.Namespace, ref) -> int:
    """A sewer or storm segment: the plugs a crew sets and the upstream flow to bypass-pump."""
    result = plug(ref.graph, args.id)
    bypass = result["bypass"]
    lines = [
        f"isolate segment {args.id} of gravity network {result['network']} (plugs at both manholes)",
        listing("plug", [f"{v['id']} ({v['end']})" for v in result["valves"]]),
        f"  bypass       pump from manhole {bypass['from_node']} to {bypass['to_node']}",
        listing("upstream", bypass["segments"]),
        f"  contributing {bypass['length_m']:.1f} m of pipe upstream",
    ]
    return emit(result, args.json, lines)
