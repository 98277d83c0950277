"""The CIM Twin browser app (trame, Vuetify 3): the scene in a 3D view with its layer list.

Run ``twin serve [PATH]`` (or ``python app.py [PATH]``).  The app owns one :class:`twin.Twin`
and one offscreen PyVista scene; trame streams it to browsers (server-side rendering) or
ships the geometry to vtk.js (client-side rendering).
"""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path

os.environ.setdefault("VTK_DEFAULT_OPENGL_WINDOW", "vtkEGLRenderWindow")
# browsers send small messages (clicks, camera, state): cap what one may declare (default 4 MiB)
os.environ.setdefault("WSLINK_MAX_MSG_SIZE", str(1 << 20))

from trame.app import get_server  # noqa: E402
from trame.ui.vuetify3 import SinglePageWithDrawerLayout  # noqa: E402
from trame.widgets import html  # noqa: E402
from trame.widgets import vtk as vtk_widgets  # noqa: E402
from trame.widgets import vuetify3 as v3  # noqa: E402

from twin.scene import Twin  # noqa: E402
from twin.server.security import AccessPolicy  # noqa: E402
from twin.view import SceneView, build_view  # noqa: E402

log = logging.getLogger("twin.app")
ROOT = Path(__file__).resolve().parent
DEMO = ROOT / "scenes" / "demo.toml"
RENDERING_MODES = ("server", "client")


def testid(value: str, bound: bool = False) -> str:
    """A ``data-testid`` attribute (trame drops unknown keyword attributes), static or bound to JS."""
    return f':data-testid="{value}"' if bound else f'data-testid="{value}"'


class TwinApp:
    """One trame server showing one twin.

    State is declared once in :meth:`_init_state`; reactions are thin and delegate to the
    :class:`SceneView`; the layout is built in :meth:`_build_ui`.
    """

    def __init__(self, twin: Twin, rendering: str = "server", server=None) -> None:
        if rendering not in RENDERING_MODES:
            raise ValueError(f"rendering must be one of {RENDERING_MODES}, not {rendering!r}")
        self.twin = twin
        self.server = server or get_server(client_type="vue3")
        self.scene: SceneView = build_view(twin, off_screen=True)
        self.rendering = rendering
        self._init_state()
        self.server.state.change("visible_layers")(self._on_visible_layers)
        self._build_ui()

    @property
    def state(self):
        return self.server.state

    @property
    def ctrl(self):
        return self.server.controller

    def _init_state(self) -> None:
        layers = [{"name": layer.name, "kind": layer.kind, "geometry": layer.geometry,
                   "assets": layer.n_assets, "error": None} for layer in self.twin.layers]
        layers += [{"name": source.name, "kind": source.kind, "geometry": "", "assets": 0, "error": source.error}
                   for source in self.twin.sources if source.error]
        self.state.update({
            "scene_name": self.twin.name or "CIM Twin",
            "scene_crs": self.twin.crs or "unknown CRS",
            "layers": layers,
            "visible_layers": [layer.name for layer in self.twin.layers if layer.style.visible],
            "asset_count": len(self.twin.assets),
            "trame__title": f"CIM Twin — {self.twin.name}",
        })

    def _on_visible_layers(self, visible_layers, **_) -> None:
        try:
            shown = set(visible_layers or [])
            for layer in self.twin.layers:
                self.scene.set_visible(layer.name, layer.name in shown)
            self.ctrl.view_update()
        except Exception as exc:  # trame only logs exceptions raised in reactions: show it
            log.exception("visibility change failed")
            self.state.error_message = f"Could not change the layers: {exc}"

    def _build_ui(self) -> None:
        with SinglePageWithDrawerLayout(self.server, theme=("'dark'",)) as layout:
            layout.title.set_text("")
            with layout.toolbar:
                layout.toolbar.density = "compact"
                html.Span("CIM Twin", classes="text-h6 font-weight-bold mr-3")
                html.Span("{{ scene_name }}", classes="text-subtitle-1", raw_attrs=[testid("scene-name")])
                v3.VSpacer()
                html.Span("{{ asset_count.toLocaleString() }} assets · {{ scene_crs }}", classes="text-caption mr-2")
            with layout.drawer:
                v3.VListSubheader("Layers")
                with v3.VList(density="compact"):
                    with v3.VListItem(v_for="layer in layers", key="layer.name"):
                        v3.VCheckbox(v_if="!layer.error", v_model=("visible_layers",), value=("layer.name",),
                                     label=("layer.name + ' (' + layer.assets + ')'",), density="compact",
                                     hide_details=True, raw_attrs=[testid("'layer-' + layer.name", bound=True)])
                        v3.VAlert(v_else=True, type="error", density="compact", variant="tonal",
                                  text=("layer.name + ': ' + layer.error",))
            with layout.content:
                with v3.VContainer(fluid=True, classes="pa-0 fill-height twin-view"):
                    if self.rendering == "client":
                        view = vtk_widgets.VtkLocalView(self.scene.plotter.ren_win)
                    else:
                        view = vtk_widgets.VtkRemoteView(self.scene.plotter.ren_win, interactive_ratio=1,
                                                         interactive_quality=60, still_quality=90)
                    self.ctrl.view_update = view.update
                    self.ctrl.view_reset_camera = view.reset_camera
        self.layout = layout

    def start(self, policy: AccessPolicy, port: int = 8080, on_ready=None) -> None:
        """Serve until interrupted; never shut down when idle (trame's default does after 300 s)."""
        self.ctrl.on_server_bind.add(lambda wslink_server: policy.install(wslink_server.app))
        host = policy.host
        if on_ready:
            self.ctrl.on_server_ready.add(lambda **_: on_ready(self.server.port))
        argv, sys.argv = sys.argv, sys.argv[:1]  # trame parses sys.argv itself: keep ours out of it
        try:
            self.server.start(host=host, port=port, open_browser=False, show_connection_info=False, timeout=0)
        finally:
            sys.argv = argv


def main(argv: list[str] | None = None) -> int:
    from twin.cli import main as cli_main

    return cli_main(["serve", *(sys.argv[1:] if argv is None else argv)])


if __name__ == "__main__":
    sys.exit(main())
