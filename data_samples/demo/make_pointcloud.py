"""Write the demo district's airborne survey (deterministic): ``survey.laz``, sampled from its surfaces.

Reads ``district.city.json`` (written by ``make_demo.py``) and samples its streets, roofs and
walls, and the ground of ``make_dem.py``, the way an airborne lidar sees them (dense on
horizontal surfaces, sparse on walls), with centimetre noise, street trees and lawns, and a few
noise points.  Classes are
ASPRS: 2 ground, 3/4/5 low/medium/high vegetation, 6 building, 7 low noise, 11 road surface.
Written as LAZ (LAS 1.4, point format 7 with RGB) with an OGC WKT CRS VLR for EPSG:4549.
Run it again after the district changes: ``python data_samples/demo/make_pointcloud.py``.
"""

from __future__ import annotations

import datetime
import json
from pathlib import Path

import laspy
import numpy as np
from make_dem import ground as terrain
from pyproj import CRS

HERE = Path(__file__).parent
SEED = 20261129
DENSITY = {"ground": 1.4, "road": 1.4, "roof": 1.6, "wall": 0.35}   # points per square metre
DISTRICT = np.array([[385_000.0, 3_548_000.0], [385_380.0, 3_548_380.0]])  # south-west, north-east corners
NOISE = (0.02, 0.03)                                                  # sigma horizontal, vertical (m)
ROOF_COLORS = np.array([(150, 150, 150), (170, 90, 70), (120, 125, 135), (190, 185, 170), (95, 100, 95)])


def read_district(path: Path) -> tuple[dict[str, list[np.ndarray]], list[np.ndarray]]:
    """Street quads, roofs and walls in world coordinates (by their CityJSON semantics), and footprints."""
    document = json.loads(path.read_text())
    scale, translate = (np.asarray(document["transform"][k]) for k in ("scale", "translate"))
    vertices = np.asarray(document["vertices"], dtype=np.float64) * scale + translate
    surfaces: dict[str, list[np.ndarray]] = {"road": [], "roof": [], "wall": []}
    footprints = []
    for city_object in document["CityObjects"].values():
        for geometry in city_object.get("geometry", []):
            if city_object["type"] == "Road":
                surfaces["road"] += [vertices[surface[0]] for surface in geometry["boundaries"]]
                continue
            kinds = [item["type"] for item in geometry["semantics"]["surfaces"]]
            for shell, values in zip(geometry["boundaries"], geometry["semantics"]["values"]):
                for surface, value in zip(shell, values):
                    ring = vertices[surface[0]]
                    kind = kinds[value]
                    if kind == "GroundSurface":
                        footprints.append(ring)
                    else:
                        surfaces["roof" if kind == "RoofSurface" else "wall"].append(ring)
    return surfaces, footprints


def inside(points2d: np.ndarray, ring2d: np.ndarray) -> np.ndarray:
    """Even-odd point-in-polygon test of many points against one ring, vectorised over points."""
    result = np.zeros(len(points2d), dtype=bool)
    x, y = points2d[:, 0], points2d[:, 1]
    for (x0, y0), (x1, y1) in zip(ring2d, np.roll(ring2d, -1, axis=0)):
        crosses = (y0 > y) != (y1 > y)
        with np.errstate(divide="ignore", invalid="ignore"):
            at = x0 + (y - y0) * (x1 - x0) / (y1 - y0)
        result ^= crosses & (x < at)
    return result


def sample_polygon(ring: np.ndarray, density: float, rng: np.random.Generator) -> np.ndarray:
    """Points uniformly on a planar polygon, about ``density`` per square metre."""
    normal = np.sum(np.cross(ring, np.roll(ring, -1, axis=0)), axis=0) / 2
    area = float(np.linalg.norm(normal))
    if area < 1e-6:
        return np.empty((0, 3))
    n_hat = normal / area
    u = ring[1] - ring[0]
    u /= np.linalg.norm(u)
    v = np.cross(n_hat, u)
    local = np.column_stack([(ring - ring[0]) @ u, (ring - ring[0]) @ v])
    lo, hi = local.min(axis=0), local.max(axis=0)
    wanted = rng.poisson(density * area)
    tries = rng.uniform(lo, hi, size=(int(wanted * np.prod(hi - lo) / area) + 16, 2))
    kept = tries[inside(tries, local)][:wanted]
    return ring[0] + kept[:, :1] * u + kept[:, 1:] * v


def trees(rng: np.random.Generator, lo: np.ndarray, hi: np.ndarray, footprints: list[np.ndarray],
          count: int = 70) -> tuple[np.ndarray, np.ndarray]:
    """Street and courtyard trees: crowns (high vegetation) over shrubs (medium vegetation)."""
    parts, classes = [], []
    centres = rng.uniform(lo + 5, hi - 5, size=(count * 2, 2))
    free = ~np.any([inside(centres, f[:, :2]) for f in footprints], axis=0)
    for cx, cy in centres[free][:count]:
        height, radius = rng.uniform(7, 14), rng.uniform(2.0, 4.0)
        n = int(rng.integers(250, 500))
        direction = rng.normal(size=(n, 3))
        direction[:, 2] = np.abs(direction[:, 2]) * 0.8 - 0.2  # mostly the upper crown
        direction /= np.linalg.norm(direction, axis=1, keepdims=True)
        base = float(terrain(cx, cy))
        crown = np.column_stack([cx, cy, base + height - radius]) + direction * radius * rng.uniform(0.7, 1.0, (n, 1))
        shrub = np.column_stack([cx, cy, base]) + rng.normal(0, [1.2, 1.2, 0.0], (60, 3)) + [0, 0, 1.0]
        shrub[:, 2] += rng.uniform(0, 1.5, 60)
        parts += [crown, shrub]
        classes += [np.full(n, 5), np.full(60, 4)]
    return np.vstack(parts), np.concatenate(classes).astype(np.uint8)


def build(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Points, classes and 8-bit colours of the whole survey."""
    surfaces, footprints = read_district(HERE / "district.city.json")
    chunks, classes, colors = [], [], []

    def add(points, code, base_color, spread=12):
        chunks.append(points)
        classes.append(np.full(len(points), code, dtype=np.uint8))
        colors.append(np.clip(np.asarray(base_color) + rng.normal(0, spread, (len(points), 3)), 0, 255))

    lo, hi = DISTRICT[0], DISTRICT[1]
    xy = rng.uniform(lo, hi, size=(rng.poisson(DENSITY["ground"] * np.prod(hi - lo)), 2))
    covered = np.any([inside(xy, r[:, :2]) for r in surfaces["road"] + footprints], axis=0)
    xy = xy[~covered]
    ground = np.column_stack([xy, terrain(xy[:, 0], xy[:, 1])])
    lawn = rng.random(len(ground)) < 0.25
    add(ground[~lawn], 2, (135, 120, 95))
    add(ground[lawn] + [0, 0, 0.15], 3, (110, 150, 80))
    for ring in surfaces["road"]:
        add(sample_polygon(ring, DENSITY["road"], rng), 11, (88, 88, 92), spread=6)
    for i, ring in enumerate(surfaces["roof"]):
        add(sample_polygon(ring, DENSITY["roof"], rng), 6, ROOF_COLORS[i % len(ROOF_COLORS)])
    for ring in surfaces["wall"]:
        add(sample_polygon(ring, DENSITY["wall"], rng), 6, (205, 200, 188))
    vegetation, codes = trees(rng, lo, hi, footprints)
    for code, color in ((5, (55, 105, 50)), (4, (85, 130, 65))):
        add(vegetation[codes == code], code, color, spread=18)
    noise = np.column_stack([rng.uniform(lo, hi, (40, 2)), rng.uniform(-8, 5, 40)])  # multipath below ground
    add(noise, 7, (255, 0, 255), spread=0)
    points = np.vstack(chunks)
    points += rng.normal(0, 1, points.shape) * [NOISE[0], NOISE[0], NOISE[1]]
    return points, np.concatenate(classes), np.vstack(colors).astype(np.uint8)


def write(path: Path) -> int:
    rng = np.random.default_rng(SEED)
    points, classes, colors = build(rng)
    order = np.lexsort((points[:, 1], np.floor((points[:, 0] - points[:, 0].min()) / 60)))  # flight strips
    points, classes, colors = points[order], classes[order], colors[order]
    header = laspy.LasHeader(point_format=7, version="1.4")
    header.scales = [0.001, 0.001, 0.001]
    header.offsets = [385_000.0, 3_548_000.0, 0.0]
    header.add_crs(CRS.from_epsg(4549))
    header.date = datetime.date(2026, 11, 29)  # fixed, so the file is the same on every run
    las = laspy.LasData(header)
    las.x, las.y, las.z = points[:, 0], points[:, 1], points[:, 2]
    las.classification = classes
    las.red, las.green, las.blue = (colors[:, i].astype(np.uint16) * 257 for i in range(3))
    las.intensity = np.where(classes == 11, 900, np.where(classes == 6, 1800, 1300)).astype(np.uint16) + \
        rng.integers(0, 400, len(points), dtype=np.uint16)
    las.gps_time = 400_000.0 + np.arange(len(points)) * 2e-5
    las.return_number = np.where(np.isin(classes, (4, 5)) & (rng.random(len(points)) < 0.4), 2, 1)
    las.number_of_returns = np.where(np.isin(classes, (4, 5)), 2, 1)
    las.write(path, laz_backend=laspy.LazBackend.LazrsParallel)
    return len(points)


if __name__ == "__main__":
    target = HERE / "survey.laz"
    n = write(target)
    print(f"wrote {target}: {n:,} points, {target.stat().st_size / 1e6:.1f} MB")
