"""Combine the results of several worker processes into one set of arrays."""

from __future__ import annotations

import json

import numpy as np


def merge(results: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """Concatenate geometry shards; shard 0 carries the element rows and the metadata."""
    if len(results) == 1:
        return results[0]
    out = dict(results[0])
    vert_base = face_base = geom_base = 0
    parts: dict[str, list[np.ndarray]] = {k: [] for k in ("g_verts", "g_faces", "g_rgba", "g_styled",
                                                           "e_step", "e_matrix", "e_geom", "g_vstart", "g_fstart")}
    logs: dict[str, str] = {}
    peak = 0.0
    for i, result in enumerate(results):
        for name in ("g_verts", "g_faces", "g_rgba", "g_styled", "e_step", "e_matrix"):
            parts[name].append(result[name])
        parts["e_geom"].append(result["e_geom"] + geom_base)
        parts["g_vstart"].append(result["g_vstart"][(1 if i else 0):] + vert_base)
        parts["g_fstart"].append(result["g_fstart"][(1 if i else 0):] + face_base)
        vert_base += len(result["g_verts"])
        face_base += len(result["g_faces"])
        geom_base += len(result["g_vstart"]) - 1
        shard_meta = json.loads(str(result["meta"]))
        logs.update(shard_meta["log"])
        peak = max(peak, shard_meta.get("peak_mb", 0.0))
    out.update({name: np.concatenate(chunks) for name, chunks in parts.items()})
    meta = json.loads(str(results[0]["meta"]))
    meta["log"], meta["peak_mb"] = logs, peak
    out["meta"] = np.array(json.dumps(meta))
    return out
