"""Triggers of share links: a link to the caller's view, and a link's view restored in the caller's."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from twin.faces.app import asset_details, share
from twin.faces.app.client_views import default_config
from twin.faces.app.pool import ViewPool
from twin.faces.app.triggers import Triggers, camera_state, replies
from twin.scene import Twin


class ShareActions(Triggers):
    """A share link holds the layer settings, the camera, the selection and the rendering mode."""

    def __init__(
        self,
        twin: Twin,
        pool: ViewPool,
        push: Callable[[str], None],
        scene_of: Callable[[str], dict],
        caller: Callable[[], str | None] = lambda: None,
    ) -> None:
        super().__init__(pool, push, scene_of, caller)
        self.twin = twin

    @replies
    def twin_share(
        self, view_id: str, config: dict, selection: str | None, rendering: str, camera: dict | None = None
    ) -> dict:
        view = self.view(view_id, camera)
        return {"fragment": share.make_fragment(config, view.camera(), selection, rendering)}

    @replies
    def twin_restore(self, view_id: str, fragment: str) -> dict:
        wanted = share.parse_fragment(fragment, [layer.name for layer in self.twin.layers], default_config(self.twin))
        view = self.view(view_id, {} if wanted["rendering"] == "client" else None)
        view.apply(wanted["config"])
        reply: dict[str, Any] = {"config": wanted["config"], "rendering": wanted["rendering"]}
        if wanted["camera"]:
            cam = wanted["camera"]
            view.set_camera(cam["position"], cam["focal_point"], cam["view_up"])
        index = self.twin.assets.index_of(wanted["selection"]) if wanted["selection"] else None
        if index is not None:
            view.highlight("selection", [index])
            reply["inspector"] = asset_details.describe(self.twin, index)
        self.show(view_id)  # one picture for the camera, the layers and the selection
        if wanted["camera"]:
            reply.update(camera_state(view))
        if wanted["selection"] and index is None:
            reply["error"] = f"The shared selection {wanted['selection']!r} is not in this scene"
        return reply
