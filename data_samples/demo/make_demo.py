"""Write the demo district (deterministic): streets and buildings as CityJSON.

A 3 x 3 grid of city blocks in CGCS2000 / 3-degree Gauss-Krueger CM 120E (EPSG:4549), near
Eastings 385,000 / Northings 3,548,000 (central Nanjing), on the gentle terrain of
``make_dem.py`` (within 10 +- 1.5 m under the streets; the DEM itself is ``district_dem.tif``).
Streets follow the ground in 10 m quads; buildings stand on the lowest ground of their
footprint, with ground, wall and roof surfaces.  Run it again after changing it:
``python data_samples/demo/make_demo.py``.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from make_dem import ground

HERE = Path(__file__).parent
ORIGIN = np.array([385_000.0, 3_548_000.0])  # south-west corner of the district
ROAD_ABOVE = 0.08  # streets lie this far above the DEM so the terrain does not cover them
SEGMENT = 10.0
SEMANTICS = [{"type": "GroundSurface"}, {"type": "WallSurface"}, {"type": "RoofSurface"}]
BLOCK, STREET, BLOCKS = 100.0, 20.0, 3
SCALE = 0.001
FUNCTIONS = ("residential", "office", "retail", "school", "hospital", "residential", "residential")


class Writer:
    """Collects vertices (in millimetres from the transform's translate) and city objects."""

    def __init__(self) -> None:
        self.vertices: list[list[int]] = []
        self.objects: dict[str, dict] = {}

    def vertex(self, x: float, y: float, z: float) -> int:
        self.vertices.append([round((x - ORIGIN[0]) / SCALE), round((y - ORIGIN[1]) / SCALE), round(z / SCALE)])
        return len(self.vertices) - 1

    def prism(self, footprint: list[tuple[float, float]], bottom: float, top: float) -> tuple[list, list]:
        """A closed solid shell (floor, roof, walls of a counter-clockwise footprint) and its semantics."""
        low = [self.vertex(x, y, bottom) for x, y in footprint]
        high = [self.vertex(x, y, top) for x, y in footprint]
        n = len(footprint)
        shell = [[low[::-1]], [high]]
        shell += [[[low[i], low[(i + 1) % n], high[(i + 1) % n], high[i]]] for i in range(n)]
        return [shell], [[0, 2] + [1] * n]

    def draped_strip(self, corner: tuple[float, float], length: float, width: float, along_x: bool) -> list:
        """A street as quads of about SEGMENT metres following the ground."""
        steps = np.linspace(0, length, int(round(length / SEGMENT)) + 1)
        across = np.linspace(0, width, int(round(width / SEGMENT)) + 1)
        grid = [[self._on_ground(corner, a, b, along_x) for b in across] for a in steps]
        quads = []
        for i in range(len(steps) - 1):
            for j in range(len(across) - 1):
                ring = [grid[i][j], grid[i + 1][j], grid[i + 1][j + 1], grid[i][j + 1]]
                quads.append([ring if along_x else ring[::-1]])
        return quads

    def _on_ground(self, corner: tuple[float, float], a: float, b: float, along_x: bool) -> int:
        x, y = (corner[0] + a, corner[1] + b) if along_x else (corner[0] + b, corner[1] + a)
        return self.vertex(x, y, float(ground(x, y)) + ROAD_ABOVE)


def footprints(rng: np.random.Generator, x0: float, y0: float) -> list[list[tuple[float, float]]]:
    """Three or four buildings in a block, some L-shaped."""
    out = []
    for qx, qy in ((0, 0), (1, 0), (0, 1), (1, 1)):
        if rng.random() < 0.15:
            continue  # a courtyard or a small park
        bx, by = x0 + 8 + qx * 46, y0 + 8 + qy * 46
        w, d = rng.uniform(24, 38), rng.uniform(24, 38)
        if rng.random() < 0.35:
            cut = rng.uniform(0.4, 0.6)
            out.append([(bx, by), (bx + w, by), (bx + w, by + d * cut), (bx + w * cut, by + d * cut),
                        (bx + w * cut, by + d), (bx, by + d)])
        else:
            out.append([(bx, by), (bx + w, by), (bx + w, by + d), (bx, by + d)])
    return out


def build() -> dict:
    rng = np.random.default_rng(20261129)
    writer = Writer()
    extent = BLOCKS * BLOCK + (BLOCKS + 1) * STREET
    for axis in ("x", "y"):
        for k in range(BLOCKS + 1):
            a = k * (BLOCK + STREET)
            if axis == "x":
                quads = writer.draped_strip((ORIGIN[0], ORIGIN[1] + a), extent, STREET, along_x=True)
                name = f"Street {k + 1} East-West"
            else:
                quads = writer.draped_strip((ORIGIN[0] + a, ORIGIN[1]), extent, STREET, along_x=False)
                name = f"Avenue {chr(65 + k)} North-South"
            writer.objects[f"road-{axis}{k + 1}"] = {
                "type": "Road", "attributes": {"name": name, "width": STREET},
                "geometry": [{"type": "MultiSurface", "lod": "1", "boundaries": quads}]}
    number = 0
    for bi in range(BLOCKS):
        for bj in range(BLOCKS):
            x0 = ORIGIN[0] + STREET + bi * (BLOCK + STREET)
            y0 = ORIGIN[1] + STREET + bj * (BLOCK + STREET)
            for footprint in footprints(rng, x0, y0):
                number += 1
                height = float(np.round(rng.choice([12, 18, 24, 36, 54, 80], p=[.2, .25, .2, .15, .12, .08])
                                        * rng.uniform(0.9, 1.1), 1))
                function = FUNCTIONS[int(rng.integers(len(FUNCTIONS)))]
                xs, ys = np.array(footprint).T
                base = float(np.floor(ground(xs, ys).min() * 10) / 10) - 0.2  # sunk a little into the slope
                boundaries, values = writer.prism(footprint, base, base + height)
                writer.objects[f"bldg-{number:03d}"] = {
                    "type": "Building",
                    "attributes": {"name": f"Building {number}", "function": function,
                                   "measuredHeight": height, "storeysAboveGround": int(height // 3),
                                   "yearOfConstruction": int(rng.integers(1965, 2024)),
                                   "address": f"3201020{bi}{bj}{number:04d}"},
                    "geometry": [{"type": "Solid", "lod": "1", "boundaries": boundaries,
                                  "semantics": {"surfaces": SEMANTICS, "values": values}}]}
    return {"type": "CityJSON", "version": "2.0",
            "metadata": {"referenceSystem": "https://www.opengis.net/def/crs/EPSG/0/4549",
                         "title": "CIM Twin demo district (generated)"},
            "transform": {"scale": [SCALE] * 3, "translate": [ORIGIN[0], ORIGIN[1], 0.0]},
            "CityObjects": writer.objects, "vertices": writer.vertices}


if __name__ == "__main__":
    (HERE / "district.city.json").write_text(json.dumps(build(), separators=(",", ":")))
    print(f"wrote {HERE / 'district.city.json'}")
