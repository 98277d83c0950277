"""The CRS a LAS file declares (WKT or GeoTIFF-key VLRs), checked against its coordinates.

Metadata lies: laspy's own ``simple1_4.las`` declares EPSG:4326 over coordinates from 1 to
226.  A geographic CRS is only believed when the coordinates can be degrees of one survey.
"""

from __future__ import annotations

import laspy

#: widest plausible extent of one survey in a geographic CRS, in degrees (about 500 km)
MAX_GEOGRAPHIC_EXTENT = 5.0


def declared_crs(header: laspy.LasHeader) -> tuple[str | None, str | None, list[str]]:
    """``(crs for the twin, its name, warnings)`` from the header's CRS VLRs."""
    try:
        crs = header.parse_crs()
    except Exception as exc:  # a corrupt WKT or GeoKey directory: the points are still good
        return (
            None,
            None,
            [f"the CRS VLR cannot be parsed ({str(exc).strip()[:120] or type(exc).__name__}): treated as no CRS"],
        )
    if crs is None:
        return None, None, []
    if crs.is_geographic and not _degrees(header):
        return (
            None,
            crs.name,
            [
                f"the file declares {crs.name} (geographic, degrees) but its coordinates "
                f"({_extent(header)}) cannot be degrees: treated as no CRS"
            ],
        )
    authority = crs.to_authority(min_confidence=70)
    return (f"{authority[0]}:{authority[1]}" if authority else crs.to_wkt()), crs.name, []


def _degrees(header: laspy.LasHeader) -> bool:
    (x0, y0, _), (x1, y1, _) = header.mins, header.maxs
    in_range = -180 <= x0 <= x1 <= 360 and -90 <= y0 <= y1 <= 90
    return bool(in_range and (x1 - x0) <= MAX_GEOGRAPHIC_EXTENT and (y1 - y0) <= MAX_GEOGRAPHIC_EXTENT)


def _extent(header: laspy.LasHeader) -> str:
    (x0, y0, _), (x1, y1, _) = header.mins, header.maxs
    return f"x {x0:g}..{x1:g}, y {y0:g}..{y1:g}"
