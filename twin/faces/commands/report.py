"""``twin report SCENE --incident ID -o report.pdf`` (or ``--handover HOURS``): a situation report.

Reads the scene's live-risk store (it must not be open in a running ``twin serve``: DuckDB has
one writer), draws the map in risk colours unless ``--no-map``, and writes a PDF in Chinese and
English (:mod:`twin.faces.sitrep`).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from twin.errors import InputError
from twin.faces.commands.common import add_load_arguments, check_output, load_with_progress


def register(subparsers) -> None:
    parser = subparsers.add_parser("report", help="a situation report (PDF) of an incident, or a shift handover")
    add_load_arguments(parser)
    which = parser.add_mutually_exclusive_group(required=True)
    which.add_argument("--incident", type=int, metavar="ID", help="the incident (GET /api/incidents lists them)")
    which.add_argument("--handover", type=float, metavar="HOURS", help="a shift handover of the last HOURS")
    parser.add_argument("-o", "--output", required=True, metavar="OUT.pdf")
    parser.add_argument(
        "--store", metavar="FILE.duckdb", help="the live-risk store (default: the scene's [live] store)"
    )
    parser.add_argument("--no-map", action="store_true", help="leave the map snapshot out (faster)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    check_output(args.output)
    twin, _ = load_with_progress(args)
    from twin.faces.sitrep import handover_report, incident_report
    from twin.risk.service import RiskService

    if not twin.live:
        raise InputError(twin.path, "a report needs a scene with a [live] table (sensors and rules)")
    service = RiskService.from_twin(twin, store_path=Path(args.store) if args.store else None, record_levels=False)
    with service.open(), tempfile.TemporaryDirectory() as scratch:
        if args.handover is not None:
            listing = [service.incident(i["id"]) or i for i in service.incidents(include_closed=True)]
            handover_report(listing, args.handover, time.time(), Path(args.output))
        else:
            incident = service.incident(args.incident)
            if incident is None:
                raise InputError(service.history.path, f"no incident {args.incident} in the store", where="--incident")
            snapshot = None if args.no_map else _snapshot(twin, service, Path(scratch) / "map.png")
            incident_report(incident, Path(args.output), snapshot)
    print(f"wrote {args.output}")
    return 0


def _snapshot(twin, service, out: Path) -> Path:
    from twin.faces.app.snapshot import render_risk

    render_risk(twin, service, str(out), size=(1280, 800), view="top", bookmark=None)
    return out
