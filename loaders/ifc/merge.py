"""Combine the results of the worker processes into one set of arrays."""

from __future__ import annotations

import json

import numpy as np

GEOMETRY = ("g_verts", "g_faces", "g_rgba", "g_styled", "e_step", "e_matrix")


def merge(meaning: dict[str, np.ndarray], shards: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """The meta job's rows and metadata plus the geometry shards, concatenated with their indices shifted.

    With no shards, ``meaning`` came from a job that did everything and is returned as it is.
    """
    if not shards:
        return meaning
    out = {name: value for name, value in meaning.items() if name != "meta"}
    meta = json.loads(str(meaning["meta"]))
    shard_metas = [json.loads(str(shard["meta"])) for shard in shards]
    vstart, fstart, geoms = [np.zeros(1, np.int64)], [np.zeros(1, np.int64)], []
    vert_base = face_base = geom_base = 0
    for shard in shards:
        geoms.append(shard["e_geom"] + geom_base)
        vstart.append(shard["g_vstart"][1:] + vert_base)
        fstart.append(shard["g_fstart"][1:] + face_base)
        vert_base += len(shard["g_verts"])
        face_base += len(shard["g_faces"])
        geom_base += len(shard["g_vstart"]) - 1
    out.update({name: np.concatenate([shard[name] for shard in shards]) for name in GEOMETRY})
    out.update(e_geom=np.concatenate(geoms), g_vstart=np.concatenate(vstart), g_fstart=np.concatenate(fstart))
    meta["log"] = {k: v for m in shard_metas for k, v in m["log"].items()}
    meta["peak_mb"] = max([meta["peak_mb"]] + [m["peak_mb"] for m in shard_metas])
    meta["seconds"] = {
        "meta": meta["seconds"]["meta"],
        "geometry": max(m["seconds"]["geometry"] for m in shard_metas),
        "parse": max([meta["seconds"]["parse"]] + [m["seconds"]["parse"] for m in shard_metas]),
    }
    out["meta"] = np.array(json.dumps(meta))
    return out
