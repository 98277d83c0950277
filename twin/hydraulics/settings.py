"""What a scene may set for its hydraulic what-ifs, with the defaults a Chinese utility uses.

0.14 MPa is the usual minimum service pressure at the customer's connection (GB 50013 and
GB 50282 practice for multi-storey supply); a pipe whose velocity doubles after a closure, or
whose flow reverses, stirs up deposits (turbidity complaints).  A scene sets these in its
manifest's ``[hydraulics]`` table (:meth:`HydraulicSettings.from_table`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

from twin.errors import InputError

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
