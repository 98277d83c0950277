"""Triggers of the analyses the inspector offers: which valves isolate a pipe, what lies near an asset."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from twin import nearby, networks
from twin.errors import TwinError
from twin.faces.app import asset_details
from twin.faces.app.pool import ViewPool
from twin.faces.app.triggers import Triggers, replies
from twin.faces.i18n import _
from twin.scene import Twin

NEARBY_M = 5.0  # how far "nearby" looks


class NetworkActions(Triggers):
    """Analyses drawn into the caller's view and answered as an ``analysis`` table for the inspector."""

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
    def twin_isolate(self, view_id: str, index: int, camera: dict | None = None) -> dict:
        """The valves to close to take a pipe segment out of supply, and what loses supply."""
        view = self.view(view_id, camera)
        index = int(index)
        row = self.twin.assets.row(index)
        graph = asset_details.network_graph(self.twin, row)
        if graph is None:
            raise TwinError(f"{row['id']} is not a segment of a pipe network")
        result = networks.isolate(graph, row["id"])
        rows = self.rows_of(row["network"], result["segments"])
        view.highlight("lost", [r for r in rows if r != index])
        xyz = self.twin.to_local(valve_positions(graph, [v["node"] for v in result["valves"]]))
        view.markers("valves", xyz[np.isfinite(xyz).all(axis=1)], radius=view.marker_radius(least=0.4))
        self.show(view_id)
        return {
            "analysis": {
                "kind": "isolate",
                "title": f"Isolating {row['id']}",
                "rows": [
                    ["Valves to close", ", ".join(v["id"] for v in result["valves"]) or "none"],
                    ["Valves assumed", "yes" if result["valves_assumed"] else "no (from the data)"],
                    ["Segments out of supply", str(len(result["segments"]))],
                    ["Length out of supply", f"{result['length_m']:,.1f} m"],
                    ["Customers affected", str(len(result["customers"]))],
                ],
                "valves": [v["id"] for v in result["valves"]],
                "segments": result["segments"],
            }
        }

    @replies
    def twin_nearby(self, view_id: str, index: int, camera: dict | None = None) -> dict:
        """Pipes and assets within ``NEARBY_M`` of an asset, and the clearances they violate."""
        view = self.view(view_id, camera)
        # kept per twin with their k-d trees, and rebuilt only when a pipe layer changes
        result = nearby.nearby(self.twin, int(index), NEARBY_M, samples=nearby.samples_of(self.twin))
        found = [*result["pipes"], *result["assets"]]
        rows = [r for item in found for r in self.rows_of(item.get("network", ""), [item["id"]], item.get("layer"))]
        view.highlight("nearby", rows)
        self.show(view_id)
        return {
            "analysis": {
                "kind": "nearby",
                "title": f"Within {NEARBY_M:g} m of {result['id']}",
                "rows": [[f"{item['id']} ({item.get('layer', '')})", near_text(item)] for item in found[:30]]
                + [
                    [
                        _("Clearance violation ({lay}): {id}", lay=_(v["lay"]), id=v["id"]),
                        f"{v['clearance_m']:.2f} m < {v['required_m']:.2f} m",
                    ]
                    for v in result["violations"]
                ],
            }
        }

    def rows_of(self, network: str, ids: list[str], layer: str | None = None) -> list[int]:
        """Asset rows of ``ids`` in one network (and layer)."""
        a = self.twin.assets
        mask = np.isin(a["id"], np.array(ids, dtype=a["id"].dtype)) & (a["network"] == network)
        if layer:
            mask &= a["layer"] == layer
        return np.flatnonzero(mask).tolist()


def valve_positions(graph: networks.PipeNetwork, nodes: list[str]) -> np.ndarray:
    """World positions of valve nodes, ``(n, 3)``, read from the network's node columns."""
    rows = np.array([graph.node_row(node) for node in nodes], dtype=np.int64)
    columns = graph.node_columns
    return np.column_stack([np.asarray(columns[k], dtype=float)[rows] for k in ("x", "y", "z")]).reshape(-1, 3)


def near_text(item: dict) -> str:
    """How near a found item is, for the analysis table."""
    parts = [
        f"{item[k]:.2f} m {k.removesuffix('_m').replace('_', ' ')}"
        for k in ("clearance_m", "distance_m")
        if isinstance(item.get(k), (int, float))
    ]
    return ", ".join(parts) or item.get("kind", "")
