"""From parsed rows to the twin: merged tube and glyph meshes, asset columns and graphs.

Every pipe format ends here, so depth, units, colours, the per-segment inspection columns
and the networkx graphs behave the same whatever the file was.  One network is one tube
mesh (``<network>``) plus one glyph mesh for its nodes (``<network> nodes``).
"""

from __future__ import annotations

import datetime
import math
from collections import defaultdict
from collections.abc import Mapping
from typing import Any

import networkx as nx
import numpy as np
import pyvista as pv

from loaders.pipes.depth import DEFAULT_COVER, EndHeights, end_heights, slope
from loaders.pipes.model import SOURCE_KINDS, Link, NetworkData, Node, Problems
from loaders.pipes.tubes import glyph_mesh, tube_mesh
from twin.assets import AssetTable
from twin.colours.utilities import network_color, network_kind
from twin.layer import LayerPart, LayerStyle
from twin.source import LoadedSource

#: drawn size of links without a diameter (pumps, weirs), m; their ``diameter_m`` stays empty
FALLBACK_DIAMETER = 0.2
#: link kinds that must carry a diameter
NEEDS_DIAMETER = ("pipe", "conduit")


def build(data: NetworkData, options: Mapping[str, Any], problems: Problems) -> LoadedSource:
    """Check the rows, then build one tube part and one node part per network."""
    links = _checked_links(data, problems)
    scale = float(options.get("display_scale", 1.0))
    if not scale > 0:
        raise problems.fatal("", f"option display_scale must be positive, not {scale}")
    by_network: dict[str, list[Link]] = defaultdict(list)
    for link in links:
        by_network[link.network or data.network].append(link)
    node_network = _node_networks(data, by_network)
    parts: list[LayerPart] = []
    graphs: dict[str, nx.MultiGraph] = {}
    summary: dict[str, Any] = {}
    for name in sorted(set(by_network).union(*node_network.values())):
        nodes = [n for n in data.nodes.values() if name in node_network.get(n.id, ())]
        net = _Network(data, name, nodes, by_network.get(name, []), options, scale)
        graphs[name] = net.graph(len(parts))
        parts.extend(net.parts(options.get("palette")))
        summary[name] = net.summary()
    if data.skipped:
        data.warnings.append(f"{len(data.skipped)} elements skipped (see skipped)")
    details = {
        "format": data.format,
        "units": data.units,
        "display_scale": scale,
        "networks": summary,
        **data.extra_details,
    }
    return LoadedSource(
        path=data.path,
        kind="pipes",
        parts=parts,
        crs=options.get("crs") or data.crs,
        warnings=data.warnings,
        skipped=data.skipped,
        details=details,
        extras={"networks": graphs},
    )


def _checked_links(data: NetworkData, problems: Problems) -> list[Link]:
    """Links whose nodes exist and have coordinates and whose diameter is usable."""
    placed = {}
    for node in data.nodes.values():
        ok = math.isfinite(node.x) and math.isfinite(node.y)
        if not ok:
            problems(
                node.id,
                node.where,
                f"node {node.id} has no coordinates",
                hint="add it to [COORDINATES] (or give the feature a geometry)",
            )
        placed[node.id] = ok
    out = []
    for link in data.links:
        missing = [n for n in (link.start, link.end) if n not in data.nodes]
        if missing:
            problems(link.id, link.where, f"link {link.id} refers to unknown node {missing[0]}")
            continue
        if not (placed[link.start] and placed[link.end]):
            unplaced = link.start if not placed[link.start] else link.end
            problems(link.id, link.where, f"link {link.id} ends at node {unplaced}, which has no coordinates")
            continue
        if link.kind in NEEDS_DIAMETER and not link.diameter > 0:
            problem = (
                "missing diameter" if math.isnan(link.diameter) else f"diameter {link.diameter:g} m is not positive"
            )
            problems(link.id, link.where, f"link {link.id}: {problem}")
            continue
        out.append(link)
    return out


def _node_networks(data: NetworkData, by_network: dict[str, list[Link]]) -> dict[str, set[str]]:
    """The networks of each node: those of the links touching it, else its own, else the default.

    A node joining links of two networks (a shared chamber) belongs to both.
    """
    out: dict[str, set[str]] = defaultdict(set)
    for name, links in by_network.items():
        for link in links:
            out[link.start].add(name)
            out[link.end].add(name)
    for node in data.nodes.values():
        if node.id not in out and math.isfinite(node.x) and math.isfinite(node.y):
            out[node.id].add(node.network or data.network)
    return out


class _Network:
    """One network's arrays: resolved heights, polylines, assets, meshes and its graph."""

    def __init__(
        self,
        data: NetworkData,
        name: str,
        nodes: list[Node],
        links: list[Link],
        options: Mapping[str, Any],
        scale: float,
    ) -> None:
        self.data, self.name, self.nodes, self.links, self.scale = data, name, nodes, links, scale
        self.kind = network_kind(name)
        self.node_row = {n.id: i for i, n in enumerate(nodes)}
        default_cover = float(options.get("cover", DEFAULT_COVER[self.kind]))
        ground_default = options.get("ground")
        ground = np.array([n.ground for n in nodes], dtype=np.float64)
        if ground_default is not None:
            ground = np.where(np.isfinite(ground), ground, float(ground_default))
        self.ground = ground
        self.node_xy = np.array([(n.x, n.y) for n in nodes], dtype=np.float64).reshape(-1, 2)
        self._resolve(default_cover)

    # -- heights and polylines -------------------------------------------------------------
    def _resolve(self, default_cover: float) -> None:
        links, nodes = self.links, self.nodes
        self.start = np.array([self.node_row[link.start] for link in links], dtype=np.int64)
        self.end = np.array([self.node_row[link.end] for link in links], dtype=np.int64)
        self.diameter = np.array([link.diameter for link in links], dtype=np.float64)
        drawn = np.where(self.diameter > 0, self.diameter, FALLBACK_DIAMETER)
        node_invert = np.array([n.invert for n in nodes], dtype=np.float64)
        node_cover = np.array([n.cover for n in nodes], dtype=np.float64)

        def end(which: np.ndarray, invert: list[float], cover: list[float]) -> EndHeights:
            inv = np.array(invert, dtype=np.float64).reshape(-1)
            inv = np.where(np.isfinite(inv), inv, node_invert[which])
            cov = np.array(cover, dtype=np.float64).reshape(-1)
            cov = np.where(np.isfinite(cov), cov, node_cover[which])
            return end_heights(drawn, self.ground[which], inv, cov, np.full(len(which), default_cover))

        self.head = end(self.start, [link.invert_start for link in links], [link.cover_start for link in links])
        self.tail = end(self.end, [link.invert_end for link in links], [link.cover_end for link in links])
        if self.head.ground_guessed.any() or self.tail.ground_guessed.any():
            self.data.warnings.append(
                f"{self.name}: no ground elevation for some nodes: taken as 0 m "
                "(set the option ground, or map an elevation field)"
            )
        self.points, self.offsets = self._polylines()
        file_length = np.array([link.length for link in links], dtype=np.float64)
        self.length = np.where(np.isfinite(file_length), file_length, self._polyline_lengths())
        self.radius = drawn / 2 * self.scale

    def _polylines(self) -> tuple[np.ndarray, np.ndarray]:
        """Concatenated 3D polylines (start node, vertices, end node), heights interpolated."""
        counts = np.array([len(link.vertices) + 2 for link in self.links], dtype=np.int64)
        offsets = np.r_[0, np.cumsum(counts)]
        if not len(self.links):
            return np.empty((0, 3)), offsets
        node_xy = [(n.x, n.y) for n in self.nodes]
        flat: list[tuple[float, float]] = []
        for link, s, e in zip(self.links, self.start.tolist(), self.end.tolist()):
            flat.append(node_xy[s])
            flat.extend(link.vertices)
            flat.append(node_xy[e])
        xy = np.array(flat, dtype=np.float64)
        step = np.r_[0.0, np.hypot(*np.diff(xy, axis=0).T)]
        step[offsets[:-1]] = 0.0
        along = np.cumsum(step)
        along -= np.repeat(along[offsets[:-1]], counts)
        total = np.repeat(along[offsets[1:] - 1], counts)
        t = np.divide(along, total, out=np.zeros_like(along), where=total > 0)
        z0, z1 = np.repeat(self.head.centre, counts), np.repeat(self.tail.centre, counts)
        return np.column_stack([xy, z0 + t * (z1 - z0)]), offsets

    def _polyline_lengths(self) -> np.ndarray:
        if not len(self.links):
            return np.empty(0)
        step = np.r_[0.0, np.linalg.norm(np.diff(self.points, axis=0), axis=1)]
        step[self.offsets[:-1]] = 0.0
        return np.add.reduceat(step, self.offsets[:-1])

    # -- assets and meshes -----------------------------------------------------------------
    def segment_assets(self) -> AssetTable:
        links = self.links
        year = np.array([link.install_year for link in links], dtype=np.float64)
        ids = [n.id for n in self.nodes]
        attrs = {
            "network_kind": self.kind,
            "diameter_m": self.diameter,
            "length_m": self.length,
            "material": [link.material for link in links],
            "install_year": year,
            "age_years": datetime.date.today().year - year,
            "from_node": [ids[i] for i in self.start],
            "to_node": [ids[i] for i in self.end],
            "from_kind": [self.nodes[i].kind for i in self.start],
            "to_kind": [self.nodes[i].kind for i in self.end],
            "depth_start_m": self.head.cover,
            "depth_end_m": self.tail.cover,
            "invert_start_m": self.head.invert,
            "invert_end_m": self.tail.invert,
            "ground_start_m": self.head.ground,
            "ground_end_m": self.tail.ground,
            "slope": slope(self.head.invert, self.tail.invert, self.length),
            "depth_assumed": self.head.assumed | self.tail.assumed,
            "pressure_class": [link.pressure_class for link in links],
            "owner": [link.owner for link in links],
            "shape": [link.shape for link in links],
            "display_scale": self.scale,
        }
        attrs.update(_free_columns([link.attrs for link in links]))
        return AssetTable.build(
            [link.id for link in links],
            [link.kind for link in links],
            network=self.name,
            address=[link.address for link in links],
            attrs=attrs,
        )

    def node_assets(self) -> AssetTable:
        nodes = self.nodes
        invert = np.array([n.invert for n in nodes], dtype=np.float64)
        attrs = {
            "network_kind": self.kind,
            "ground_m": self.ground,
            "invert_m": invert,
            "depth_m": self.ground - invert,
            "centre_z_m": self.node_centre_z(),
        }
        attrs.update(_free_columns([n.attrs for n in nodes]))
        return AssetTable.build(
            [n.id for n in nodes],
            [n.kind for n in nodes],
            network=self.name,
            address=[str(n.attrs.get("address", "")) for n in nodes],
            attrs=attrs,
        )

    def node_centre_z(self) -> np.ndarray:
        """Pipe centre-line height at each node: the mean over the link ends meeting there."""
        n = len(self.nodes)
        ends = np.r_[self.start, self.end]
        z = np.r_[self.head.centre, self.tail.centre] if len(self.links) else np.empty(0)
        count = np.bincount(ends, minlength=n)
        total = np.bincount(ends, weights=z, minlength=n)
        fallback = np.where(np.isfinite(self.ground), self.ground, 0.0) - 1.0
        return np.where(count > 0, total / np.maximum(count, 1), fallback)

    def node_max_diameter(self) -> np.ndarray:
        d = np.where(self.diameter > 0, self.diameter, FALLBACK_DIAMETER) if len(self.links) else np.empty(0)
        out = np.zeros(len(self.nodes))
        np.maximum.at(out, np.r_[self.start, self.end], np.r_[d, d])
        return np.where(out > 0, out, FALLBACK_DIAMETER)

    def glyphs(self) -> tuple[pv.PolyData, np.ndarray]:
        """One glyph per node: manholes stand from invert to ground, junctions and valves sit on the pipe."""
        kinds = np.array([n.kind for n in self.nodes], dtype=object)
        centre = self.node_centre_z()
        size = self.node_max_diameter() * self.scale
        ground = np.where(np.isfinite(self.ground), self.ground, centre + size)
        invert = np.array([n.invert for n in self.nodes], dtype=np.float64)
        bottom = np.where(np.isfinite(invert), invert, centre - size / 2)
        tall = np.isin(kinds, ("manhole", "outfall", "storage", "divider"))
        big = np.isin(kinds, SOURCE_KINDS)
        shape = np.where(tall | big, "cylinder", np.where(kinds == "valve", "cube", "octahedron"))
        base = np.column_stack([self.node_xy, centre]) if len(self.nodes) else np.empty((0, 3))
        half = np.maximum(size * np.where(kinds == "valve", 0.9, 0.8), 0.05)
        scale = np.column_stack([half, half, half])
        manhole_d = np.array([n.attrs.get("structure_diameter_m", np.nan) for n in self.nodes], dtype=np.float64)
        manhole_r = np.where(manhole_d > 0, manhole_d, 1.0) / 2
        base[tall, 2] = bottom[tall]
        scale[tall] = np.column_stack([manhole_r, manhole_r, np.maximum(ground - bottom, 0.5)])[tall]
        base[big, 2] = ground[big]
        scale[big] = (3.0, 3.0, 3.0)
        return glyph_mesh(shape, base, scale)

    def parts(self, palette_name: str | None) -> list[LayerPart]:
        style = LayerStyle(color=network_color(self.kind, palette_name))
        out = []
        if self.links:
            mesh, owner = tube_mesh(self.points, self.offsets, self.radius)
            out.append(LayerPart(self.name, mesh, self.segment_assets(), owner, style=style))
        if self.nodes:
            mesh, owner = self.glyphs()
            out.append(
                LayerPart(f"{self.name} nodes", mesh, self.node_assets(), owner, style=LayerStyle(color=style.color))
            )
        return out

    # -- graph and summary -------------------------------------------------------------------
    def graph(self, first_part: int) -> nx.MultiGraph:
        """The network as an undirected multigraph; edges remember their file direction.

        Edges carry what the analyses need; everything else about a segment is in its asset row
        (``row``: its index in the network's segment layer).
        """
        g = nx.MultiGraph(
            name=self.name,
            kind=self.kind,
            format=self.data.format,
            flow_from_file=self.data.flow_from_file,
            segment_part=first_part if self.links else None,
            node_part=(first_part + 1 if self.links else first_part) if self.nodes else None,
        )
        centre = self.node_centre_z().tolist()
        ground = self.ground.tolist()
        g.add_nodes_from(
            (
                n.id,
                {
                    "row": i,
                    "kind": n.kind,
                    "x": n.x,
                    "y": n.y,
                    "z": centre[i],
                    "ground": ground[i],
                    "demand": float(n.attrs.get("demand", 0) or 0),
                    "address": str(n.attrs.get("address", "")),
                },
            )
            for i, n in enumerate(self.nodes)
        )
        ids = [n.id for n in self.nodes]
        columns = zip(
            self.start.tolist(),
            self.end.tolist(),
            self.length.tolist(),
            self.diameter.tolist(),
            self.head.invert.tolist(),
            self.tail.invert.tolist(),
        )
        g.add_edges_from(
            (
                ids[s],
                ids[e],
                link.id,
                {
                    "row": i,
                    "kind": link.kind,
                    "start": ids[s],
                    "end": ids[e],
                    "length": length,
                    "diameter": d,
                    "invert_start": a,
                    "invert_end": b,
                },
            )
            for i, (link, (s, e, length, d, a, b)) in enumerate(zip(self.links, columns))
        )
        return g

    def summary(self) -> dict[str, Any]:
        kinds = [n.kind for n in self.nodes]
        assumed = (self.head.assumed | self.tail.assumed) if self.links else np.zeros(0, bool)
        return {
            "kind": self.kind,
            "nodes": len(self.nodes),
            "segments": len(self.links),
            "valves": kinds.count("valve"),
            "sources": sum(k in SOURCE_KINDS for k in kinds),
            "total_length_m": round(float(self.length.sum()), 3),
            "depth_assumed": int(assumed.sum()),
        }


def _free_columns(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Extra attributes as columns: numbers stay float64 (NaN when missing), the rest text."""
    keys: list[str] = []
    for row in rows:
        keys.extend(k for k in row if k not in keys)
    out: dict[str, Any] = {}
    for key in keys:
        values = [row.get(key) for row in rows]
        if all(v is None or (isinstance(v, (int, float)) and not isinstance(v, bool)) for v in values):
            out[key] = np.array([math.nan if v is None else float(v) for v in values], dtype=np.float64)
        else:
            out[key] = ["" if v is None else str(v) for v in values]
    return out
