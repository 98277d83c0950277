"""``twin render PATH -o OUT.png``: an offscreen picture of a file or a scene."""

from __future__ import annotations

import argparse
from pathlib import Path

from twin.errors import InputError
from twin.faces.commands.common import add_load_arguments, check_output, load_with_progress


def register(subparsers) -> None:
    parser = subparsers.add_parser("render", help="render a picture of a file or a scene")
    add_load_arguments(parser)
    parser.add_argument("-o", "--output", required=True, metavar="OUT.png")
    parser.add_argument("--size", default="1280x800", metavar="WxH")
    parser.add_argument("--view", default="iso", choices=("iso", "top", "front", "side"))
    parser.add_argument("--bookmark", help="a camera bookmark of the scene manifest, instead of --view")
    parser.add_argument(
        "--risk",
        action="store_true",
        help="colour by live risk (the store's current levels) with legend, time and active alerts",
    )
    parser.add_argument(
        "--store", metavar="FILE.duckdb", help="with --risk: the live-risk store (default: the scene's [live] store)"
    )
    parser.set_defaults(func=run)


def parse_size(text: str) -> tuple[int, int]:
    try:
        width, height = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise InputError(None, f"--size must look like 1280x800, not {text!r}") from None
    if not (16 <= width <= 8192 and 16 <= height <= 8192):
        raise InputError(None, f"--size {text} is out of range (16..8192 each way)")
    return width, height


def run(args: argparse.Namespace) -> int:
    size = parse_size(args.size)
    check_output(args.output)
    twin, _ = load_with_progress(args)
    from twin.faces.rendering import render_png

    try:
        if args.risk:
            _render_risk(twin, args, size)
        else:
            render_png(twin, args.output, size=size, view=args.view, bookmark=args.bookmark)
    except KeyError:
        raise InputError(twin.path, f"no camera bookmark named {args.bookmark!r}") from None
    except OSError as exc:
        raise InputError(args.output, f"cannot write the picture ({exc.strerror or exc})", where="-o") from None
    print(f"wrote {args.output}")
    return 0


def _render_risk(twin, args: argparse.Namespace, size: tuple[int, int]) -> None:
    from twin.faces.app.snapshot import render_risk
    from twin.risk.service import RiskService

    if not twin.live:
        raise InputError(twin.path, "--risk needs a scene with a [live] table (sensors and rules)")
    service = RiskService.from_twin(twin, store_path=Path(args.store) if args.store else None, record_levels=False)
    with service.open():
        render_risk(twin, service, args.output, size=size, view=args.view, bookmark=args.bookmark)
