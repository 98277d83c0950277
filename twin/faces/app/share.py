"""Share links: the view (camera, visible layers, selection, clip, underground) in a URL fragment.

The fragment is read by the browser at start-up and sent to the server, so a link restores the
view for whoever opens it without touching anyone else's.  Parameters (all optional):

``cam``  ``px,py,pz,fx,fy,fz,ux,uy,uz`` -- camera position, focal point, view-up, world coordinates
``layers``  visible layer names joined by ``|``
``sel``  the selected asset id
``clip``  ``axis,at,flip`` -- axis x|y|z, position 0..1 across the scene, flip 0|1
``ug``  underground mode ``off|translucent|hidden``; ``ex`` depth exaggeration
``r``  rendering ``server|client``
"""

from __future__ import annotations

from urllib.parse import parse_qs, urlencode

from twin.errors import InputError

UNDERGROUND = ("off", "translucent", "hidden")


def make_fragment(config: dict, camera: dict | None, selection: str | None, rendering: str) -> str:
    params: dict[str, str] = {}
    if camera:
        values = [*camera["position"], *camera["focal_point"], *camera["view_up"]]
        params["cam"] = ",".join(f"{v:.3f}" for v in values)
    params["layers"] = "|".join(config.get("visible", []))
    if selection:
        params["sel"] = selection
    clip = config.get("clip", {})
    if clip.get("on"):
        params["clip"] = f"{clip.get('axis', 'z')},{float(clip.get('at', 0.5)):.4f},{int(bool(clip.get('flip')))}"
    if config.get("underground", "off") != "off":
        params["ug"] = config["underground"]
    if float(config.get("exaggeration", 1) or 1) != 1:
        params["ex"] = f"{float(config['exaggeration']):g}"
    params["r"] = rendering
    return urlencode(params, safe="|,/")


def parse_fragment(fragment: str, layer_names: list[str], base: dict) -> dict:
    """The settings a fragment asks for, on top of ``base``; unknown layers are ignored.

    Returns ``{"config", "camera", "selection", "rendering"}``; a malformed value is an
    :class:`InputError` naming the parameter.
    """
    query = parse_qs(fragment.lstrip("#"), keep_blank_values=True)

    def get(key: str) -> str:
        return query[key][0] if key in query else ""

    config = {**base, "clip": dict(base.get("clip", {}))}
    out: dict = {"config": config, "camera": None, "selection": get("sel"), "rendering": None}
    try:
        if get("cam"):
            v = [float(x) for x in get("cam").split(",")]
            if len(v) != 9:
                raise ValueError("cam needs 9 numbers")
            out["camera"] = {"position": v[0:3], "focal_point": v[3:6], "view_up": v[6:9]}
        if "layers" in query:
            config["visible"] = [n for n in get("layers").split("|") if n in layer_names]
        if get("clip"):
            axis, at, flip = get("clip").split(",")
            if axis not in ("x", "y", "z"):
                raise ValueError(f"clip axis {axis!r}")
            config["clip"] = {"on": True, "axis": axis, "at": min(max(float(at), 0.0), 1.0), "flip": flip == "1"}
        if get("ug"):
            if get("ug") not in UNDERGROUND:
                raise ValueError(f"ug {get('ug')!r}")
            config["underground"] = get("ug")
        if get("ex"):
            config["exaggeration"] = min(max(float(get("ex")), 1.0), 20.0)
        if get("r") in ("server", "client"):
            out["rendering"] = get("r")
    except ValueError as exc:
        raise InputError(None, f"the share link is malformed: {exc}") from None
    return out
