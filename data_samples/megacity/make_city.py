"""Generate a synthetic Chinese megacity for CIM Twin: deterministic, vectorised, streamed.

    python data_samples/megacity/make_city.py OUT --buildings 1000000 --pipes 100000 \\
        --risk-sources 267000 --grids 12000 --sensors 10000 --addresses 4700000 --seed 1

A street grid (160 m pitch, 20 m streets, 4 x 4 lots per block) centred near Nanjing in
CGCS2000 / 3-degree Gauss-Kruger CM 120E (EPSG:4549, the demo district's CRS), with the sizes of
the city safety office's platform (1 M buildings, 4.7 M standard addresses, 267,000 risk sources,
12,000 management grids).  OUT receives:

* ``buildings.city.jsonl``: CityJSON 2.0 CityJSONSeq, one Building per line: an LoD1 block, and for
  a share of them (``--lod2-share``) an LoD2.2 gabled roof as well; attributes ``name``,
  ``address`` (the 19-digit standard address code: 6-digit district, 3-digit sub-district,
  4-digit road, 4-digit door, 2-digit unit ``00`` for the building itself), ``address_text``
  (Chinese), ``function``, ``usage``, ``storeysAboveGround``, ``measuredHeight``, ``roofType``;
* ``pipes_water.geojson``, ``pipes_gas.geojson``, ``pipes_drainage.geojson``: LineStrings under the
  streets (each utility on its own offset), with their Point nodes (ground ``elevation``, a source,
  valves, manholes, an outfall), attribute names the pipe GeoJSON loader reads without a mapping;
* ``risk_sources.geojson`` (graded Points with ``radius_m``) and ``grids.geojson`` (Polygons), the
  static risk layers of a scene's ``[live]`` table; ``sensors.csv`` (``id,asset,quantity,unit,
  period_s``) on buildings (gas), water pipes (pressure) and drainage pipes (water level);
* ``addresses.parquet``: the standard-address table ``code, text, building, x, y`` sorted by code,
  several doors/units per building;
* ``city.json``: the counts, bounds, CRS and seed of what was written.

Every building property is drawn once as numpy arrays (a few arrays of ``--buildings`` values);
text is written in chunks, so memory stays bounded whatever the size.  Same arguments, same bytes.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import IO

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

CRS = "EPSG:4549"
CENTRE = (382_000.0, 3_549_000.0)  # near Nanjing's Xinjiekou, in EPSG:4549
PITCH, STREET, LOTS = 160.0, 20.0, 4  # street grid spacing, street width, lots per block side
LOT = (PITCH - STREET) / LOTS
STOREY_M = 3.0
CHUNK = 50_000  # buildings (or address rows x 10) formatted at a time
PROVINCE_CITY = "江苏省南京市"
DISTRICTS = (
    (320102, "玄武区"), (320104, "秦淮区"), (320105, "建邺区"), (320106, "鼓楼区"), (320111, "浦口区"),
    (320113, "栖霞区"), (320114, "雨花台区"), (320115, "江宁区"), (320116, "六合区"), (320117, "溧水区"),
    (320118, "高淳区"),
)  # fmt: skip
SUB_CHARS = ("梅园", "新街", "玄武", "锁金", "孝陵", "红山", "夫子", "双塘", "朝天", "洪武", "湖南", "宁海")
SUB_TAILS = ("门", "桥", "村", "岗", "山", "湖", "园", "口", "坊", "营", "巷", "台")
ROAD_HEADS = "中山北京汉中龙蟠虎踞太平洪武建康长江珠江广州上海集庆升州水西凤凰清凉石城燕子雨花应天江东"
ROAD_TAILS = ("路", "街", "大道", "东路", "西路", "南路", "北路")
#: (function, usage in Chinese, building name suffix, weight, typical storeys factor)
FUNCTIONS = (
    ("residential", "住宅", "住宅楼", 0.62, 1.0),
    ("commercial", "商业", "商业楼", 0.12, 0.8),
    ("office", "办公", "办公楼", 0.09, 1.4),
    ("industrial", "工业", "厂房", 0.08, 0.25),
    ("education", "教育", "教学楼", 0.04, 0.35),
    ("health", "医疗", "医院", 0.02, 0.6),
    ("public", "公共服务", "综合楼", 0.03, 0.5),
)
RISK_CATEGORIES = (
    ("hazardous_materials", "危险化学品储存点", 0.10),
    ("gas_station", "加油加气站", 0.06),
    ("construction_site", "建筑施工工地", 0.18),
    ("dangerous_building", "危险房屋", 0.14),
    ("crowded_place", "人员密集场所", 0.22),
    ("excavation", "道路开挖", 0.10),
    ("enterprise", "工贸企业", 0.20),
)
RISK_LEVELS = (("blue", 0.60), ("yellow", 0.25), ("orange", 0.11), ("red", 0.04))
#: network -> id prefix, offset from the street centre line (m), owner, materials, cover (m)
NETWORKS = {
    "water": ("W", (-4.0, -4.0), "南京水务集团", ("ductile iron", "PE", "steel"), 1.2),
    "gas": ("G", (4.0, 4.0), "南京港华燃气", ("PE", "steel"), 0.9),
    "drainage": ("D", (0.0, 0.0), "南京市排水管理处", ("concrete", "HDPE"), 2.5),
}
GEOMETRY_LOD1 = (
    '{"type":"Solid","lod":"1","boundaries":[[[[0,3,2,1]],[[0,1,5,4]],[[1,2,6,5]],[[2,3,7,6]],[[3,0,4,7]],'
    '[[4,5,6,7]]]],"semantics":{"surfaces":[{"type":"GroundSurface"},{"type":"WallSurface"},'
    '{"type":"RoofSurface"}],"values":[[0,1,1,1,1,2]]}}'
)
GEOMETRY_LOD2 = (
    '{"type":"Solid","lod":"2.2","boundaries":[[[[0,3,2,1]],[[0,1,5,4]],[[1,2,6,9,5]],[[2,3,7,6]],'
    '[[3,0,4,8,7]],[[4,5,9,8]],[[6,7,8,9]]]],"semantics":{"surfaces":[{"type":"GroundSurface"},'
    '{"type":"WallSurface"},{"type":"RoofSurface"}],"values":[[0,1,1,1,1,2,2]]}}'
)
FEATURE = (
    '{"type":"CityJSONFeature","id":"%s","CityObjects":{"%s":{"type":"Building","attributes":{"name":"%s",'
    '"address":"%s","address_text":"%s","function":"%s","usage":"%s","storeysAboveGround":%d,'
    '"measuredHeight":%.2f,"roofType":"%s"},"geometry":[%s]}},"vertices":[%s]}'
)


@dataclass(frozen=True)
class Sizes:
    buildings: int
    pipes: int
    risk_sources: int
    grids: int
    sensors: int
    addresses: int
    seed: int = 1
    lod2_share: float = 0.3


def ground(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """The ground elevation (m): gentle hills around 10 m, the same for buildings and pipe nodes."""
    height: np.ndarray = 10.0 + 4.0 * np.sin(x / 2900.0) * np.cos(y / 3700.0) + 1.5 * np.sin((x + y) / 1300.0)
    return np.round(height, 3)


class City:
    """The street grid and every building's properties, as numpy arrays drawn from one seed."""

    def __init__(self, sizes: Sizes) -> None:
        n = sizes.buildings
        if not 0 < n < 10_000_000:
            raise ValueError(f"--buildings must be between 1 and 9,999,999, not {n}")
        self.sizes, self.n = sizes, n
        seeds = np.random.SeedSequence(sizes.seed).spawn(4 + len(NETWORKS))
        # one stream per product: layout, address units, risk sources, sensors, then each network
        self.rng = [np.random.default_rng(s) for s in seeds]
        blocks = -(-n // LOTS**2)
        self.side = math.ceil(math.sqrt(blocks))
        self.rows = -(-blocks // self.side)
        if 4 * self.side * LOTS + LOTS > 9999:
            raise ValueError("too many buildings for 4-digit door numbers along a road")
        self.sw = (
            round(CENTRE[0] - self.side * PITCH / 2),
            round(CENTRE[1] - self.rows * PITCH / 2),
        )
        self._lay_out_buildings(self.rng[0])
        self._name_buildings()

    @property
    def extent(self) -> tuple[float, float, float, float]:
        """``xmin, ymin, xmax, ymax`` of the street grid."""
        return (self.sw[0], self.sw[1], self.sw[0] + self.side * PITCH, self.sw[1] + self.rows * PITCH)

    def _lay_out_buildings(self, rng: np.random.Generator) -> None:
        i = np.arange(self.n)
        block, lot = np.divmod(i, LOTS**2)
        self.row_in_block, col = np.divmod(lot, LOTS)
        self.by, self.bx = np.divmod(block, self.side)
        width = rng.uniform(12.0, LOT - 4.0, self.n)
        depth = rng.uniform(10.0, LOT - 4.0, self.n)
        lot_x = self.sw[0] + self.bx * PITCH + STREET / 2 + col * LOT
        lot_y = self.sw[1] + self.by * PITCH + STREET / 2 + self.row_in_block * LOT
        self.x0 = np.round(lot_x + rng.uniform(0.0, 1.0, self.n) * (LOT - width), 3)
        self.y0 = np.round(lot_y + rng.uniform(0.0, 1.0, self.n) * (LOT - depth), 3)
        self.x1, self.y1 = np.round(self.x0 + width, 3), np.round(self.y0 + depth, 3)
        weights = np.array([f[3] for f in FUNCTIONS])
        self.function = rng.choice(len(FUNCTIONS), self.n, p=weights / weights.sum())
        # taller towards the centre, lower for industry and schools
        centre_x, centre_y = (self.x0 + self.x1) / 2, (self.y0 + self.y1) / 2
        reach = max(self.side, self.rows) * PITCH / 2
        r = np.clip(np.hypot(centre_x - CENTRE[0], centre_y - CENTRE[1]) / reach, 0.0, 1.0)
        typical = (3.0 + 27.0 * (1.0 - r) ** 2) * np.array([f[4] for f in FUNCTIONS])[self.function]
        self.storeys = np.clip(np.rint(rng.normal(typical, typical * 0.35)), 1, 66).astype(np.int64)
        self.lod2 = rng.random(self.n) < self.sizes.lod2_share
        self.eave = self.storeys * STOREY_M
        self.ridge = np.where(self.lod2, np.round(depth / 2 * math.tan(math.radians(25.0)), 3), 0.0)
        self.base = ground(centre_x, centre_y)
        self.centre = np.column_stack([centre_x, centre_y])
        # 12 coarse cells share 11 districts; sub-districts on a 12 x 12 grid
        cell = (self.by * 3 // self.rows) * 4 + self.bx * 4 // self.side
        self.district = cell % len(DISTRICTS)
        self.sub = (self.by * 12 // self.rows) * 12 + self.bx * 12 // self.side
        self.road = self.by + (self.row_in_block >= LOTS // 2)  # the east-west road the door faces
        self.door = LOTS * (self.bx * LOTS + col) + self.row_in_block + 1

    def _name_buildings(self) -> None:
        """Codes, ids, names and address texts (Arrow arrays: computed once, taken per chunk)."""
        district_code = np.array([d[0] for d in DISTRICTS], dtype=np.uint64)[self.district]
        self.code = (
            district_code * 10**13
            + (self.sub + 1).astype(np.uint64) * 10**10
            + (self.road + 1).astype(np.uint64) * 10**6
            + self.door.astype(np.uint64) * 100
        )  # unit 00: the building itself
        self.ids = _join("B", pc.utf8_lpad(_text(np.arange(self.n)), 7, "0"))
        subs = [f"{SUB_CHARS[k % 12]}{SUB_TAILS[k // 12 % 12]}街道" for k in range(144)]
        roads = [road_name(k) for k in range(self.rows + 1)]
        road_door = _join(pc.take(pa.array(roads), pa.array(self.road)), _text(self.door), pa.scalar("号"))
        self.text = _join(
            PROVINCE_CITY,
            pc.take(pa.array([d[1] for d in DISTRICTS]), pa.array(self.district)),
            pc.take(pa.array(subs), pa.array(self.sub)),
            road_door,
        )
        self.names = _join(road_door, pc.take(pa.array([f[2] for f in FUNCTIONS]), pa.array(self.function)))

    def vertices(self, rows: slice) -> tuple[np.ndarray, np.ndarray]:
        """Integer vertices (mm from the transform's translate), ``(n, 10, 3)``, and the LoD2 mask."""
        x0, x1 = self.x0[rows] - self.sw[0], self.x1[rows] - self.sw[0]
        y0, y1 = self.y0[rows] - self.sw[1], self.y1[rows] - self.sw[1]
        z0, eave = self.base[rows], self.base[rows] + self.eave[rows]
        top, ym = eave + self.ridge[rows], (y0 + y1) / 2
        xs = np.stack([x0, x1, x1, x0, x0, x1, x1, x0, x0, x1], axis=1)
        ys = np.stack([y0, y0, y1, y1, y0, y0, y1, y1, ym, ym], axis=1)
        zs = np.stack([z0, z0, z0, z0, eave, eave, eave, eave, top, top], axis=1)
        return np.rint(np.stack([xs, ys, zs], axis=2) * 1000).astype(np.int64), self.lod2[rows]


def road_name(k: int) -> str:
    """A unique name per east-west road: two characters of ``ROAD_HEADS``, then a road word."""
    heads = len(ROAD_HEADS)
    first, second = ROAD_HEADS[k % heads], ROAD_HEADS[(k // heads + k + 1) % heads]
    return f"{first}{second}{ROAD_TAILS[k // (heads * heads) % len(ROAD_TAILS)]}"


def _text(values: np.ndarray) -> pa.Array:
    return pc.cast(pa.array(values), pa.string())


def _join(*parts: str | pa.Array | pa.Scalar) -> pa.Array:
    """Element-wise concatenation of Arrow string arrays and scalars (one C++ pass)."""
    return pc.binary_join_element_wise(*[pa.scalar(p) if isinstance(p, str) else p for p in parts], "")


# -- writers --------------------------------------------------------------------------------------
def write_buildings(city: City, path: Path) -> int:
    """The CityJSONSeq: a header line, then one CityJSONFeature per building."""
    header = {
        "type": "CityJSON",
        "version": "2.0",
        "transform": {"scale": [0.001, 0.001, 0.001], "translate": [float(city.sw[0]), float(city.sw[1]), 0.0]},
        "metadata": {
            "referenceSystem": f"https://www.opengis.net/def/crs/EPSG/0/{CRS.split(':')[1]}",
            "title": f"CIM Twin synthetic megacity ({city.n} buildings, seed {city.sizes.seed})",
        },
        "CityObjects": {},
        "vertices": [],
    }
    vertex = "[%d,%d,%d]"
    lod1_vertices, lod2_vertices = ",".join([vertex] * 8), ",".join([vertex] * 10)
    with path.open("w", encoding="utf-8", newline="\n") as out:
        out.write(json.dumps(header, ensure_ascii=False, separators=(",", ":")) + "\n")
        for rows in _chunks(city.n, CHUNK):
            verts, lod2 = city.vertices(rows)
            flat = verts.reshape(len(verts), -1).tolist()
            columns = zip(
                city.ids[rows].to_pylist(),
                city.names[rows].to_pylist(),
                city.code[rows].tolist(),
                city.text[rows].to_pylist(),
                city.function[rows].tolist(),
                city.storeys[rows].tolist(),
                (city.eave[rows] + city.ridge[rows]).tolist(),
                lod2.tolist(),
                flat,
            )
            lines = [
                FEATURE
                % (
                    i, i, name, f"{code:019d}", text, FUNCTIONS[f][0], FUNCTIONS[f][1], storeys, height,
                    "gabled" if gabled else "flat",
                    f"{GEOMETRY_LOD1},{GEOMETRY_LOD2}" if gabled else GEOMETRY_LOD1,
                    lod2_vertices % tuple(v) if gabled else lod1_vertices % tuple(v[:24]),
                )
                for i, name, code, text, f, storeys, height, gabled, v in columns
            ]  # fmt: skip
            out.write("\n".join(lines) + "\n")
    return city.n


def write_addresses(city: City, path: Path) -> int:
    """``addresses.parquet``: every building's own address (unit 00) and its doors/units, by code."""
    total = city.sizes.addresses
    base, extra = divmod(total, city.n)
    counts = np.full(city.n, base, dtype=np.int64)
    counts[city.rng[1].permutation(city.n)[:extra]] += 1
    building = np.repeat(np.arange(city.n), counts)
    unit = np.arange(total) - np.repeat(np.cumsum(counts) - counts, counts)
    order = np.argsort(city.code[building] + unit.astype(np.uint64), kind="stable")
    units = pa.array([""] + [f"{u}单元" for u in range(1, int(unit.max(initial=0)) + 1)])
    schema = pa.schema(
        [("code", pa.string()), ("text", pa.string()), ("building", pa.string()), ("x", pa.float64()),
         ("y", pa.float64())]
    )  # fmt: skip
    with pq.ParquetWriter(path, schema, compression="zstd") as writer:
        for rows in _chunks(total, CHUNK * 10):
            b, u = building[order[rows]], unit[order[rows]]
            frontage = np.where(city.road[b] == city.by[b], city.y0[b], city.y1[b])
            x = city.x0[b] + (city.x1[b] - city.x0[b]) * (u + 0.5) / counts[b]
            table = pa.table(
                [
                    _text(city.code[b] + u.astype(np.uint64)),
                    _join(pc.take(city.text, pa.array(b)), pc.take(units, pa.array(u))),
                    pc.take(city.ids, pa.array(b)),
                    pa.array(np.round(x, 3)),
                    pa.array(frontage),
                ],
                schema=schema,
            )
            writer.write_table(table, row_group_size=CHUNK * 10)
    return total


class Network:
    """One utility's pipes along the street grid, nearest the centre first, and their nodes."""

    def __init__(self, city: City, name: str, count: int, rng: np.random.Generator) -> None:
        self.name, self.city = name, city
        self.prefix, self.offset, self.owner, self.materials, self.cover = NETWORKS[name]
        start, end = _street_edges(city.side, city.rows)
        pieces = max(1, -(-count // len(start)))  # split every street edge when pipes outnumber them
        edges = -(-count // pieces)
        t = np.tile(np.arange(pieces), edges) / pieces
        a, b = np.repeat(start[:edges], pieces, axis=0), np.repeat(end[:edges], pieces, axis=0)
        ends = [a + (b - a) * t[:, None], a + (b - a) * (t[:, None] + 1.0 / pieces)]
        xy = [np.round(np.asarray(city.sw) + e[:count] * PITCH + self.offset, 3) for e in ends]
        key = np.concatenate([np.rint(e * 100).astype(np.int64) for e in xy])
        nodes, inverse = np.unique(key[:, 0] * 2**32 + key[:, 1], return_inverse=True)
        self.node_xy = np.column_stack([nodes // 2**32, nodes % 2**32]) / 100.0
        self.start, self.end = np.split(inverse.ravel(), 2)
        self.rank = np.arange(count) / max(count, 1)  # 0 at the centre, 1 at the edge
        self.diameter = _diameters(name, self.rank, rng)
        self.material = rng.choice(len(self.materials), count)
        self.year = rng.integers(1980, 2025, count)

    def node_kinds(self) -> list[str]:
        degree = np.bincount(np.concatenate([self.start, self.end]), minlength=len(self.node_xy))
        kinds = np.full(len(degree), "manhole" if self.name == "drainage" else "junction", dtype=object)
        if self.name == "drainage":
            kinds[int(np.argmax(np.hypot(*(self.node_xy - CENTRE).T)))] = "outfall"
        else:
            kinds[(degree >= 3) & (np.arange(len(degree)) % 2 == 0)] = "valve"
            kinds[self.start[0]] = "source"
        return list(kinds)

    def features(self) -> Iterator[str]:
        ids = [f"{self.prefix}-N{k:06d}" for k in range(len(self.node_xy))]
        elevation = ground(self.node_xy[:, 0], self.node_xy[:, 1])
        for node_id, kind, (x, y), z in zip(ids, self.node_kinds(), self.node_xy.tolist(), elevation.tolist()):
            yield (
                f'{{"type":"Feature","properties":{{"id":"{node_id}","kind":"{kind}","elevation":{z}}},'
                f'"geometry":{{"type":"Point","coordinates":[{x},{y}]}}}}'
            )
        pressure = "中压A" if self.name == "gas" else ("PN10" if self.name == "water" else "")
        for k, (s, e, d, m, year) in enumerate(
            zip(self.start.tolist(), self.end.tolist(), self.diameter.tolist(), self.material.tolist(),
                self.year.tolist())
        ):  # fmt: skip
            (x0, y0), (x1, y1) = self.node_xy[s].tolist(), self.node_xy[e].tolist()
            yield (
                f'{{"type":"Feature","properties":{{"id":"{self.prefix}-P{k + 1:06d}","from_node":"{ids[s]}",'
                f'"to_node":"{ids[e]}","diameter":{d},"material":"{self.materials[m]}","install_year":{year},'
                f'"depth":{self.cover},"pressure_class":"{pressure}","owner":"{self.owner}"}},'
                f'"geometry":{{"type":"LineString","coordinates":[[{x0},{y0}],[{x1},{y1}]]}}}}'
            )

    def pipe_ids(self) -> list[str]:
        return [f"{self.prefix}-P{k + 1:06d}" for k in range(len(self.start))]


def _street_edges(side: int, rows: int) -> tuple[np.ndarray, np.ndarray]:
    """Street edges between intersections (grid units), ordered by distance from the centre."""
    i, j = np.meshgrid(np.arange(side), np.arange(rows + 1), indexing="ij")
    east_west = np.column_stack([i.ravel(), j.ravel()]).astype(np.float64)
    i, j = np.meshgrid(np.arange(side + 1), np.arange(rows), indexing="ij")
    north_south = np.column_stack([i.ravel(), j.ravel()]).astype(np.float64)
    start = np.concatenate([east_west, north_south])
    end = start + np.concatenate([np.tile([1.0, 0.0], (len(east_west), 1)), np.tile([0.0, 1.0], (len(north_south), 1))])
    middle = (start + end) / 2 - (side / 2, rows / 2)
    order = np.lexsort((np.arange(len(start)), np.round(np.hypot(*middle.T), 6)))
    return start[order], end[order]


def _diameters(name: str, rank: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Mains near the centre, smaller pipes outwards (m), by utility."""
    sizes = {
        "water": (0.8, 0.6, 0.4, 0.3, 0.2),
        "gas": (0.5, 0.4, 0.3, 0.2, 0.1),
        "drainage": (1.5, 1.2, 1.0, 0.8, 0.6),
    }
    step = np.minimum((rank * 5 + rng.uniform(-0.3, 0.3, len(rank))).astype(np.int64).clip(0), 4)
    diameters: np.ndarray = np.asarray(sizes[name])[step]
    return diameters


def write_geojson(path: Path, name: str, features: Iterator[str]) -> int:
    """A FeatureCollection in the scene CRS, streamed one feature per line."""
    count = 0
    with path.open("w", encoding="utf-8", newline="\n") as out:
        crs = f"urn:ogc:def:crs:EPSG::{CRS.split(':')[1]}"
        out.write(f'{{"type":"FeatureCollection","name":"{name}","crs":{{"type":"name","properties":')
        out.write(f'{{"name":"{crs}"}}}},"features":[\n')
        for feature in features:
            out.write(("," if count else "") + feature + "\n")
            count += 1
        out.write("]}\n")
    return count


def risk_features(city: City, n: int, rng: np.random.Generator) -> Iterator[str]:
    """Graded risk sources at buildings (points with a radius), named after the building's address."""
    at = rng.integers(0, city.n, n)
    xy = np.round(city.centre[at] + rng.uniform(-8.0, 8.0, (n, 2)), 3)
    category = rng.choice(len(RISK_CATEGORIES), n, p=_weights(RISK_CATEGORIES))
    level = rng.choice(len(RISK_LEVELS), n, p=_weights(RISK_LEVELS))
    radius = rng.integers(10, 61, n)
    names = city.names.take(pa.array(at)).to_pylist()
    for k, (b, (x, y), c, lv, r, label) in enumerate(
        zip(at.tolist(), xy.tolist(), category.tolist(), level.tolist(), radius.tolist(), names)
    ):
        yield (
            f'{{"type":"Feature","properties":{{"id":"RS-{k + 1:06d}","name":"{RISK_CATEGORIES[c][1]}（{label}）",'
            f'"category":"{RISK_CATEGORIES[c][0]}","level":"{RISK_LEVELS[lv][0]}","radius_m":{r},'
            f'"address":"{int(city.code[b]):019d}"}},"geometry":{{"type":"Point","coordinates":[{x},{y}]}}}}'
        )


def grid_features(city: City, n: int) -> Iterator[str]:
    """Management grid cells tiling the city's extent, row by row from the south-west."""
    xmin, ymin, xmax, ymax = city.extent
    nx = max(1, round(math.sqrt(n * (xmax - xmin) / (ymax - ymin))))
    ny = -(-n // nx)
    w, h = (xmax - xmin) / nx, (ymax - ymin) / ny
    for k in range(n):
        row, col = divmod(k, nx)
        x0, y0 = round(xmin + col * w, 3), round(ymin + row * h, 3)
        x1, y1 = round(x0 + w, 3), round(y0 + h, 3)
        ring = f"[[{x0},{y0}],[{x1},{y0}],[{x1},{y1}],[{x0},{y1}],[{x0},{y0}]]"
        yield (
            f'{{"type":"Feature","properties":{{"id":"GRID-{k + 1:05d}","name":"第{k + 1}号综合网格"}},'
            f'"geometry":{{"type":"Polygon","coordinates":[{ring}]}}}}'
        )


def write_sensors(path: Path, city: City, networks: dict[str, Network], n: int, rng: np.random.Generator) -> int:
    """Gas detectors in buildings, pressure on water mains, water level in drains (CSV)."""
    plan = [
        ("gas", "%LEL", 10, "GAS", city.ids.to_pylist() if n else []),
        ("pressure", "kPa", 30, "PRS", networks["water"].pipe_ids()),
        ("water_level", "m", 60, "LVL", networks["drainage"].pipe_ids()),
    ]
    shares = np.array([0.4, 0.35, 0.25]) * np.array([bool(p[4]) for p in plan])
    counts = np.floor(n * shares / shares.sum()).astype(int)
    counts[0] += n - counts.sum()
    lines = ["id,asset,quantity,unit,period_s"]
    for (quantity, unit, period, tag, assets), count in zip(plan, counts.tolist()):
        chosen = rng.choice(len(assets), count, replace=count > len(assets)) if count else []
        lines += [f"S-{tag}-{k + 1:06d},{assets[a]},{quantity},{unit},{period}" for k, a in enumerate(chosen)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return n


def _weights(table: tuple[tuple[object, ...], ...]) -> np.ndarray:
    w = np.array([row[-1] for row in table], dtype=np.float64)
    shares: np.ndarray = w / w.sum()
    return shares


def _chunks(n: int, size: int) -> Iterator[slice]:
    for start in range(0, n, size):
        yield slice(start, min(start + size, n))


def generate(out: Path, sizes: Sizes, log: IO[str] | None = None) -> dict[str, object]:
    """Write the whole city into ``out``; returns (and writes as ``city.json``) what was made."""
    out.mkdir(parents=True, exist_ok=True)
    seconds: dict[str, float] = {}
    started = time.perf_counter()
    city = City(sizes)
    seconds["layout"] = round(time.perf_counter() - started, 3)

    def step(name: str, write: Callable[[], object]) -> None:
        t = time.perf_counter()
        write()
        seconds[name] = round(time.perf_counter() - t, 3)
        if log:
            print(f"{name}: {seconds[name]:.1f} s", file=log, flush=True)

    per_network = np.diff(np.linspace(0, sizes.pipes, len(NETWORKS) + 1).round().astype(int))
    networks = {
        name: Network(city, name, int(k), city.rng[4 + i]) for i, (name, k) in enumerate(zip(NETWORKS, per_network))
    }
    step("buildings", lambda: write_buildings(city, out / "buildings.city.jsonl"))
    step("addresses", lambda: write_addresses(city, out / "addresses.parquet"))
    for name, net in networks.items():
        step(f"pipes_{name}", partial(write_geojson, out / f"pipes_{name}.geojson", name, net.features()))
    step(
        "risk_sources",
        lambda: write_geojson(
            out / "risk_sources.geojson", "risk sources", risk_features(city, sizes.risk_sources, city.rng[2])
        ),
    )
    step("grids", lambda: write_geojson(out / "grids.geojson", "management grids", grid_features(city, sizes.grids)))
    step("sensors", lambda: write_sensors(out / "sensors.csv", city, networks, sizes.sensors, city.rng[3]))
    xmin, ymin, xmax, ymax = city.extent
    summary: dict[str, object] = {
        "crs": CRS,
        "seed": sizes.seed,
        "counts": {k: v for k, v in vars(sizes).items() if k not in ("seed", "lod2_share")},
        "lod2_share": sizes.lod2_share,
        "bounds": [xmin, xmax, ymin, ymax, float(city.base.min()), float((city.base + city.eave + city.ridge).max())],
        "centre": [(xmin + xmax) / 2, (ymin + ymax) / 2, 10.0],
    }
    (out / "city.json").write_text(json.dumps(summary, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    summary["seconds"] = seconds
    return summary


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("out", type=Path, help="output folder")
    parser.add_argument("--buildings", type=int, default=2000)
    parser.add_argument("--pipes", type=int, default=400)
    parser.add_argument("--risk-sources", type=int, default=500)
    parser.add_argument("--grids", type=int, default=50)
    parser.add_argument("--sensors", type=int, default=100)
    parser.add_argument("--addresses", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--lod2-share", type=float, default=0.3, help="share of buildings with an LoD2 roof")
    args = parser.parse_args(argv)
    sizes = Sizes(
        args.buildings, args.pipes, args.risk_sources, args.grids, args.sensors, args.addresses, args.seed,
        args.lod2_share,
    )  # fmt: skip
    summary = generate(args.out, sizes, log=sys.stderr)
    print(json.dumps(summary, ensure_ascii=False))


if __name__ == "__main__":
    main()
