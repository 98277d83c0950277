"""Hydraulic consequences of a closure: what isolating a burst does to the water supply.

:func:`consequences` (a twin, a network, a segment) isolates the segment
(:func:`twin.networks.isolate`), solves the network's EPANET model with the isolating valves
closed in a worker process (:mod:`twin.hydraulics.engine`) and reports junctions below service
pressure, demand not served, pipes whose flow speeds up or reverses, and the buildings affected
(:mod:`twin.hydraulics.service`), critical facilities first.  Settings: :class:`HydraulicSettings`.
"""

from twin.hydraulics.consequences import closure_consequences, consequences, hydraulic_model
from twin.hydraulics.engine import ENGINE, Engine, Model
from twin.hydraulics.settings import HydraulicSettings

__all__ = ["ENGINE", "Engine", "HydraulicSettings", "Model", "closure_consequences", "consequences", "hydraulic_model"]
