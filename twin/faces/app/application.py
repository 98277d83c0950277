"""The CIM Twin browser app (trame, Vuetify 3): the scene in a 3D view with its panels.

Run ``twin serve [PATH]`` (or ``python app.py [PATH]`` in a checkout).  The app owns one :class:`twin.Twin`;
each browser gets its own server-side render window over the shared layer data (server-side
rendering) or renders the shared scene itself with vtk.js (client-side rendering).  The panels,
triggers and views live beside this module in ``twin/faces/app/``; this module wires them to a
trame server.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import logging
import os
import sys
from collections.abc import Callable
from pathlib import Path

os.environ.setdefault("VTK_DEFAULT_OPENGL_WINDOW", "vtkEGLRenderWindow")
# browsers send small messages (clicks, camera, state): cap what one may declare (default 4 MiB)
os.environ.setdefault("WSLINK_MAX_MSG_SIZE", str(1 << 20))
os.environ.setdefault("TRAME_WS_MAX_MSG_SIZE", str(1 << 20))  # trame sets wslink's from this one at start
# a busy server is not a lost one: aiohttp closes a websocket whose pong is late (wslink: 30 s, half
# of it to answer), and an event loop held by a long render or evaluation must not cut browsers off
os.environ.setdefault("WSLINK_HEART_BEAT", "300")

from trame.app import get_server  # noqa: E402
from trame_vtk.modules import vtk as vtk_module  # noqa: E402
from trame_vtk.modules.vtk.protocols import vtkWebPublishImageDelivery  # noqa: E402

from twin.faces.app import layout, tree  # noqa: E402
from twin.faces.app.actions import Actions  # noqa: E402
from twin.faces.app.client_views import default_config  # noqa: E402
from twin.faces.app.closing import quiet_closed_browsers  # noqa: E402
from twin.faces.app.connections import ConnectionWatch  # noqa: E402
from twin.faces.app.loading import middleware  # noqa: E402
from twin.faces.app.pool import ViewPool  # noqa: E402
from twin.faces.app.state import declare, per_browser, shared  # noqa: E402
from twin.faces.i18n import normalise, use  # noqa: E402
from twin.faces.security import AccessPolicy, cap_websocket_messages  # noqa: E402
from twin.scene import Twin  # noqa: E402

log = logging.getLogger("twin.app")
RENDERING_MODES = ("server", "client")
UI_DIR = Path(__file__).resolve().parent  # client.js and risk.js, served as twin_ui/
COLLECT_S, COLLECT_TRIES = 0.004, 100  # poll for an encoded image for up to 0.4 s
FAST_RATIO, FAST_QUALITY = 0.5, 70  # the first picture of a live change (see TwinApp.push)


class TwinApp:
    """One trame server showing one twin to any number of browsers, each with its own view.

    Every browser gets its own view from a pool, drawn server-side (an image stream bound to the
    view's id) or client-side (vtk.js fed with that view's scene, kept in client-only state).
    Every state key, shared (scene, layer tree, legend) or per browser (client-only), is declared
    once in :mod:`twin.faces.app.state`; what a browser changes reaches the server through the
    triggers of the app's features (:mod:`twin.faces.app.actions`), which answer that browser alone.
    """

    def __init__(
        self,
        twin: Twin,
        rendering: str = "server",
        server=None,
        max_views: int = 6,
        risk=None,
        briefing: bool = False,
        city=None,
        lang: str | None = None,
        nowcast=None,
    ) -> None:
        if rendering not in RENDERING_MODES:
            raise ValueError(f"rendering must be one of {RENDERING_MODES}, not {rendering!r}")
        self.twin, self.rendering = twin, rendering
        self.langs: dict[str, str] = {}  # wslink client id -> the language its browser shows
        self.server = server or get_server(client_type="vue3")
        self.server.enable_module(
            {"serve": {"twin_ui": str(UI_DIR)}, "scripts": ["twin_ui/client.js", "twin_ui/bearings.js"]}
        )
        self.server.enable_module(vtk_module)
        self.helper = vtk_module.get_helper(self.server)
        self.pool = ViewPool(twin, self.helper.id, capacity=max_views)
        self.pool.warm()
        self._web_app = None  # wslink's web app: it knows the connection whose message runs now
        self._fast: dict[str, dict] = {}  # view id -> its image settings while a fast picture goes out
        self.server.controller.on_server_bind.add(self._bound)
        self.server.add_protocol_to_configure(
            lambda protocol: protocol.registerLinkProtocol(ConnectionWatch(self._closed))
        )
        self.actions = Actions.build(twin, self.pool, self.push, self.scene_of, caller=self._caller)
        self.bind(self.actions.triggers())
        self.bind({"twin_lang": self.twin_lang})
        self.live = None if risk is None else self._live(risk)
        # the flood nowcast's ponds and flooding manholes in every view (twin.faces.app.nowcast_ponds)
        self.ponds = None if nowcast is None else self._ponds(nowcast)
        declare(
            self.state,
            shared(
                twin,
                self.actions.layer_groups,
                [b.name for b in self.actions.views.bookmarks],
                tree.legend(twin),
                briefing=None if self.live is None else briefing,
                lang=normalise(lang),
            ),
            per_browser(default_config(twin), rendering, live=self.live is not None, lang=normalise(lang)),
        )
        # a streamed city (twin serve DIR, or a manifest's big city tileset): its layers follow the views' cameras
        self.city = None if city is None else self._city(city)
        self.layout = layout.build(
            self.server, self.pool.get(self.pool.spares[0]).window, live=self.live is not None, city=city is not None
        )

    def _live(self, risk):
        """Live risk (:mod:`twin.faces.app.live_risk`): recolouring and state push, and its triggers."""
        from twin.faces.app.live_risk import LiveRisk
        from twin.faces.app.risk_actions import RiskActions
        from twin.risk.colours import LEVEL_LABELS

        live = LiveRisk(self.server, risk, self.pool, self.show)
        self.bind(RiskActions(live, self.push, self.scene_of, caller=self._caller).triggers())
        if live.incidents is not None:  # the incidents panel (twin.faces.app.incident_actions)
            from twin.faces.app.incident_actions import IncidentActions

            self.bind(IncidentActions(live, live.incidents, self.push, self.scene_of, self._caller).triggers())
        # the hover tooltip's level, from the last snapshot (never waits for an evaluation)
        self.actions.selection.level_of = lambda row: LEVEL_LABELS.get(int(risk.snapshot(0.0).levels[row]))
        self.server.enable_module(
            {"serve": {"twin_ui": str(UI_DIR)}, "scripts": ["twin_ui/risk.js", "twin_ui/incidents.js"]}
        )
        return live

    def _ponds(self, nowcast):
        from twin.faces.app.nowcast_ponds import NowcastPonds

        return NowcastPonds(self.server, nowcast, self.pool, self.show)

    def _city(self, city):
        """City streaming (:mod:`twin.faces.app.city_stream`) of ``city``: (CityStream, its layers); its trigger."""
        from twin.faces.app.city_stream import CityStreaming

        city = CityStreaming(self, *city)
        self.bind(city.triggers())
        return city

    def bind(self, triggers: dict[str, Callable]) -> None:
        """Make each ``twin_*`` method a trigger the browser calls by that name, run in the language
        of the browser that calls it (:func:`twin.faces.i18n.use`: what it says comes back in it)."""
        for name, function in triggers.items():
            self.server.trigger(name)(self._in_language(function))

    def _in_language(self, function: Callable) -> Callable:
        if inspect.iscoroutinefunction(function):

            @functools.wraps(function)
            async def waiting(*args, **kwargs):
                with use(self.langs.get(self._caller() or "")):
                    return await function(*args, **kwargs)

            return waiting

        @functools.wraps(function)
        def calling(*args, **kwargs):
            with use(self.langs.get(self._caller() or "")):
                return function(*args, **kwargs)

        return calling

    def _closed(self, client_id: str) -> None:
        """A browser left: its view goes back to the pool, its language is forgotten."""
        self.langs.pop(client_id, None)
        self.pool.release(client_id)

    def twin_lang(self, lang: str) -> dict:
        """The caller's language (``zh`` or ``en``), for what the server says to that browser."""
        chosen = normalise(lang)
        caller = self._caller()
        if chosen and caller:
            self.langs[caller] = chosen
        return {"lang": chosen}

    def _bound(self, wslink_server) -> None:
        self._web_app = wslink_server

    def _caller(self) -> str | None:
        client = getattr(self._web_app, "last_active_client_id", None)
        return None if client is None else str(client)

    def show(self, view_id: str, fast: bool = False) -> None:
        """A view's new look to its browser, unasked: an image (``fast``: a quick, coarser one), or a
        scene delta for vtk.js.

        Looked up without :meth:`ViewPool.get`: a live-risk redraw of every view is no use by a
        browser, and must not keep an abandoned view from being the least recently used.
        """
        if self.pool.views[str(view_id)].client_side:
            self.scene_of(view_id)
        else:
            self.push(view_id, fast)

    @property
    def state(self):
        return self.server.state

    def scene_of(self, view_id: str) -> dict:
        """A view's scene for vtk.js: the change goes out as a delta (only the browser showing this
        view applies it), and the whole state comes back for a view about to mount.  Arrays travel
        once, by hash, when the browser asks for them."""
        window = self.pool.views[str(view_id)].window
        if self.server.protocol:
            self.server.protocol.publish("trame.vtk.delta", self.helper.scene(window, new_state=False))
        return self.helper.scene(window, new_state=True)

    def push(self, view_id: str, fast: bool = False) -> None:
        """Send a server-rendered view's new image to the image stream.

        ``fast``: at ``FAST_RATIO`` of the size (a quarter of the pixels to render in software)
        and a lower JPEG quality, as the first picture of a live change; a full one follows.
        """
        if not self.server.protocol:
            return
        view_id = str(view_id)
        window = self.pool.views[view_id].window
        delivery = self._image_delivery()
        if delivery is None:
            self.helper.push_image(window)
            return
        tracked = delivery.tracking_views.get(view_id)
        if tracked is not None and not fast and view_id in self._fast:  # a full picture: full size
            tracked.update(self._fast.pop(view_id))
        if tracked is not None and fast and view_id not in self._fast:
            self._fast[view_id] = {"ratio": tracked.get("ratio", 1), "quality": tracked.get("quality", 100)}
            tracked.update(ratio=FAST_RATIO, quality=FAST_QUALITY)
        # trame-vtk holds back every push while ANY view is streaming an interaction: push this
        # browser's image anyway, so one user orbiting never freezes the others' views
        window.GetInteractor().EnableRenderOff()
        delivery.app.InvalidateCache(window)
        delivery.push_render(view_id, ignore_animation=True)
        self._collect(delivery, view_id)

    def _collect(self, delivery, view_id: str, left: int = COLLECT_TRIES) -> None:
        """Publish a view's new image as soon as its JPEG is encoded, then restore its image settings.

        vtkWebApplication encodes on a thread and, until that is done, hands back the previous
        image and calls the view stale; trame-vtk then asks again only after 0.5 s, which made
        every pushed picture (a live risk change, a click) half a second late.  Ask every few ms
        (at the same size: a full size would render again at once).
        """
        if not delivery.last_stale_time.get(view_id) or left <= 0:
            restore = self._fast.pop(view_id, None)  # a fast picture is out: back to the view's own
            if restore and view_id in delivery.tracking_views:
                delivery.tracking_views[view_id].update(restore)
            return

        def again() -> None:
            delivery.push_render(view_id, ignore_animation=True)
            self._collect(delivery, view_id, left - 1)

        asyncio.get_event_loop().call_later(COLLECT_S, again)

    def _image_delivery(self) -> vtkWebPublishImageDelivery | None:
        protocols: list = getattr(self.server.protocol, "getLinkProtocols", lambda: [])()
        return next((p for p in protocols if isinstance(p, vtkWebPublishImageDelivery)), None)

    def start(self, policy: AccessPolicy, port: int = 8080, on_ready=None) -> None:
        """Serve until interrupted; never shut down when idle (trame's default does after 300 s).

        Only the browser's scripts are served from ``twin_ui/`` (it is this package's folder), and
        no websocket message may declare more than wslink's size cap.
        """
        policy.assets.setdefault("/twin_ui/", {".js", ".css"})
        cap_websocket_messages(int(os.environ["TRAME_WS_MAX_MSG_SIZE"]))
        self.server.controller.on_server_bind.add(lambda wslink_server: policy.install(wslink_server.app))
        # the page's first questions (its loading fragment, a session launcher) answered, not a 405
        lang = self.state["server_lang"]
        self.server.controller.on_server_bind.add(lambda server: server.app.middlewares.append(middleware(lang)))
        quiet_closed_browsers()  # a browser closing mid-reply is not a traceback in the log
        host = policy.host
        if on_ready:
            self.server.controller.on_server_ready.add(lambda **_: on_ready(self.server.port))
        argv, sys.argv = sys.argv, sys.argv[:1]  # trame parses sys.argv itself: keep ours out of it
        try:
            self.server.start(host=host, port=port, open_browser=False, show_connection_info=False, timeout=0)
        finally:
            sys.argv = argv
