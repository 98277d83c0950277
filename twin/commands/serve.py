"""``twin serve [PATH]``: the browser app on a scene (the demo district without PATH)."""

from __future__ import annotations

import argparse
import ipaddress
import sys
import webbrowser
from pathlib import Path

from twin.errors import InputError
from twin.loading import load

DEMO = Path(__file__).resolve().parents[2] / "scenes" / "demo.toml"


def register(subparsers) -> None:
    parser = subparsers.add_parser("serve", help="serve the browser app on a scene")
    parser.add_argument("path", nargs="?", help="a data file or scene manifest (default: the demo district)")
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1, this machine only)")
    parser.add_argument("--port", type=int, default=8080, help="port (0 picks a free one)")
    parser.add_argument("--rendering", choices=("server", "client"), default="server",
                        help="server: image stream (default, thin clients); client: vtk.js in the browser")
    parser.add_argument("--open", action="store_true", help="open the app in the system's browser once ready")
    parser.set_defaults(func=run)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def run(args: argparse.Namespace) -> int:
    if not is_loopback(args.host):
        raise InputError(None, f"refusing to bind {args.host}: only loopback addresses are served in this version",
                         hint="serve on 127.0.0.1 and put an authenticating reverse proxy in front")
    path = Path(args.path) if args.path else DEMO
    twin = load(path)
    from app import TwinApp

    app = TwinApp(twin, rendering=args.rendering)

    def ready(port: int) -> None:
        url = f"http://{args.host}:{port}/"
        print(f"CIM Twin serving '{twin.name}' at {url}", flush=True)
        if args.open:
            webbrowser.open(url)

    try:
        app.start(host=args.host, port=args.port, on_ready=ready)
    except OSError as exc:
        raise InputError(None, f"cannot serve on {args.host}:{args.port}: {exc.strerror or exc}") from None
    return 0


