"""Combine the results of the worker processes into one set of arrays."""

from __future__ import annotations

import json
from typing import Any

import numpy as np

#: per unique shape (rows follow ``g_vstart``/``g_fstart``) and per element
SHAPES = ("g_verts", "g_faces", "g_rgba", "g_styled")
ELEMENTS = ("e_step", "e_geom", "e_matrix")


def merge(results: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """The first result's rows and metadata with every result's shapes, their indices shifted.

    Elements come out in step-id order, each once, so the model is the same however many
    workers met it and in whatever order they claimed their chunks.
    """
    out = {name: value for name, value in results[0].items() if not name.startswith(("g_", "e_"))}
    out.update({name: np.concatenate([r[name] for r in results]) for name in SHAPES})
    vert_base = np.cumsum([0] + [len(r["g_verts"]) for r in results])
    face_base = np.cumsum([0] + [len(r["g_faces"]) for r in results])
    geom_base = np.cumsum([0] + [len(r["g_vstart"]) - 1 for r in results])
    out["g_vstart"] = np.concatenate([[0]] + [r["g_vstart"][1:] + b for r, b in zip(results, vert_base)])
    out["g_fstart"] = np.concatenate([[0]] + [r["g_fstart"][1:] + b for r, b in zip(results, face_base)])
    steps = np.concatenate([r["e_step"] for r in results])
    geoms = np.concatenate([r["e_geom"] + b for r, b in zip(results, geom_base)])
    matrices = np.concatenate([r["e_matrix"] for r in results])
    _, first = np.unique(steps, return_index=True)
    out.update(e_step=steps[first], e_geom=geoms[first], e_matrix=matrices[first])
    out["meta"] = np.array(json.dumps(_meta([json.loads(str(r["meta"])) for r in results])))
    return out


def _meta(metas: list[dict[str, Any]]) -> dict[str, Any]:
    """The first worker's metadata with the kernel's log, peak memory and times of them all (the
    longest, and the processor time of all of them together)."""
    meta = dict(metas[0])
    meta["log"] = {k: v for m in metas for k, v in m["log"].items()}
    meta["peak_mb"] = max(m["peak_mb"] for m in metas)
    meta["seconds"] = {
        "meta": meta["seconds"]["meta"],
        "geometry": max(m["seconds"]["geometry"] for m in metas),
        "parse": max(m["seconds"]["parse"] for m in metas),
        "cpu": round(sum(m["seconds"]["cpu"] for m in metas), 3),
    }
    return meta
