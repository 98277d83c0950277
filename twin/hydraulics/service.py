"""Which junction serves each building, and which buildings are critical facilities.

A building names its service node in an attribute (``service_node`` unless the scene says
otherwise) or in the scene's ``[hydraulics.service_nodes]`` table (building id -> node id) when
the utility's customer records link them; otherwise it is taken to be served
by the nearest junction of the network within a reach, and flagged as assumed: the usual
stand-in where the data link no customer to the network.  Critical facilities (hospitals,
schools, care homes) are read from the building's use attributes, in English or Chinese.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from scipy.spatial import cKDTree

if TYPE_CHECKING:
    from twin.networks import NetworkRef
    from twin.scene import Twin

STR = np.dtypes.StringDType()
#: building attributes that say what a building is used for
USE_ATTRIBUTES = ("critical", "facility", "use", "usage", "function", "occupancy", "type", "class")
#: what a use attribute says of a critical facility, and the word reported for it
CRITICAL = {
    "hospital": ("hospital", "clinic", "medical", "医院", "卫生院", "诊所"),
    "school": ("school", "kindergarten", "university", "college", "学校", "幼儿园", "大学"),
    "care home": ("care home", "nursing", "elderly", "养老", "敬老院", "福利院"),
}


@dataclass(frozen=True)
class ServiceLinks:
    """Buildings (twin asset rows), the network node row serving each, and how it is known."""

    building: np.ndarray  #: asset rows of the linked buildings
    node: np.ndarray  #: node row (in the network) of each
    assumed: np.ndarray  #: True where the link is the nearest junction, not a stated one
    distance_m: np.ndarray  #: plan distance to the node (NaN where stated)
    critical: np.ndarray  #: "hospital", "school", "care home" or ""


def buildings_of(twin: Twin) -> np.ndarray:
    """Asset rows of the twin's buildings that have a place."""
    kinds = np.strings.lower(twin.assets["kind"].astype(STR, copy=False))
    rows = np.flatnonzero(np.strings.find(kinds, "building") >= 0)
    placed: np.ndarray = rows[np.isfinite(twin.assets.bounds[rows]).all(axis=1)]
    return placed


def critical_kind(twin: Twin, rows: np.ndarray) -> np.ndarray:
    """The critical-facility word of each building, from its use attributes ("" if none)."""
    text: np.ndarray = np.full(len(rows), "", dtype=STR)
    for name in USE_ATTRIBUTES:
        if name in twin.assets.columns and twin.assets[name].dtype.kind in "TUO":
            text = np.strings.add(np.strings.add(text, " "), twin.assets[name][rows].astype(STR, copy=False))
    text = np.strings.lower(text)
    out = np.full(len(rows), "", dtype=STR)
    for word, needles in reversed(CRITICAL.items()):  # the first listed wins
        hit = np.zeros(len(rows), dtype=bool)
        for needle in needles:
            hit |= np.strings.find(text, needle) >= 0
        out[hit] = word
    return out


def node_positions(twin: Twin, ref: NetworkRef) -> np.ndarray:
    """World (x, y) of every node of a network, from its node layer's asset rows."""
    part = ref.graph.graph.get("node_part")
    if part is None:
        return np.full((len(ref.graph.node_ids), 2), np.nan)
    layer = twin.layer(twin.sources[ref.source].layers[part])
    centres: np.ndarray = twin.assets.centres[layer.asset_start : layer.asset_start + len(ref.graph.node_ids), :2]
    return centres


def link_buildings(
    twin: Twin,
    ref: NetworkRef,
    reach_m: float,
    attribute: str = "service_node",
    mapping: Mapping[str, str] | None = None,
) -> ServiceLinks:
    """Each building's service node in one network: stated by ``mapping`` (building id -> node
    id) or ``attribute``, else the nearest junction within ``reach_m`` (assumed); buildings with
    none are left out."""
    rows = buildings_of(twin)
    graph = ref.graph
    names = [""] * len(rows)
    if attribute in twin.assets.columns:
        names = twin.assets[attribute][rows].astype(STR, copy=False).tolist()
    if mapping:
        ids = twin.assets["id"][rows].astype(STR, copy=False).tolist()
        names = [mapping.get(i, n) for i, n in zip(ids, names)]
    stated = np.array([graph.node_row(n) if n and n in graph else -1 for n in names], dtype=np.int64)
    junction = np.flatnonzero(graph.node_columns["kind"] == "junction")
    xy = node_positions(twin, ref)[junction]
    usable = np.isfinite(xy).all(axis=1)
    junction, xy = junction[usable], xy[usable]
    nearest = np.full(len(rows), -1, dtype=np.int64)
    distance = np.full(len(rows), np.nan)
    todo = np.flatnonzero(stated < 0)
    if len(junction) and len(todo):
        d, i = cKDTree(xy).query(twin.assets.centres[rows[todo], :2], distance_upper_bound=reach_m)
        found = np.isfinite(d)
        nearest[todo[found]] = junction[i[found]]
        distance[todo[found]] = d[found]
    node = np.where(stated >= 0, stated, nearest)
    keep = node >= 0
    return ServiceLinks(rows[keep], node[keep], (stated < 0)[keep], distance[keep], critical_kind(twin, rows[keep]))
