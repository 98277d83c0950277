"""Closed solids wound outward (twin.tiling.orient) and single-sided layers culled by the views."""

from __future__ import annotations

import numpy as np
import pyvista as pv

from twin.layer import Layer, LayerStyle, single_sided
from twin.streaming.content import TileContent
from twin.streaming.merge import merge
from twin.tiling.lod import box_triangles
from twin.tiling.orient import orient_solids

BOX = box_triangles(np.array([[0.0, 4.0, 0.0, 3.0, 0.0, 10.0], [385000.0, 385002.0, 3548000.0, 3548005.0, 0.0, 8.0]]))
CORNERS = np.arange(len(BOX)).reshape(-1, 3)
OWNERS = np.repeat([0, 1], 12)


def test_closed_boxes_stay_outward_and_an_inward_one_is_turned():
    oriented, closed = orient_solids(BOX, CORNERS, OWNERS)
    assert closed.all() and (oriented == CORNERS).all()  # box_triangles winds them outward already
    inward = CORNERS.copy()
    inward[12:] = inward[12:, ::-1]  # the second box wound inward, as some CityJSON files are
    oriented, closed = orient_solids(BOX, inward, OWNERS)
    assert closed.all() and (oriented[:12] == CORNERS[:12]).all()
    assert {tuple(sorted(t)) for t in oriented[12:]} == {tuple(sorted(t)) for t in CORNERS[12:]}
    assert all(tuple(t) in {tuple(np.roll(c, k)) for c in CORNERS[12:] for k in range(3)} for t in oriented[12:])


def test_open_or_inconsistent_shells_are_not_closed():
    roofless = np.ones(24, dtype=bool)
    roofless[[2, 3]] = False  # two triangles of the first box gone: a hole
    _, closed = orient_solids(BOX, CORNERS[roofless], OWNERS[roofless])
    assert not closed[OWNERS[roofless] == 0].any() and closed[OWNERS[roofless] == 1].all()
    mixed = CORNERS.copy()
    mixed[0] = mixed[0, ::-1]  # one face wound against its neighbours: culling would punch a hole
    _, closed = orient_solids(BOX, mixed, OWNERS)
    assert not closed[:12].any() and closed[12:].all()


def test_welding_matches_corners_repeated_per_surface():
    """Loaders may repeat a corner per surface: edges are matched on positions, not on ids."""
    repeated = np.arange(36).reshape(-1, 3)  # box_triangles gives each triangle its own three points
    _, closed = orient_solids(BOX[:36], repeated, np.zeros(12, dtype=np.int64))
    assert closed.all()


def _content(single: bool) -> TileContent:
    points = BOX[:36].astype(np.float32)
    return TileContent(points, CORNERS[:12], np.zeros(36, dtype=np.int64), False, single_sided=single)


def test_a_layer_is_single_sided_only_when_all_its_contents_are():
    assert single_sided(merge([_content(True), _content(True)], points=False))
    assert not single_sided(merge([_content(True), _content(False)], points=False))
    assert not single_sided(pv.PolyData())


def test_the_view_culls_back_faces_of_a_single_sided_layer_only():
    from twin.faces.rendering import build_view
    from twin.scene import Twin

    twin = Twin("t")
    for name, single in (("boxes", True), ("open", False)):
        mesh = merge([_content(single)], points=False)
        twin.layers.append(
            Layer(name, "city", "mesh", mesh, "cell", LayerStyle(), source="", asset_start=0, asset_stop=1)
        )
    view = build_view(twin, off_screen=True, size=(64, 48))
    try:
        assert view.actors["boxes"].GetProperty().GetBackfaceCulling()
        assert not view.actors["open"].GetProperty().GetBackfaceCulling()
    finally:
        view.plotter.close()
