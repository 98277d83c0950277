"""What a scene may set for its hydraulic what-ifs, with the defaults a Chinese utility uses.

0.14 MPa is the usual minimum service pressure at the customer's connection (GB 50013 and
GB 50282 practice for multi-storey supply); a pipe whose velocity doubles after a closure, or
whose flow reverses, stirs up deposits (turbidity complaints).  A scene sets these in its
manifest's ``[hydraulics]`` table (checked by :mod:`twin.manifest`), with what the data lack:
which node serves which building, the valves known not to close, the hydraulic model of a
network drawn from GIS, and the SWMM model and rain gauge of the flood nowcast
(:func:`scene_hydraulics`).
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

from twin.errors import InputError
from twin.manifest import read_manifest

if TYPE_CHECKING:
    from twin.scene import Twin

#: metres of water head per megapascal (ρ = 1000 kg/m³, g = 9.80665 m/s²)
M_PER_MPA = 1e6 / (1000.0 * 9.80665)


@dataclass(frozen=True)
class HydraulicSettings:
    """Thresholds and limits of one scene's hydraulic consequences."""

    service_pressure_mpa: float = 0.14  #: a junction below it is not served
    minimum_pressure_mpa: float = 0.0  #: below it a junction gets no water at all (PDD)
    velocity_factor: float = 2.0  #: a pipe whose velocity rises by more is reported
    noise_velocity_m_s: float = 0.05  #: slower flows are too small for a rise or reversal to matter
    reach_m: float = 60.0  #: a building without a stated service node takes the nearest junction this close
    service_node_attribute: str = "service_node"  #: the building attribute naming its service node
    at_s: int = 0  #: time of day of the snapshot, seconds after the model's start
    timeout_s: float = 120.0  #: longest a run may take before it is given up
    memory_mb: int = 4096  #: memory a run may use

    @property
    def service_m(self) -> float:
        return self.service_pressure_mpa * M_PER_MPA

    @property
    def minimum_m(self) -> float:
        return self.minimum_pressure_mpa * M_PER_MPA

    @classmethod
    def from_table(cls, table: Mapping[str, Any], path: Any = None) -> HydraulicSettings:
        """Settings from a manifest table; an unknown key or a value of the wrong type names itself."""
        known = {f.name: f for f in fields(cls)}
        values: dict[str, Any] = {}
        for key, value in table.items():
            if key not in known:
                raise InputError(path, f"unknown key {key!r}", where=f"hydraulics.{key}", hint=", ".join(known))
            default = getattr(cls, key)
            if isinstance(default, str) != isinstance(value, str) or isinstance(value, bool):
                raise InputError(path, f"must be a {type(default).__name__}", where=f"hydraulics.{key}")
            values[key] = type(default)(value)
            if not isinstance(value, str) and not values[key] >= 0:
                raise InputError(path, "must be a number of at least 0", where=f"hydraulics.{key}")
        return cls(**values)


@dataclass(frozen=True)
class Nowcast:
    """The flood nowcast's SWMM model and the gauge its rain forecast is bound to."""

    model: Path
    rain_gauge: str | None = None
    horizon_s: float = 7200.0
    step_s: int = 300
    every_s: float = 300.0  #: how often the live loop runs it (twin.hydraulics.live)


@dataclass(frozen=True)
class SceneHydraulics:
    """A scene's ``[hydraulics]`` table: the settings and what the data do not say."""

    settings: HydraulicSettings = field(default_factory=HydraulicSettings)
    service_nodes: Mapping[str, str] = field(default_factory=dict)  #: building id -> its service node
    inoperable: tuple[str, ...] = ()  #: valves known not to close
    models: Mapping[str, Path] = field(default_factory=dict)  #: network name -> its EPANET model
    nowcast: Nowcast | None = None

    @classmethod
    def from_manifest(cls, table: Mapping[str, Any]) -> SceneHydraulics:
        """From a manifest's checked ``[hydraulics]`` table (:attr:`twin.manifest.Manifest.hydraulics`)."""
        known = {f.name for f in fields(HydraulicSettings)}
        cast = table.get("nowcast")
        return cls(
            settings=HydraulicSettings.from_table({k: v for k, v in table.items() if k in known}),
            service_nodes=dict(table.get("service_nodes", {})),
            inoperable=tuple(table.get("inoperable_valves", ())),
            models=dict(table.get("models", {})),
            nowcast=None
            if cast is None
            else Nowcast(
                Path(cast["model"]),
                cast.get("rain_gauge"),
                float(cast.get("horizon_s", 7200.0)),
                int(cast.get("step_s", 300)),
                float(cast.get("every_s", 300.0)),
            ),
        )


_SCENES: dict[tuple[Path, int], SceneHydraulics] = {}
_SCENES_LOCK = threading.Lock()


def scene_hydraulics(twin: Twin) -> SceneHydraulics:
    """The ``[hydraulics]`` of the manifest the twin was loaded from (the defaults for a single
    file), read again only when the manifest changes."""
    path = twin.path
    if path is None or path.suffix.lower() != ".toml" or not path.is_file():
        return SceneHydraulics()
    key = (path, path.stat().st_mtime_ns)
    with _SCENES_LOCK:
        if key not in _SCENES:
            _SCENES.clear()
            _SCENES[key] = SceneHydraulics.from_manifest(read_manifest(path).hydraulics)
        return _SCENES[key]
