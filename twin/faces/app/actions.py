"""The app's browser actions, one module per feature, and the triggers they bind.

==========================  =====================================================================
:mod:`~.view_actions`       claim a view, apply its settings, standard views, bookmarks, screenshot
:mod:`~.bearings_actions`   north arrow, scale bar, coordinates under the mouse, home, north-up
:mod:`~.selection_actions`  pick, select, search, fly to, measure
:mod:`~.network_actions`    isolate a pipe segment, what is nearby
:mod:`~.share_actions`      share links out and in
:mod:`~.risk_actions`       the live-risk triggers (only with a risk service)
==========================  =====================================================================

Every trigger is a public ``twin_*`` method whose name the browser calls (``client.js``,
``risk.js``); :mod:`~.triggers` has what they share.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from twin.faces.app import tree
from twin.faces.app.bearings_actions import BearingsActions
from twin.faces.app.network_actions import NetworkActions
from twin.faces.app.pool import ViewPool
from twin.faces.app.section import SectionDrawing
from twin.faces.app.selection_actions import SelectionActions
from twin.faces.app.share_actions import ShareActions
from twin.faces.app.triggers import Triggers
from twin.faces.app.view_actions import ViewActions
from twin.scene import Twin


@dataclass
class Actions:
    """The feature triggers of one app, over one view pool."""

    views: ViewActions
    selection: SelectionActions
    networks: NetworkActions
    sharing: ShareActions
    bearings: BearingsActions
    layer_groups: list[dict]  # the layer tree, also the page's initial state

    @classmethod
    def build(
        cls,
        twin: Twin,
        pool: ViewPool,
        push: Callable[[str], None],
        scene_of: Callable[[str], dict],
        caller: Callable[[], str | None] = lambda: None,
    ) -> Actions:
        groups = tree.layer_groups(twin)
        selection = SelectionActions(twin, pool, push, scene_of, caller, layer_groups=groups)
        pool.hooks.append(SectionDrawing())  # the section plane and its caps, in every view
        return cls(
            views=ViewActions(twin, pool, push, scene_of, caller),
            selection=selection,
            networks=NetworkActions(twin, pool, push, scene_of, caller),
            sharing=ShareActions(twin, pool, push, scene_of, caller),
            bearings=BearingsActions(twin, pool, push, scene_of, caller, hit_under=selection.hit_under),
            layer_groups=groups,
        )

    def features(self) -> list[Triggers]:
        return [self.views, self.selection, self.networks, self.sharing, self.bearings]

    def triggers(self) -> dict[str, Callable]:
        """Every feature's triggers by name (names are unique across features)."""
        out: dict[str, Callable] = {}
        for feature in self.features():
            named = feature.triggers()
            if clash := out.keys() & named.keys():
                raise ValueError(f"trigger names used twice: {sorted(clash)}")
            out.update(named)
        return out
