"""Which alerts belong together: one burst or one gas leak is one incident, whatever the number of
sensors that saw it.

Two alerts are *linked* when they opened within ``window_s`` of each other and

* they are on the same asset, or
* they are of the same hazard (gas, water, flood, structure, ...) and either their assets lie
  within ``within_m`` of each other (the gap between their footprints), or one asset is in the
  other's isolation section or on its up- or downstream path (``related``) and within
  ``topology_m``;

an incident is a connected component of that relation (single linkage), so a leak that spreads
along a main in steps of a few seconds stays one incident.  The hazard keeps simultaneous
independent failures apart where the demo's networks share one street: a gas leak beside a
water-main burst is two incidents.

Everything here is numpy over alert and asset arrays: grouping 10,000 alerts takes a fraction
of a second (``bench/bench_incidents.py``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from scipy.spatial import cKDTree

#: The hazard a quantity measures, where the quantity alone says it.
HAZARD_OF_QUANTITY = {
    "gas": "gas",
    "water_level": "flood",
    "water_depth": "flood",
    "rainfall": "flood",
    "displacement": "structure",
    "strain": "structure",
    "vibration": "structure",
    "tilt": "structure",
    "crack": "structure",
    "temperature": "fire",
    "smoke": "fire",
}
#: The hazard of a network kind, for quantities any network has (pressure, flow).
HAZARD_OF_NETWORK = {
    "gas": "gas",
    "water": "water",
    "drainage": "flood",
    "sewer": "flood",
    "storm": "flood",
    "heat": "heat",
    "power": "power",
    "telecom": "telecom",
}

#: ``asset row -> related asset rows`` (isolation section, up- and downstream path)
Related = Callable[[int], np.ndarray]


@dataclass(frozen=True)
class Grouping:
    """How close in space and time alerts must be to be one incident."""

    within_m: float = 100.0  #: footprint gap between two assets of one hazard
    window_s: float = 1800.0  #: opening times of two linked alerts at most this far apart
    topology_m: float = 2000.0  #: network relations count up to this distance (centres)


def hazard_of(quantity: str, network_kind: str) -> str:
    """The hazard an alert on a sensor quantity of an asset of a network kind belongs to."""
    return HAZARD_OF_QUANTITY.get(quantity) or HAZARD_OF_NETWORK.get(network_kind) or quantity or "other"


def group(
    rows: np.ndarray,
    hazard: np.ndarray,
    opened: np.ndarray,
    bounds: np.ndarray,
    policy: Grouping,
    related: Related | None = None,
) -> np.ndarray:
    """Incident label per alert (0..k-1, numbered by first appearance).

    Parameters
    ----------
    rows
        The asset row of each alert (all valid rows of ``bounds``).
    hazard
        An integer hazard code per alert (equal codes: the same hazard).
    opened
        Epoch seconds each alert opened.
    bounds
        The asset table's bounds, ``(n, 6)`` world ``[xmin, xmax, ymin, ymax, zmin, zmax]``.
    related
        Network relations of an asset row (None: space and time only).
    """
    n = len(rows)
    if n == 0:
        return np.zeros(0, np.int64)
    order = np.lexsort((opened, rows))
    same = (rows[order][1:] == rows[order][:-1]) & (np.diff(opened[order]) <= policy.window_s)
    a, b = [order[:-1][same]], [order[1:][same]]
    slots, slot_of = np.unique(np.stack([rows, hazard]), axis=1, return_inverse=True)
    pairs = _slot_pairs(slots[0], slots[1], bounds, policy, related)
    if len(pairs):
        x, y = _time_links(pairs, slot_of.ravel(), opened, policy.window_s)
        a.append(x)
        b.append(y)
    i, j = np.concatenate(a), np.concatenate(b)
    graph = coo_matrix((np.ones(len(i), np.int8), (i, j)), shape=(n, n))
    _, labels = connected_components(graph, directed=False)
    _, first, numbered = np.unique(labels, return_index=True, return_inverse=True)
    return np.argsort(np.argsort(first))[numbered]


def _slot_pairs(
    rows: np.ndarray, hazard: np.ndarray, bounds: np.ndarray, policy: Grouping, related: Related | None
) -> np.ndarray:
    """Ordered pairs ``(k, 2)`` of distinct (asset, hazard) slots of one hazard that are near or
    related in the network.

    An asset without geometry (NaN bounds: a sensor's asset known only by id) has no place: it
    links by asset and by no distance (its alerts still join each other, never a neighbour's)."""
    box = bounds[rows][:, :4]
    centre = np.column_stack([(box[:, 0] + box[:, 1]) / 2, (box[:, 2] + box[:, 3]) / 2])
    half = np.column_stack([(box[:, 1] - box[:, 0]) / 2, (box[:, 3] - box[:, 2]) / 2])
    placed = np.isfinite(box).all(axis=1)
    found = [np.zeros((0, 2), np.int64)]
    for code in np.unique(hazard).tolist():  # only slots of one hazard link: one tree each
        mine = np.flatnonzero((hazard == code) & placed)
        if len(mine) < 2:
            continue
        reach = policy.within_m + 2 * float(half[mine].max())
        near = mine[cKDTree(centre[mine]).query_pairs(reach, p=np.inf, output_type="ndarray")].reshape(-1, 2)
        gap = np.maximum(np.abs(centre[near[:, 0]] - centre[near[:, 1]]) - half[near[:, 0]] - half[near[:, 1]], 0.0)
        near = near[np.hypot(gap[:, 0], gap[:, 1]) <= policy.within_m]
        found += [near, near[:, ::-1]]
    if related is not None:
        pairs = _related_pairs(rows, centre, policy.topology_m, related)
        found.append(pairs[hazard[pairs[:, 0]] == hazard[pairs[:, 1]]])
    return np.concatenate(found)


def _related_pairs(rows: np.ndarray, centre: np.ndarray, reach_m: float, related: Related) -> np.ndarray:
    """Slot pairs whose assets are related in the network and within ``reach_m``."""
    out = []
    for k, row in enumerate(rows.tolist()):
        hits = np.flatnonzero(np.isin(rows, related(row)))
        hits = hits[(hits != k) & (np.hypot(*(centre[hits] - centre[k]).T) <= reach_m)]
        out.append(np.column_stack([np.full(len(hits), k), hits]))
    pairs = np.concatenate(out) if out else np.zeros((0, 2), np.int64)
    return np.concatenate([pairs, pairs[:, ::-1]]).astype(np.int64)


def _time_links(pairs: np.ndarray, slot_of: np.ndarray, opened: np.ndarray, window_s: float) -> tuple[np.ndarray, ...]:
    """Alert links over slot ``pairs``: each alert of the first slot to the nearest alert of the
    second before and after it, when within the window.

    With the same-asset chain this is exact single linkage: any other alert of the second slot
    within the window is chained to one of those two through alerts no further apart.
    """
    span = float(opened.max() - opened.min()) + 4 * window_s + 1.0
    t = opened - opened.min()
    by_slot = np.lexsort((t, slot_of))
    key = slot_of[by_slot] * span + t[by_slot]  # sorted: slot, then time
    counts = np.bincount(slot_of, minlength=int(slot_of.max()) + 1)
    starts = np.concatenate([[0], np.cumsum(counts)])
    # every (pair, alert of its first slot)
    first = pairs[:, 0]
    reps = counts[first]
    pair_of = np.repeat(np.arange(len(pairs)), reps)
    offset = np.arange(len(pair_of)) - np.repeat(np.cumsum(reps) - reps, reps)
    alert = by_slot[starts[first][pair_of] + offset]
    other = pairs[pair_of, 1]
    lo, hi = starts[other], starts[other + 1]
    at = np.searchsorted(key, other * span + t[alert])
    links_a, links_b = [], []
    for cand in (at - 1, at):  # the nearest before and the nearest at or after
        ok = (cand >= lo) & (cand < hi)
        c = np.clip(cand, 0, len(key) - 1)
        ok &= np.abs(t[by_slot[c]] - t[alert]) <= window_s
        links_a.append(alert[ok])
        links_b.append(by_slot[c][ok])
    return np.concatenate(links_a), np.concatenate(links_b)
