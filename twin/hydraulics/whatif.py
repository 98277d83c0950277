"""One what-if as the app, the API and the CLI ask it: isolate a segment, perhaps with valves
that will not close, perhaps with its hydraulic consequences.

Valves marked inoperable for one question are marked on the shared network only while it is
answered (under a lock) and restored after, so one caller's what-if never changes another's
answers; a valve reported seized for good is marked with :func:`twin.networks.set_valve_state`,
or listed in the scene's ``[hydraulics] inoperable_valves`` (added to every question).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from twin.hydraulics.consequences import consequences
from twin.hydraulics.drainage import is_gravity, plug
from twin.hydraulics.settings import HydraulicSettings, scene_hydraulics
from twin.networks import default_strategy, find_element, isolate, set_valve_state, valve_table

if TYPE_CHECKING:
    from twin.scene import Twin

_LOCK = threading.Lock()


def what_if(
    twin: Twin,
    segment_id: str,
    network: str | None = None,
    hydraulic: bool = True,
    strategy: str | None = None,
    inoperable: Sequence[str] = (),
    settings: HydraulicSettings | None = None,
) -> dict[str, Any]:
    """The isolation of ``segment_id`` (and, with ``hydraulic``, what it means for the supply)
    when the valves ``inoperable`` will not close; ``inoperable`` lists them back.  A gravity
    segment is isolated by plugs (:func:`twin.hydraulics.drainage.plug`)."""
    ref, _ = find_element(twin, segment_id, network, prefer="segment")
    graph = ref.graph
    if is_gravity(graph):
        return plug(graph, segment_id)
    strategy = strategy or default_strategy(graph)
    with _LOCK:
        closing = set(valve_table(graph, strategy).ids.tolist())  # the valves that can close now
        # the scene's list names the valves of all its networks: this network's count here
        inoperable = [*inoperable, *(v for v in scene_hydraulics(twin).inoperable if v in closing)]
        added = [v for v in dict.fromkeys(inoperable) if v in closing]
        try:
            for valve in inoperable:  # one already inoperable stays so; an unknown one is an error
                set_valve_state(graph, valve, operable=False, strategy=strategy)
            if hydraulic:
                result = consequences(twin, ref, segment_id, settings, strategy)
            else:
                result = isolate(graph, segment_id, strategy)
        finally:
            for valve in added:
                set_valve_state(graph, valve, operable=True, strategy=strategy)
    result["inoperable"] = sorted(set(inoperable))
    return result
