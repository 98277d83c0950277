"""Triggers of the analyses the inspector offers: which valves isolate a pipe and what that costs
the supply (hydraulics, where the network has a model), what lies near an asset."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from twin import nearby, networks
from twin.errors import TwinError
from twin.faces.app import asset_details
from twin.faces.app.hydraulic_paint import paint
from twin.faces.app.isolation_analysis import analysis
from twin.faces.app.pool import ViewPool
from twin.faces.app.triggers import Triggers, replies
from twin.faces.i18n import _
from twin.hydraulics.service import buildings_of
from twin.hydraulics.settings import M_PER_MPA, scene_hydraulics
from twin.hydraulics.whatif import what_if
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
    def twin_isolate(
        self, view_id: str, index: int, camera: dict | None = None, inoperable: list[str] | None = None
    ) -> dict:
        """The valves to close to take a pipe segment out of supply (``inoperable``: valves that
        will not close, so the next ring closes instead), what loses supply and, where the network
        has a hydraulic model, the junctions and buildings left below the service pressure."""
        view = self.view(view_id, camera)
        index = int(index)
        row = self.twin.assets.row(index)
        graph = asset_details.network_graph(self.twin, row)
        if graph is None:
            raise TwinError(f"{row['id']} is not a segment of a pipe network")
        seized = [str(v) for v in inoperable or []]
        result = what_if(self.twin, row["id"], row["network"], inoperable=seized)
        service_m = self.service_m(result)
        isolated = [r for r in self.rows_of(row["network"], result["segments"]) if r != index]
        paint(view, isolated, self.deficits(row["network"], result, service_m), service_m)
        xyz = self.twin.to_local(valve_positions(graph, [v["node"] for v in result["valves"]]))
        view.markers("valves", xyz[np.isfinite(xyz).all(axis=1)], radius=view.marker_radius(least=0.4))
        self.show(view_id)
        return {"analysis": analysis(row["id"], result, service_m)}

    def service_m(self, result: dict) -> float:
        """The service pressure (m of head) the result was judged by."""
        hydraulic = result.get("hydraulic") or {}
        mpa = hydraulic.get("service_pressure_mpa")
        return float(mpa) * M_PER_MPA if mpa is not None else scene_hydraulics(self.twin).settings.service_m

    def deficits(self, network: str, result: dict, service_m: float) -> dict[int, float]:
        """Asset row -> metres below the service pressure, for the junctions short of it and the
        buildings they serve (topologically: the nodes cut off, at no pressure)."""
        hydraulic = result.get("hydraulic")
        if hydraulic is None:
            return {}
        if hydraulic.get("status") == "ok":
            short = {j["id"]: service_m if j["isolated"] else j["deficit_m"] for j in hydraulic["junctions_below"]}
        else:
            short = dict.fromkeys(result["nodes"], service_m)
        a = self.twin.assets
        out = {r: short[str(a["id"][r])] for r in self.rows_of(network, list(short))}
        by_id = {b["id"]: short.get(b["node"], service_m) for b in hydraulic.get("buildings", [])}
        if by_id:
            rows = buildings_of(self.twin)
            ids = a["id"][rows].tolist()
            out |= {int(r): by_id[i] for r, i in zip(rows.tolist(), ids) if i in by_id}
        return out

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
