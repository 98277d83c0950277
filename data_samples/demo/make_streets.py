"""Write the demo district's street centre lines (streets.geojson, EPSG:4549), deterministic.

The same grid as ``make_demo.py``: four east-west streets and four north-south avenues, 20 m
wide, one block of 100 m apart; each line has a vertex at every crossing, so the lines join
there into one street network (what incident resources route over).
"""

import json
from pathlib import Path

X0, Y0, BLOCK, STREET, BLOCKS = 385_000.0, 3_548_000.0, 100.0, 20.0, 3
EXTENT = BLOCKS * BLOCK + (BLOCKS + 1) * STREET
CENTRES = [k * (BLOCK + STREET) + STREET / 2 for k in range(BLOCKS + 1)]


def line(axis: str, k: int) -> dict:
    """Street k along an axis: from end to end, through every crossing."""
    at = [0.0, *CENTRES, EXTENT]
    fixed = CENTRES[k]
    coords = [[X0 + a, Y0 + fixed] if axis == "x" else [X0 + fixed, Y0 + a] for a in at]
    name = f"Street {k + 1} East-West" if axis == "x" else f"Avenue {chr(65 + k)} North-South"
    return {
        "type": "Feature",
        "properties": {"id": f"road-{axis}{k + 1}", "name": name},
        "geometry": {"type": "LineString", "coordinates": coords},
    }


if __name__ == "__main__":
    features = [line(axis, k) for axis in ("x", "y") for k in range(BLOCKS + 1)]
    collection = {"type": "FeatureCollection", "name": "streets", "features": features}
    Path(__file__).with_name("streets.geojson").write_text(json.dumps(collection, indent=1) + "\n")
