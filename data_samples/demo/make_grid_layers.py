"""Write the demo district's three overlaid grid systems (deterministic), EPSG:4549.

Comprehensive management grids (one per block row and column pair: 3 x 3), emergency grids
(west and east halves) and safety-supervision grids (four quarters), each cell with its grid
workers (invented names; phone numbers in the 555 range are not real).
"""

import json
from pathlib import Path

X0, Y0, SIZE = 385_000.0, 3_548_000.0, 380.0
SHIFTS = ("day", "night")
SURNAMES = "Wang Li Zhang Liu Chen Yang Zhao Huang Zhou Wu Xu Sun".split()
LAYERS = {
    "comprehensive": ("综合网格", 3, 3),
    "emergency": ("应急网格", 2, 1),
    "supervision": ("安全监管网格", 2, 2),
}


def cells(layer: str, nx: int, ny: int, start: int) -> list[dict]:
    out = []
    for j in range(ny):
        for i in range(nx):
            k = j * nx + i
            x0, y0 = X0 + SIZE * i / nx, Y0 + SIZE * j / ny
            x1, y1 = X0 + SIZE * (i + 1) / nx, Y0 + SIZE * (j + 1) / ny
            workers = [
                {
                    "name": f"{SURNAMES[(start + k * 2 + s) % len(SURNAMES)]} {layer[:1].upper()}{k + 1}{'ab'[s]}",
                    "phone": f"555-{start + k:02d}{s}{s}",
                    "duty": shift,
                }
                for s, shift in enumerate(SHIFTS)
            ]
            ring = [[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]]
            out.append(
                {
                    "type": "Feature",
                    "properties": {
                        "id": f"{layer[:3].upper()}-{k + 1:02d}",
                        "name": f"{layer} grid {k + 1}",
                        "workers": workers,
                    },
                    "geometry": {"type": "Polygon", "coordinates": [ring]},
                }
            )
    return out


if __name__ == "__main__":
    here = Path(__file__).parent
    lines = ["# The demo's grid systems (README: grid systems); made by make_grid_layers.py", ""]
    for n, (layer, (name_zh, nx, ny)) in enumerate(LAYERS.items()):
        path = here / f"grids_{layer}.geojson"
        path.write_text(json.dumps({"type": "FeatureCollection", "features": cells(layer, nx, ny, n * 10)}) + "\n")
        lines += ["[[layer]]", f'name = "{layer}"', f'name_zh = "{name_zh}"', f'path = "{path.name}"', ""]
    (here / "grid_layers.toml").write_text("\n".join(lines))
