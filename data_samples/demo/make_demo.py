"""Write the demo district (deterministic): ground, streets and buildings as CityJSON.

A 3 x 3 grid of city blocks in CGCS2000 / 3-degree Gauss-Krueger CM 120E (EPSG:4549), near
Eastings 385,000 / Northings 3,548,000 (central Nanjing), on flat ground at 10 m.  Run it
again after changing it: ``python data_samples/demo/make_demo.py``.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

HERE = Path(__file__).parent
ORIGIN = np.array([385_000.0, 3_548_000.0])  # south-west corner of the district
GROUND_Z = 10.0
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

    def prism(self, footprint: list[tuple[float, float]], bottom: float, top: float) -> list:
        """A closed solid shell: floor, roof and walls of an extruded counter-clockwise footprint."""
        low = [self.vertex(x, y, bottom) for x, y in footprint]
        high = [self.vertex(x, y, top) for x, y in footprint]
        n = len(footprint)
        shell = [[low[::-1]], [high]]
        shell += [[[low[i], low[(i + 1) % n], high[(i + 1) % n], high[i]]] for i in range(n)]
        return [shell]


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
    ground = [(ORIGIN[0], ORIGIN[1]), (ORIGIN[0] + extent, ORIGIN[1]), (ORIGIN[0] + extent, ORIGIN[1] + extent),
              (ORIGIN[0], ORIGIN[1] + extent)]
    writer.objects["ground"] = {"type": "TINRelief", "attributes": {"name": "District ground"},
                                "geometry": [{"type": "CompositeSurface", "lod": "1",
                                              "boundaries": [[[writer.vertex(x, y, GROUND_Z) for x, y in ground]]]}]}
    for axis in ("x", "y"):
        for k in range(BLOCKS + 1):
            a = k * (BLOCK + STREET)
            if axis == "x":
                rect = [(0, a), (extent, a), (extent, a + STREET), (0, a + STREET)]
                name = f"Street {k + 1} East-West"
            else:
                rect = [(a, 0), (a + STREET, 0), (a + STREET, extent), (a, extent)]
                name = f"Avenue {chr(65 + k)} North-South"
            ring = [writer.vertex(ORIGIN[0] + x, ORIGIN[1] + y, GROUND_Z + 0.05) for x, y in rect]
            writer.objects[f"road-{axis}{k + 1}"] = {
                "type": "Road", "attributes": {"name": name, "width": STREET},
                "geometry": [{"type": "MultiSurface", "lod": "1", "boundaries": [[ring]]}]}
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
                writer.objects[f"bldg-{number:03d}"] = {
                    "type": "Building",
                    "attributes": {"name": f"Building {number}", "function": function,
                                   "measuredHeight": height, "storeysAboveGround": int(height // 3),
                                   "yearOfConstruction": int(rng.integers(1965, 2024)),
                                   "address": f"3201020{bi}{bj}{number:04d}"},
                    "geometry": [{"type": "Solid", "lod": "1",
                                  "boundaries": writer.prism(footprint, GROUND_Z, GROUND_Z + height)}]}
    return {"type": "CityJSON", "version": "2.0",
            "metadata": {"referenceSystem": "https://www.opengis.net/def/crs/EPSG/0/4549",
                         "title": "CIM Twin demo district (generated)"},
            "transform": {"scale": [SCALE] * 3, "translate": [ORIGIN[0], ORIGIN[1], 0.0]},
            "CityObjects": writer.objects, "vertices": writer.vertices}


if __name__ == "__main__":
    (HERE / "district.city.json").write_text(json.dumps(build(), separators=(",", ":")))
    print(f"wrote {HERE / 'district.city.json'}")
