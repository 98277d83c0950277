"""Write the demo district's underground networks (deterministic) as GeoJSON in EPSG:4549.

Water supply, gas, drainage and one power cable run under the streets of the demo district
(``make_demo.py``): street centre lines at 385,010 + 120 k and 3,548,010 + 120 k (k = 0..3),
ground at 10 m.  Each utility keeps to its own side of the street, at realistic depths:

* water: DN300 ring / DN200 inner mains, 1.2 m cover, a valve 8 m from every junction, fed by a
  supply point (waterworks connection) at the west edge;
* gas: DN150/DN100 PE, 0.9 m cover, valves near junctions, fed by a regulator station in the
  east; attribute names as a Chinese survey delivers them (GJ, CZ, MSRQ, YLDJ, QSDW, MS), mapped
  in ``scenes/demo.toml``;
* drainage: DN400-DN800 concrete, inverts 2 m deep in the north-west falling to 4 m in the
  south-east, manholes every 60 m, one outfall beyond the south-east corner;
* power: one cable duct laid too close to the gas main on one street (a clearance violation
  for ``twin nearby`` to find).

Run again after changing it: ``python data_samples/demo/make_pipes.py``.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

HERE = Path(__file__).parent
X0, Y0, GROUND = 385_000.0, 3_548_000.0, 10.0
LINES = [10.0 + 120.0 * k for k in range(4)]  # street centre lines, relative to X0 / Y0
CRS = {"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::4549"}}


def point(props: dict, x: float, y: float) -> dict:
    return {"type": "Feature", "properties": props,
            "geometry": {"type": "Point", "coordinates": [round(X0 + x, 3), round(Y0 + y, 3)]}}


def line(props: dict, coords: list[tuple[float, float]]) -> dict:
    return {"type": "Feature", "properties": props,
            "geometry": {"type": "LineString", "coordinates": [[round(X0 + x, 3), round(Y0 + y, 3)] for x, y in coords]}}


def spans(offset: float) -> list[tuple[tuple[int, int], tuple[int, int], tuple[float, float], tuple[float, float]]]:
    """Street spans between neighbouring intersections, shifted ``offset`` m to one side."""
    out = []
    for j in range(4):
        for i in range(3):
            ya, xa = LINES[j] + offset, LINES[i] + offset
            out.append(((i, j), (i + 1, j), (xa, ya), (LINES[i + 1] + offset, ya)))
            out.append(((j, i), (j, i + 1), (ya, xa), (ya, LINES[i + 1] + offset)))
    return out


def pressure_network(prefix: str, offset: float, rng: np.random.Generator, source_at: tuple[float, float],
                     source_junction: tuple[int, int], props) -> list[dict]:
    """Junctions at intersections, valves 8 m from each, pipes between; one source."""
    features = []
    junction = {}
    for i in range(4):
        for j in range(4):
            junction[(i, j)] = f"{prefix}-J{i}{j}"
            features.append(point(props("junction", junction[(i, j)]), LINES[i] + offset, LINES[j] + offset))
    pipes = valves = 0
    for a, b, pa, pb in spans(offset):
        direction = np.subtract(pb, pa) / np.linalg.norm(np.subtract(pb, pa))
        va, vb = tuple(np.add(pa, 8 * direction)), tuple(np.subtract(pb, 8 * direction))
        names = [f"{prefix}-V{valves + 1:03d}", f"{prefix}-V{valves + 2:03d}"]
        valves += 2
        features += [point(props("valve", names[0]), *va), point(props("valve", names[1]), *vb)]
        ring = (a[0] == b[0] and a[0] in (0, 3)) or (a[1] == b[1] and a[1] in (0, 3))
        chain = [(junction[a], pa), (names[0], va), (names[1], vb), (junction[b], pb)]
        for (s, ps), (e, pe) in zip(chain[:-1], chain[1:]):
            pipes += 1
            features.append(line(props("pipe", f"{prefix}-P{pipes:03d}", s, e, ring, rng), [ps, pe]))
    source = f"{prefix}-S1"
    features.append(point(props("source", source), *source_at))
    jx = (LINES[source_junction[0]] + offset, LINES[source_junction[1]] + offset)
    features.append(line(props("pipe", f"{prefix}-P000", source, junction[source_junction], True, rng), [source_at, jx]))
    return features


def water(rng: np.random.Generator) -> list[dict]:
    def props(kind, ident, start=None, end=None, main=False, r=None):
        if kind != "pipe":
            return {"id": ident, "kind": kind, "elevation": GROUND, "address": "" if kind != "source" else "Demo waterworks main"}
        return {"id": ident, "from_node": start, "to_node": end, "diameter_mm": 300 if main else 200,
                "material": "ductile iron", "install_year": int(r.integers(1988, 2021)), "cover": 1.2,
                "pressure_class": "PN10", "owner": "City Water Co."}
    return pressure_network("W", 4.0, rng, (-10.0, LINES[1] + 4.0), (0, 1), props)


def gas(rng: np.random.Generator) -> list[dict]:
    def props(kind, ident, start=None, end=None, main=False, r=None):
        if kind != "pipe":
            names = {"junction": "节点", "valve": "阀门", "source": "调压站"}
            return {"BH": ident, "LX": names[kind], "DMGC": GROUND}
        return {"BH": ident, "QD": start, "ZD": end, "GJ": 150 if main else 100, "CZ": "PE",
                "MSRQ": f"{int(r.integers(1995, 2022))}-0{int(r.integers(1, 10))}-15", "MS": 0.9,
                "YLDJ": "中压A" if main else "低压", "QSDW": "城市燃气公司"}
    return pressure_network("G", -4.0, rng, (390.0, LINES[2] - 4.0), (3, 2), props)


def drainage() -> list[dict]:
    """Manholes every 60 m at the street centre; inverts fall towards the south-east outfall."""
    def depth(x: float, y: float) -> float:
        return 2.0 + 2.0 * ((x - LINES[0]) + (LINES[3] - y)) / 720.0

    features, manholes, n = [], {}, 0

    def manhole(x: float, y: float) -> str:
        key = (round(x, 3), round(y, 3))
        if key not in manholes:
            manholes[key] = f"D-M{len(manholes) + 1:02d}"
        return manholes[key]

    conduits = []
    for _, _, pa, pb in spans(0.0):
        mid = ((pa[0] + pb[0]) / 2, (pa[1] + pb[1]) / 2)
        for s, e in ((pa, mid), (mid, pb)):
            if depth(*s) > depth(*e):  # flow from shallow to deep
                s, e = e, s
            conduits.append((s, e))
    outfall = (LINES[3] + 20.0, LINES[0])
    conduits.append(((LINES[3], LINES[0]), outfall))
    for s, e in conduits:
        n += 1
        progress = (depth(*e) - 2.0) / 2.0
        inv_s, inv_e = GROUND - depth(*s), GROUND - (depth(*e) if e != outfall else 4.3)
        features.append(line({"id": f"D-P{n:03d}", "from_node": manhole(*s), "to_node": manhole(*e) if e != outfall else "D-OUT",
                              "diameter": round(0.4 + 0.1 * round(4 * progress), 1), "material": "concrete",
                              "install_year": 1995 + n % 20, "invert_start": round(inv_s, 3), "invert_end": round(inv_e, 3)},
                             [s, e]))
    for (x, y), ident in manholes.items():
        features.append(point({"id": ident, "kind": "manhole", "elevation": GROUND,
                               "invert": round(GROUND - depth(x, y), 3)}, x, y))
    features.append(point({"id": "D-OUT", "kind": "outfall", "elevation": GROUND, "invert": GROUND - 4.3}, *outfall))
    return features


def power() -> list[dict]:
    """A cable duct along one street, 0.5 m beside the gas main (too close: 0.5 m required)."""
    y = LINES[1] - 4.5
    xs = [LINES[0] - 4.5, LINES[1] - 4.5, LINES[2] - 4.5]
    ids = ["E-N1", "E-N2", "E-N3"]
    features = [point({"id": i, "kind": "junction", "elevation": GROUND}, x, y) for i, x in zip(ids, xs)]
    for k in range(2):
        features.append(line({"id": f"E-C{k + 1}", "from_node": ids[k], "to_node": ids[k + 1], "diameter": 0.15,
                              "material": "PVC duct", "install_year": 2015, "depth": 0.7, "owner": "State Grid"},
                             [(xs[k], y), (xs[k + 1], y)]))
    return features


def write(name: str, features: list[dict]) -> None:
    path = HERE / f"pipes_{name}.geojson"
    document = {"type": "FeatureCollection", "name": name, "crs": CRS, "features": features}
    path.write_text(json.dumps(document, ensure_ascii=False, indent=None, separators=(",", ":")) + "\n", encoding="utf-8")
    print(f"wrote {path.name}: {len(features)} features")


def main() -> None:
    write("water", water(np.random.default_rng(11)))
    write("gas", gas(np.random.default_rng(12)))
    write("drainage", drainage())
    write("power", power())


if __name__ == "__main__":
    main()
