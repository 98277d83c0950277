"""From parsed columns to the twin: merged tube and glyph meshes, asset columns and graphs.

Every pipe format ends here, so depth, units, colours, the per-segment inspection columns
and the network graphs behave the same whatever the file was.  One network is one tube
mesh (``<network>``) plus one glyph mesh for its nodes (``<network> nodes``).  Everything is
array work over the :class:`~loaders.pipes.model.NodeTable` and
:class:`~loaders.pipes.model.LinkTable` columns; the graph is a
:class:`twin.networks.PipeNetwork` made of the same arrays.
"""

from __future__ import annotations

import datetime
import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import pyvista as pv

from loaders.pipes.depth import DEFAULT_COVER, EndHeights, end_heights, slope
from loaders.pipes.keys import Index, take
from loaders.pipes.model import (
    MAX_COORDINATE,
    SOURCE_KINDS,
    STR,
    Attr,
    LinkTable,
    NetworkData,
    NodeTable,
    Problems,
)
from loaders.pipes.tubes import glyph_mesh, tube_mesh
from twin.assets import AssetTable
from twin.colours.utilities import network_color, network_kind
from twin.layer import LayerPart, LayerStyle
from twin.networks import PipeNetwork
from twin.source import LoadedSource

#: drawn size of links without a diameter (pumps, weirs), m; their ``diameter_m`` stays empty
FALLBACK_DIAMETER = 0.2
#: link kinds that must carry a diameter
NEEDS_DIAMETER = ("pipe", "conduit")


def build(data: NetworkData, options: Mapping[str, Any], problems: Problems) -> LoadedSource:
    """Check the rows, then build one tube part and one node part per network."""
    nodes, links = data.tables()
    scale = float(options.get("display_scale", 1.0))
    if not scale > 0:
        raise problems.fatal("", f"option display_scale must be positive, not {scale}")
    index = Index(nodes["id"])
    placed = _checked_nodes(nodes, index, problems)
    names, link_net, node_net = _network_codes(links["network"], nodes["network"], data.network)
    keep, start, end = _checked_links(index, links, placed, (names, link_net), problems)
    members = _node_networks(placed, keep, start, end, link_net, node_net)
    parts: list[LayerPart] = []
    graphs: dict[str, PipeNetwork] = {}
    summary: dict[str, Any] = {}
    used = np.bincount(np.r_[link_net[keep], members[1]], minlength=len(names))
    for code in np.flatnonzero(used).tolist():  # in name order: the names are sorted
        name = names[code]
        link_rows = np.flatnonzero(keep & (link_net == code))
        node_rows = np.flatnonzero(np.bincount(members[0][members[1] == code], minlength=len(nodes)))
        net = _Network(data, name, nodes, node_rows, links, link_rows, (start, end), options, scale)
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


def _network_codes(
    link_column: np.ndarray, node_column: np.ndarray, default: str
) -> tuple[list[str], np.ndarray, np.ndarray]:
    """The network names (sorted), and each link's and node's network as a row of them; an
    element that names none is in the file's default network.

    Integer codes, not text: every network's rows are picked by comparing a column.
    """
    columns = (link_column, node_column)
    named = [np.strings.str_len(column) > 0 for column in columns]
    names = sorted({default}.union(*(column[given].tolist() for column, given in zip(columns, named))))
    index = Index(np.array(names, dtype=STR))
    codes = []
    for column, given in zip(columns, named):
        code = np.full(len(column), names.index(default), dtype=np.int64)
        code[given] = index.find(column[given])
        codes.append(code)
    return names, codes[0], codes[1]


def _checked_nodes(nodes: NodeTable, index: Index, problems: Problems) -> np.ndarray:
    """Nodes that have usable coordinates and are the first with their id (the rest are problems)."""
    ids, where, x, y = nodes["id"], nodes["where"], nodes["x"], nodes["y"]
    placed = np.isfinite(x) & np.isfinite(y)
    huge = placed & ((np.abs(x) > MAX_COORDINATE) | (np.abs(y) > MAX_COORDINATE))
    rows, first = index.repeats(ids)
    bad = np.zeros(len(ids), dtype=bool)
    bad[rows] = True
    for i in np.flatnonzero(~placed | bad | huge).tolist():
        if bad[i]:
            j = int(first[np.searchsorted(rows, i)])
            problems(str(ids[i]), str(where[i]), f"duplicate node id {str(ids[i])!r} (first at {where[j]})")
        elif huge[i]:
            problems(
                str(ids[i]),
                str(where[i]),
                f"node {ids[i]} has coordinates out of range ({x[i]:g}, {y[i]:g})",
                hint=f"coordinates beyond +-{MAX_COORDINATE:g} are no place on Earth: check the file's units",
            )
        else:
            problems(
                str(ids[i]),
                str(where[i]),
                f"node {ids[i]} has no coordinates",
                hint="add it to [COORDINATES] (or give the feature a geometry)",
            )
    usable: np.ndarray = placed & ~bad & ~huge
    return usable


def _checked_links(
    nodes: Index, links: LinkTable, placed: np.ndarray, networks: tuple[list[str], np.ndarray], problems: Problems
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Links whose nodes exist and have coordinates, whose diameter is usable and whose id is new
    in their network (``networks``: the names and each link's row of them); and the node rows
    of every link's ends."""
    start, end = nodes.find(links["start"]), nodes.find(links["end"])
    diameter, kind = links["diameter"], links["kind"]
    unplaced = np.r_[placed, False]  # row -1: an unknown node
    no_diameter = np.isin(kind, NEEDS_DIAMETER) & ~(diameter > 0)
    names, code = networks
    key = links["id"]
    if len(names) > 1:  # ids need only be unique within their network
        key = np.strings.add(np.strings.add(np.array(names, dtype=STR)[code], "\x00"), key)
    again, first = Index(key).repeats(key)
    duplicate = np.zeros(len(key), dtype=bool)
    duplicate[again] = True
    bad = (start < 0) | (end < 0) | ~unplaced[start] | ~unplaced[end] | no_diameter | duplicate
    ids, where = links["id"], links["where"]
    for i in np.flatnonzero(bad).tolist():
        link_id, at = str(ids[i]), str(where[i])
        if start[i] < 0 or end[i] < 0:
            missing = links["start"][i] if start[i] < 0 else links["end"][i]
            problems(link_id, at, f"link {link_id} refers to unknown node {missing}")
        elif not (unplaced[start[i]] and unplaced[end[i]]):
            node = links["start"][i] if not unplaced[start[i]] else links["end"][i]
            problems(link_id, at, f"link {link_id} ends at node {node}, which has no coordinates")
        elif no_diameter[i]:
            d = float(diameter[i])
            problem = "missing diameter" if math.isnan(d) else f"diameter {d:g} m is not positive"
            problems(link_id, at, f"link {link_id}: {problem}")
        else:
            j = int(first[np.searchsorted(again, i)])
            problems(link_id, at, f"duplicate segment id {link_id!r} (first at {where[j]})")
    return ~bad, start, end


def _node_networks(
    placed: np.ndarray, keep: np.ndarray, start: np.ndarray, end: np.ndarray, link_net: np.ndarray, node_net: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """(node row, network) pairs: the networks of the links touching a node, else its own.

    A node joining links of two networks (a shared chamber) belongs to both.
    """
    touched = np.zeros(len(placed), dtype=bool)
    touched[start[keep]] = touched[end[keep]] = True
    lone = np.flatnonzero(placed & ~touched)
    rows = np.r_[start[keep], end[keep], lone]
    nets = np.r_[link_net[keep], link_net[keep], node_net[lone]]
    return rows, nets


def _ranges(first: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Concatenated ``arange(first[i], first[i] + counts[i])`` for all i, vectorised."""
    total = int(counts.sum())
    shift = np.repeat(first - (np.cumsum(counts) - counts), counts)
    return shift + np.arange(total)


def _numbers(attr: Attr | None, rows: np.ndarray, default: float = math.nan) -> np.ndarray:
    """An attribute as float64 over some rows (``default`` where absent, empty or not a number)."""
    if attr is None:
        return np.full(len(rows), default)
    values, present = attr.values[rows], attr.present[rows]
    if values.dtype.kind == "f":
        return np.where(present, values, default)
    out = np.full(len(rows), default)
    for i, v in enumerate(values.tolist()):
        if present[i] and isinstance(v, (int, float)) and not isinstance(v, bool):
            out[i] = float(v)
    return out


class _Network:
    """One network's arrays: resolved heights, polylines, assets, meshes and its graph."""

    def __init__(
        self,
        data: NetworkData,
        name: str,
        nodes: NodeTable,
        node_rows: np.ndarray,
        links: LinkTable,
        link_rows: np.ndarray,
        ends: tuple[np.ndarray, np.ndarray],
        options: Mapping[str, Any],
        scale: float,
    ) -> None:
        self.data, self.name, self.scale = data, name, scale
        self.nodes, self.links, self.node_rows, self.link_rows = nodes, links, node_rows, link_rows
        self.all_links = len(link_rows) == len(links)  # the usual case: one network per file
        self.all_nodes = len(node_rows) == len(nodes)
        self.kind = network_kind(name)
        local = np.full(len(nodes) + 1, -1, dtype=np.int64)
        local[node_rows] = np.arange(len(node_rows))
        self.start, self.end = local[ends[0][link_rows]], local[ends[1][link_rows]]
        ground = self.node("ground")
        if options.get("ground") is not None:
            ground = np.where(np.isfinite(ground), ground, float(options["ground"]))
        self.ground = ground
        self.node_xy = np.column_stack([self.node("x"), self.node("y")])
        self.node_kind = self.node("kind")
        self.node_invert = self.node("invert")
        self._resolve(float(options.get("cover", DEFAULT_COVER[self.kind])))

    def link(self, key: str) -> np.ndarray:
        """A link column over this network's rows (no copy when they are all the file's)."""
        return self.links[key] if self.all_links else take(self.links[key], self.link_rows)[0]

    def node(self, key: str) -> np.ndarray:
        return self.nodes[key] if self.all_nodes else take(self.nodes[key], self.node_rows)[0]

    # -- heights and polylines -------------------------------------------------------------
    def _resolve(self, default_cover: float) -> None:
        self.diameter = self.link("diameter")
        drawn = np.where(self.diameter > 0, self.diameter, FALLBACK_DIAMETER)
        node_cover = self.node("cover")
        fallback = np.full(len(self.link_rows), default_cover)

        def end(which: np.ndarray, invert: np.ndarray, cover: np.ndarray) -> EndHeights:
            inv = np.where(np.isfinite(invert), invert, self.node_invert[which])
            cov = np.where(np.isfinite(cover), cover, node_cover[which])
            return end_heights(drawn, self.ground[which], inv, cov, fallback)

        self.head = end(self.start, self.link("invert_start"), self.link("cover_start"))
        self.tail = end(self.end, self.link("invert_end"), self.link("cover_end"))
        if self.head.ground_guessed.any() or self.tail.ground_guessed.any():
            self.data.warnings.append(
                f"{self.name}: no ground elevation for some nodes: taken as 0 m "
                "(set the option ground, or map an elevation field)"
            )
        self.points, self.offsets = self._polylines()
        file_length = self.link("length")
        stated = np.isfinite(file_length)
        self.length = file_length if stated.all() else np.where(stated, file_length, self._polyline_lengths())
        self.radius = drawn / 2 * self.scale
        self.node_z = self._node_centre_z()

    def _polylines(self) -> tuple[np.ndarray, np.ndarray]:
        """Concatenated 3D polylines (start node, vertices, end node), heights interpolated."""
        vo = self.links.vertex_offsets
        inner = vo[self.link_rows + 1] - vo[self.link_rows]
        counts = inner + 2
        offsets = np.r_[0, np.cumsum(counts)]
        if not len(self.link_rows):
            return np.empty((0, 3)), offsets
        points = np.empty((int(offsets[-1]), 3))
        xy = points[:, :2]
        xy[offsets[:-1]] = self.node_xy[self.start]
        xy[offsets[1:] - 1] = self.node_xy[self.end]
        xy[_ranges(offsets[:-1] + 1, inner)] = self.links.vertex_xy[_ranges(vo[self.link_rows], inner)]
        step = np.r_[0.0, np.hypot(*np.diff(xy, axis=0).T)]
        step[offsets[:-1]] = 0.0
        along = np.cumsum(step)
        along -= np.repeat(along[offsets[:-1]], counts)
        total = np.repeat(along[offsets[1:] - 1], counts)
        t = np.divide(along, total, out=np.zeros_like(along), where=total > 0)
        t *= np.repeat(self.tail.centre - self.head.centre, counts)
        np.add(np.repeat(self.head.centre, counts), t, out=points[:, 2])
        return points, offsets

    def _polyline_lengths(self) -> np.ndarray:
        if not len(self.link_rows):
            return np.empty(0)
        step = np.r_[0.0, np.linalg.norm(np.diff(self.points, axis=0), axis=1)]
        step[self.offsets[:-1]] = 0.0
        return np.add.reduceat(step, self.offsets[:-1])

    # -- assets and meshes -----------------------------------------------------------------
    def segment_assets(self) -> AssetTable:
        year = self.link("install_year")
        from_node, to_node = take(self.node("id"), self.start, self.end)
        from_kind, to_kind = take(self.node_kind, self.start, self.end)
        attrs = {
            "network_kind": self.kind,
            "diameter_m": self.diameter,
            "length_m": self.length,
            "material": self.link("material"),
            "install_year": year,
            "age_years": datetime.date.today().year - year,
            "from_node": from_node,
            "to_node": to_node,
            "from_kind": from_kind,
            "to_kind": to_kind,
            "depth_start_m": self.head.cover,
            "depth_end_m": self.tail.cover,
            "invert_start_m": self.head.invert,
            "invert_end_m": self.tail.invert,
            "ground_start_m": self.head.ground,
            "ground_end_m": self.tail.ground,
            "slope": slope(self.head.invert, self.tail.invert, self.length),
            "depth_assumed": self.head.assumed | self.tail.assumed,
            "pressure_class": self.link("pressure_class"),
            "owner": self.link("owner"),
            "shape": self.link("shape"),
            "display_scale": self.scale,
        }
        attrs.update(_free_columns(self.links.attrs, self.link_rows))
        return AssetTable.build(
            self.link("id"), self.link("kind"), network=self.name, address=self.link("address"), attrs=attrs
        )

    def node_address(self) -> np.ndarray:
        attr = self.nodes.attrs.get("address")
        if attr is None:
            return np.empty(len(self.node_rows), dtype=STR)
        values = attr.values[self.node_rows]
        if values.dtype.kind == "O":
            values = np.array(["" if v is None else str(v) for v in values.tolist()], dtype=STR)
        return np.where(attr.present[self.node_rows], values.astype(STR), "").astype(STR)

    def node_assets(self) -> AssetTable:
        attrs = {
            "network_kind": self.kind,
            "ground_m": self.ground,
            "invert_m": self.node_invert,
            "depth_m": self.ground - self.node_invert,
            "centre_z_m": self.node_z,
        }
        attrs.update(_free_columns(self.nodes.attrs, self.node_rows))
        return AssetTable.build(
            self.node("id"), self.node_kind, network=self.name, address=self.node_address(), attrs=attrs
        )

    def _node_centre_z(self) -> np.ndarray:
        """Pipe centre-line height at each node: the mean over the link ends meeting there."""
        n = len(self.node_rows)
        ends = np.r_[self.start, self.end]
        z = np.r_[self.head.centre, self.tail.centre] if len(self.link_rows) else np.empty(0)
        count = np.bincount(ends, minlength=n)
        total = np.bincount(ends, weights=z, minlength=n)
        fallback = np.where(np.isfinite(self.ground), self.ground, 0.0) - 1.0
        return np.where(count > 0, total / np.maximum(count, 1), fallback)

    def node_max_diameter(self) -> np.ndarray:
        d = np.where(self.diameter > 0, self.diameter, FALLBACK_DIAMETER)
        out = np.zeros(len(self.node_rows))
        np.maximum.at(out, np.r_[self.start, self.end], np.r_[d, d])
        return np.where(out > 0, out, FALLBACK_DIAMETER)

    def glyphs(self) -> tuple[pv.PolyData, np.ndarray]:
        """One glyph per node: manholes stand from invert to ground, junctions and valves sit on the pipe."""
        kinds = self.node_kind
        centre = self.node_z
        size = self.node_max_diameter() * self.scale
        tall = np.isin(kinds, ("manhole", "outfall", "storage", "divider"))
        big = np.isin(kinds, SOURCE_KINDS)
        valve = kinds == "valve"
        base = np.column_stack([self.node_xy, centre])
        scale = np.repeat(np.maximum(size * np.where(valve, 0.9, 0.8), 0.05)[:, None], 3, axis=1)
        rows = np.flatnonzero(tall)
        if len(rows):
            ground = np.where(np.isfinite(self.ground[rows]), self.ground[rows], centre[rows] + size[rows])
            invert = self.node_invert[rows]
            bottom = np.where(np.isfinite(invert), invert, centre[rows] - size[rows] / 2)
            manhole_d = _numbers(self.nodes.attrs.get("structure_diameter_m"), self.node_rows[rows])
            manhole_r = np.where(manhole_d > 0, manhole_d, 1.0) / 2
            base[rows, 2] = bottom
            scale[rows] = np.column_stack([manhole_r, manhole_r, np.maximum(ground - bottom, 0.5)])
        rows = np.flatnonzero(big)
        base[rows, 2] = np.where(np.isfinite(self.ground[rows]), self.ground[rows], centre[rows] + size[rows])
        scale[rows] = (3.0, 3.0, 3.0)
        standing = tall | big
        shapes = {
            "cylinder": np.flatnonzero(standing),
            "cube": np.flatnonzero(valve & ~standing),
            "octahedron": np.flatnonzero(~valve & ~standing),
        }
        return glyph_mesh(shapes, base, scale)

    def parts(self, palette_name: str | None) -> list[LayerPart]:
        style = LayerStyle(color=network_color(self.kind, palette_name))
        out = []
        if len(self.link_rows):
            mesh, owner = tube_mesh(self.points, self.offsets, self.radius)
            out.append(LayerPart(self.name, mesh, self.segment_assets(), owner, style=style))
        if len(self.node_rows):
            mesh, owner = self.glyphs()
            out.append(
                LayerPart(f"{self.name} nodes", mesh, self.node_assets(), owner, style=LayerStyle(color=style.color))
            )
        return out

    # -- graph and summary -------------------------------------------------------------------
    def graph(self, first_part: int) -> PipeNetwork:
        """The network as node and segment columns; segments keep their file direction.

        The columns carry what the analyses need; everything else about an element is in its
        asset row (the same row in the network's segment or node layer).
        """
        has_links, has_nodes = bool(len(self.link_rows)), bool(len(self.node_rows))
        attrs = {
            "name": self.name,
            "kind": self.kind,
            "format": self.data.format,
            "flow_from_file": self.data.flow_from_file,
            "segment_part": first_part if has_links else None,
            "node_part": (first_part + 1 if has_links else first_part) if has_nodes else None,
        }
        demand = _numbers(self.nodes.attrs.get("demand"), self.node_rows, 0.0)
        nodes = {
            "id": self.node("id"),
            "kind": self.node_kind,
            "x": self.node_xy[:, 0],
            "y": self.node_xy[:, 1],
            "z": self.node_z,
            "ground": self.ground,
            "demand": demand,
            "address": self.node_address(),
        }
        segments = {
            "id": self.link("id"),
            "kind": self.link("kind"),
            "start": self.start,
            "end": self.end,
            "length": self.length,
            "diameter": self.diameter,
            "invert_start": self.head.invert,
            "invert_end": self.tail.invert,
        }
        return PipeNetwork(attrs, nodes, segments)

    def summary(self) -> dict[str, Any]:
        kinds = self.node_kind
        assumed = self.head.assumed | self.tail.assumed
        return {
            "kind": self.kind,
            "nodes": len(self.node_rows),
            "segments": len(self.link_rows),
            "valves": int((kinds == "valve").sum()),
            "sources": int(np.isin(kinds, SOURCE_KINDS).sum()),
            "total_length_m": round(float(self.length.sum()), 3),
            "depth_assumed": int(assumed.sum()),
        }


def _free_columns(attrs: Mapping[str, Attr], rows: np.ndarray) -> dict[str, Any]:
    """Extra attributes given for some of these rows, as columns: numbers stay float64 (NaN when
    missing), the rest text."""
    out: dict[str, Any] = {}
    for key, attr in attrs.items():
        present = attr.present[rows]
        if not present.any():
            continue
        values = attr.values[rows]
        if values.dtype.kind != "O":
            out[key] = values
            continue
        items = values.tolist()
        if all(v is None or (isinstance(v, (int, float)) and not isinstance(v, bool)) for v in items):
            out[key] = np.array([math.nan if v is None else float(v) for v in items], dtype=np.float64)
        else:
            out[key] = np.array(["" if v is None else str(v) for v in items], dtype=STR)
    return out
