"""A scene's build against its number of sources (issue #18): it must grow linearly.

Each source is 500 assets in a small mesh, with its own free attribute columns (as real sources
have).  For N sources it times ``Twin.add_source`` over all of them, and, as the raw baseline in
the same run, numpy concatenating the same columns once; a flat ``ours / raw`` ratio as N grows
means a linear build.  It also times the old way (the table re-stacked after every part), whose
ratio grows with N.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyvista as pv
from common import best_time, report

from twin.assets import AssetTable
from twin.layer import LayerPart
from twin.scene import Twin
from twin.source import LoadedSource

ASSETS = 500
SIZES = (100, 400, 1600)


def sources(n: int) -> list[LoadedSource]:
    rng = np.random.default_rng(n)
    made = []
    for i in range(n):
        points = 385_000.0 + rng.uniform(0, 1000, (ASSETS, 3))
        cloud = pv.PolyData(points)
        assets = AssetTable.build(
            [f"s{i}-{k}" for k in range(ASSETS)], kind="Thing", attrs={f"attr_{i % 50}": rng.uniform(size=ASSETS)}
        )
        part = LayerPart(name="p", dataset=cloud, assets=assets, asset_index=np.arange(ASSETS))
        made.append(LoadedSource(path=Path(f"s{i}.x"), kind="test", parts=[part]))
    return made


def ours(made: list[LoadedSource]) -> int:
    scene = Twin()
    for source in made:
        scene.add_source(source)
    return len(scene.assets)


def old_way(made: list[LoadedSource]) -> int:
    table = AssetTable.empty()
    for source in made:
        table = AssetTable.concat([table, source.parts[0].assets])
    return len(table)


def raw(made: list[LoadedSource]) -> int:
    tables = [source.parts[0].assets for source in made]
    columns = {name for t in tables for name in t.columns}
    stacked = [np.concatenate([t[c] for t in tables if c in t]) for c in columns]
    return len(stacked[0])


def timed(fn, n: int) -> tuple[float, int]:
    """Time ``fn`` on freshly made sources (the twin takes them over), the making not counted."""
    made = sources(n)
    return best_time(lambda: fn(made), repeat=1)


if __name__ == "__main__":
    for n in SIZES:
        raw_s, _ = timed(raw, n)
        ours_s, count = timed(ours, n)
        report(f"scene build, {n:>5} sources ({count:,} assets), vs numpy stacking once", ours_s, raw_s)
        print(f"  {ours_s / n * 1000:.2f} ms per source (flat as N grows: a linear build)")
        if n <= 400:  # the old way takes minutes past this
            old_s, _ = timed(old_way, n)
            report(f"old per-part stacking, {n:>5} sources, vs numpy stacking once", old_s, raw_s)
