"""``twin tile SCENE -o DIR [--workers N | --scheduler ADDRESS] [--json]``: the city as 3D Tiles 1.1."""

from __future__ import annotations

import argparse
import json
import sys

from twin.tiling import BuildOptions, build_tileset


def register(subparsers) -> None:
    parser = subparsers.add_parser("tile", help="build a 3D Tiles 1.1 tileset of a scene (in parallel, on Dask)")
    parser.add_argument("path", help="a scene manifest (.toml) or one data file")
    parser.add_argument("-o", "--out", required=True, metavar="DIR", help="the tileset folder (made if missing)")
    cluster = parser.add_mutually_exclusive_group()
    cluster.add_argument("--workers", type=int, default=2, help="local Dask worker processes (default 2)")
    cluster.add_argument("--scheduler", metavar="ADDRESS", help="an existing Dask scheduler, e.g. tcp://host:8786")
    parser.add_argument("--tile-size", type=float, default=128.0, help="leaf tile size in metres (default 128)")
    parser.add_argument("--json", action="store_true", help="print the build's results as JSON")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    show = not args.json and sys.stderr.isatty()
    options = BuildOptions(
        workers=args.workers,
        scheduler=args.scheduler,
        tile_size=args.tile_size,
        progress=_bar if show else None,
    )
    report = build_tileset(args.path, args.out, options)
    if args.json:
        print(json.dumps(report.as_json(), indent=2))
    else:
        _summary(report)
    return 0 if report.ok else 1


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
