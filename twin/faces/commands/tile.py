"""``twin tile SCENE -o DIR [--workers N | --scheduler ADDRESS] [--risk-from STORE] [--json]``: the city
as 3D Tiles 1.1, its features carrying their risk level as a live store has it now."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from twin.errors import InputError
from twin.tiling import BuildOptions, build_tileset


def register(subparsers) -> None:
    parser = subparsers.add_parser("tile", help="build a 3D Tiles 1.1 tileset of a scene (in parallel, on Dask)")
    parser.add_argument("path", help="a scene manifest (.toml) or one data file")
    parser.add_argument("-o", "--out", required=True, metavar="DIR", help="the tileset folder (made if missing)")
    cluster = parser.add_mutually_exclusive_group()
    cluster.add_argument("--workers", type=int, default=2, help="local Dask worker processes (default 2)")
    cluster.add_argument("--scheduler", metavar="ADDRESS", help="an existing Dask scheduler, e.g. tcp://host:8786")
    parser.add_argument("--tile-size", type=float, default=128.0, help="leaf tile size in metres (default 128)")
    parser.add_argument(
        "--risk-from",
        metavar="STORE",
        help="a live risk store (.duckdb of twin serve, not in use): each asset's level now goes into its features",
    )
    parser.add_argument("--json", action="store_true", help="print the build's results as JSON")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    show = not args.json and sys.stderr.isatty()
    options = BuildOptions(
        workers=args.workers,
        scheduler=args.scheduler,
        tile_size=args.tile_size,
        progress=_bar if show else None,
        risk=risk_levels(Path(args.risk_from)) if args.risk_from else None,
    )
    report = build_tileset(args.path, args.out, options)
    if args.json:
        print(json.dumps(report.as_json(), indent=2))
    else:
        _summary(report)
    return 0 if report.ok else 1


def risk_levels(path: Path) -> dict[str, str]:
    """Asset id -> level name ("red" ... "blue") of each asset at risk now in the store at ``path``.

    The store must exist (a new one would be empty: a mistyped name must not give a tileset
    without risk) and no server may hold it (DuckDB has one writer: the error says so).
    """
    from twin.risk.levels import BLUE, NAMES
    from twin.risk.store import Store

    if not path.is_file():
        raise InputError(path, "no such risk store", hint="give --risk-from the .duckdb store of a scene's live risk")
    store = Store(path).open()
    try:
        levels = store.asset_levels_at(time.time())
    finally:
        store.close()
    return {asset: NAMES[code] for asset, code in levels.items() if code >= BLUE}


def _bar(done: int, total: int, what: str) -> None:
    width = 30
    filled = int(width * done / max(total, 1))
    end = "\n" if done >= total else ""
    print(
        f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{total} {what[:40]:<40}",
        end=end,
        file=sys.stderr,
        flush=True,
    )


def _summary(report) -> None:
    counts = report.counts
    print(
        f"{report.out}: {counts.get('tiles', 0)} tiles ({report.written} written, {report.skipped} unchanged), "
        f"{counts.get('assets', 0):,} assets, {counts.get('triangles', 0):,} triangles, "
        f"{counts.get('points', 0):,} points in {report.seconds:.1f} s",
        file=sys.stderr,
    )
    for failure in report.failures:
        where = failure.get("tile") or failure["source"]
        print(f"failed: {where} ({failure['source']}): {failure['error']}", file=sys.stderr)
