"""Default colours per IFC class, for faces without a surface style, and the glazing rule.

Sober, light building tones so that the four risk colours stand out when assets are graded.
"""

from __future__ import annotations

import numpy as np

CLASS_COLOURS: dict[str, str] = {
    "IfcWall": "#d9d4c7",
    "IfcCurtainWall": "#a9bcc8",
    "IfcSlab": "#b8b4ac",
    "IfcRoof": "#8c5a4a",
    "IfcCovering": "#cfc8b8",
    "IfcDoor": "#9a7b5b",
    "IfcWindow": "#a8c8dc",
    "IfcPlate": "#a8c8dc",
    "IfcBeam": "#9ba2a8",
    "IfcColumn": "#9ba2a8",
    "IfcMember": "#a59a8a",
    "IfcFooting": "#8f8a80",
    "IfcPile": "#8f8a80",
    "IfcStair": "#bdb6a8",
    "IfcStairFlight": "#bdb6a8",
    "IfcRamp": "#bdb6a8",
    "IfcRampFlight": "#bdb6a8",
    "IfcRailing": "#7d8288",
    "IfcFurnishingElement": "#c9b99a",
    "IfcFurniture": "#c9b99a",
    "IfcSite": "#a7b59a",
    "IfcSpace": "#9ec5e8",
    "IfcBuildingElementProxy": "#c8c4bc",
    "IfcPipeSegment": "#5b8fb9",
    "IfcPipeFitting": "#5b8fb9",
    "IfcDuctSegment": "#9aa7b0",
    "IfcDuctFitting": "#9aa7b0",
    "IfcFlowSegment": "#6f9bbf",
    "IfcFlowFitting": "#6f9bbf",
    "IfcDistributionChamberElement": "#8a8478",
    "IfcCableCarrierSegment": "#8f7fa8",
    "IfcCableSegment": "#8f7fa8",
    "IfcPavement": "#6b6b6b",
    "IfcKerb": "#b5b0a5",
    "IfcCourse": "#7a7a7a",
    "IfcEarthworksFill": "#a08d6e",
    "IfcBridge": "#b0a08a",
    "IfcTunnel": "#8a8a8a",
    "IfcBearing": "#7d8288",
    "IfcTendon": "#7d8288",
}
DEFAULT_COLOUR = "#c8c4bc"
#: classes drawn translucent whatever their styles say
GLAZING_CLASSES = ("IfcWindow", "IfcWindowStandardCase")
#: a face whose alpha is below this counts as glass
GLASS_ALPHA = 230


def _rgb(hex_colour: str) -> tuple[int, int, int]:
    red, green, blue = (int(hex_colour[i : i + 2], 16) for i in (1, 3, 5))
    return red, green, blue


def base_class(name: str) -> str:
    """``IfcWallStandardCase`` -> ``IfcWall``: the class the palette knows."""
    for suffix in ("StandardCase", "ElementedCase", "Type"):
        if name.endswith(suffix) and name != suffix:
            name = name[: -len(suffix)]
    return name


def class_colours(classes: np.ndarray) -> np.ndarray:
    """RGB (uint8) for each entry of an array of class names; one dict lookup per distinct class."""
    unique, inverse = np.unique(np.asarray(classes, dtype=str), return_inverse=True)
    table = np.array(
        [_rgb(CLASS_COLOURS.get(base_class(c), DEFAULT_COLOUR)) for c in unique] or [(0, 0, 0)], dtype=np.uint8
    )
    return table[inverse.reshape(-1)] if len(unique) else np.empty((0, 3), np.uint8)


def is_glazing(classes: np.ndarray, glass_share: np.ndarray) -> np.ndarray:
    """Windows, and any element most of whose faces are styled as glass."""
    return np.isin(np.asarray(classes, dtype=str), GLAZING_CLASSES) | (glass_share > 0.5)
