"""``twin serve [PATH]``: the browser app on a scene (the demo district without PATH)."""

from __future__ import annotations

import argparse
import os
import webbrowser
from pathlib import Path

from twin.errors import InputError
from twin.faces.commands import scene_cache
from twin.faces.i18n import LANGUAGES
from twin.faces.security import TOKEN_ENV, AccessPolicy
from twin.resources import demo_scene
from twin.streaming.select import Budget


def register(subparsers) -> None:
    parser = subparsers.add_parser("serve", help="serve the browser app on a scene")
    parser.add_argument(
        "path", nargs="?", help="a data file, scene manifest or city tileset folder (default: the demo district)"
    )
    parser.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to bind (default 127.0.0.1: this machine only; any other needs a token)",
    )
    parser.add_argument("--port", type=int, default=8080, help="port (0 picks a free one)")
    parser.add_argument("--token", help=f"access token for a non-loopback bind (better: set ${TOKEN_ENV})")
    parser.add_argument(
        "--allow-origin",
        action="append",
        default=[],
        metavar="URL",
        help="another origin allowed to open the websocket (e.g. behind a proxy)",
    )
    parser.add_argument(
        "--rendering",
        choices=("server", "client"),
        default="server",
        help="server: image stream (default, thin clients); client: vtk.js in the browser",
    )
    parser.add_argument(
        "--lang",
        choices=tuple(LANGUAGES),
        help="the page's language for every browser (zh: simplified Chinese, en: English; default: each"
        " browser's own preference; ?lang=zh|en in a URL still chooses)",
    )
    parser.add_argument(
        "--open", action="store_true", help="open the app in the system's browser (its loading screen first)"
    )
    parser.add_argument(
        "--store",
        metavar="FILE.duckdb",
        help="the live-risk store (default: the scene's [live] store, else <scene>.risk.duckdb; beside a"
        " read-only or bundled scene, in the state folder: $TWIN_STATE_DIR, else ~/.local/state/cim-twin)",
    )
    parser.add_argument(
        "--simulate",
        action="store_true",
        help="feed the live risk with the built-in incident simulator (gas leak, burst main, ...)",
    )
    parser.add_argument(
        "--simulate-rate",
        type=float,
        metavar="N",
        help="run the simulator as a load test: N readings/s in all (implies --simulate)",
    )
    parser.add_argument(
        "--mqtt",
        metavar="URL",
        help="also take readings from an MQTT broker, e.g. mqtt://broker:1883/twin (topics twin/<network>/<sensor>"
        " and twin/batch, QoS 1); 'local' starts Debian's mosquitto on a free loopback port",
    )
    parser.add_argument(
        "--briefing",
        action="store_true",
        help="every browser opens the full-screen briefing screen (also: any URL with ?mode=briefing)",
    )
    parser.add_argument(
        "--triangles",
        type=int,
        default=Budget.triangles,
        metavar="N",
        help=f"a city tileset folder: triangles drawn at most, shared by the views (default {Budget.triangles:,})",
    )
    parser.add_argument(
        "--points",
        type=int,
        default=Budget.points,
        metavar="N",
        help=f"a city tileset folder: points drawn at most, shared by the views (default {Budget.points:,})",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.simulate_rate is not None and not args.simulate_rate > 0:
        raise InputError(None, f"--simulate-rate must be a positive number of readings/s, not {args.simulate_rate:g}")
    token = args.token or os.environ.get(TOKEN_ENV) or None
    policy = AccessPolicy(host=args.host, token=token, allowed_origins=set(args.allow_origin))
    path = Path(args.path) if args.path else demo_scene()
    from twin.faces.app.loading import LoadingServer

    # the port shows CIM Twin's loading screen (sources loaded of total) until the app takes it over
    screen = LoadingServer(policy, path.stem, args.lang)
    try:
        port = screen.start(args.port)
    except OSError as exc:
        raise InputError(None, f"cannot serve on {args.host}:{args.port}: {exc.strerror or exc}") from None
    print(f"CIM Twin loading {path.name}: {args.host}:{port} shows the progress", flush=True)
    url = f"http://{'127.0.0.1' if args.host in ('0.0.0.0', '::') else args.host}:{port}/"
    if args.open:  # the browser shows the progress, then turns into the app by itself
        webbrowser.open(url)
    try:
        twin, city, risk, feed, cast, app = _prepare(args, path, screen.progress)
    finally:
        screen.stop()
    from twin.faces.api import network_routes, nowcast_routes, routes

    # the engineer's network questions (isolation with hydraulics) need no live data; the rest of the API does
    mounted = network_routes(twin) + nowcast_routes(cast) + (routes(risk) if risk is not None else [])
    app.server.controller.on_server_bind.add(lambda wslink_server: wslink_server.app.add_routes(mounted))

    def ready(_port: int) -> None:
        note = " (access token required: open the URL once with ?token=<your token>)" if policy.token else ""
        print(f"CIM Twin serving '{twin.name}' at {url}{note}", flush=True)

    try:
        app.start(policy, port=port, on_ready=ready)
    except OSError as exc:
        raise InputError(None, f"cannot serve on {args.host}:{args.port}: {exc.strerror or exc}") from None
    finally:
        if cast is not None:
            cast.stop()
        for part in feed or ():
            part.stop()
        if risk is not None:
            risk.close()
    return 0


def _prepare(args: argparse.Namespace, path: Path, progress) -> tuple:
    """The scene (loaded with ``progress``), its streamed city, live risk, MQTT feed, flood nowcast
    and the app."""
    from twin.faces.app.city_stream import hand_over, is_city, open_city

    budget = Budget(triangles=args.triangles, points=args.points)
    city: tuple | None
    if is_city(path):  # a city tileset folder (twin tile): streamed by view
        stream, twin = open_city(path, budget)
        city = (stream, None)
    else:  # a scene whose big city tileset source is streamed, if it has one
        twin = scene_cache.load(path, progress=progress)  # a restart on unchanged files reads the kept scene
        city = hand_over(twin, budget)
    from twin.faces.app.application import TwinApp

    simulate = args.simulate or args.simulate_rate is not None
    risk = start_live_risk(twin, Path(args.store) if args.store else None, simulate, args.simulate_rate)
    feed = start_mqtt(risk, args.mqtt, twin.path) if args.mqtt else None
    cast = start_nowcast(twin, risk)
    app = TwinApp(
        twin, rendering=args.rendering, risk=risk, briefing=args.briefing, city=city, lang=args.lang, nowcast=cast
    )
    return twin, city, risk, feed, cast, app


def start_live_risk(twin, store: Path | None, simulate: bool, rate: float | None = None):
    """The scene's live-risk service (REST API, rules, alerts), or None for a scene without ``[live]``.

    A store locked by another process or a bad rules file stops the start with a clear error.
    """
    if not twin.live:
        if simulate:
            raise InputError(twin.path, "--simulate needs a scene with a [live] table (sensors and rules)")
        return None
    from twin.risk.service import RiskService
    from twin.risk.simulator import Simulator

    service = RiskService.from_twin(twin, store_path=store)
    service.start()
    if simulate:
        Simulator(service, rate=rate).start()
    return service


def start_nowcast(twin, risk):
    """The scene's flood nowcast on its clock, raising the live risk (None: the scene binds no
    SWMM model in ``[hydraulics.nowcast]``); see :mod:`twin.hydraulics.live`."""
    from twin.hydraulics.live import NowcastLoop
    from twin.hydraulics.settings import scene_hydraulics

    if scene_hydraulics(twin).nowcast is None:
        return None
    return NowcastLoop(twin, risk).start()


def start_mqtt(risk, url: str, scene: Path) -> list:
    """The MQTT subscriber feeding the live risk (and the local broker it started, for ``local``),
    in the order to stop them; readings are capped as HTTP bodies are (:data:`twin.faces.api.MAX_BODY`)."""
    if risk is None:
        raise InputError(scene, "--mqtt needs a scene with a [live] table (sensors and rules)")
    from twin.faces.api import MAX_BODY
    from twin.risk.mqtt import MqttIngest

    parts: list = []
    if url == "local":
        from twin.risk.broker import Mosquitto

        broker = Mosquitto(message_size_limit=MAX_BODY).start()
        parts.append(broker)
        url = broker.url
    feed = MqttIngest(risk, url, max_payload=MAX_BODY).start()
    risk.add_feed("mqtt", feed.health)
    print(f"CIM Twin taking readings from {url} ({feed.url.subscription})", flush=True)
    return [feed, *parts]
