"""Levels that other models set on assets: a flood nowcast's "forecast flooding at J12 in 40 min".

The live risk grades sensors; some risk is forecast instead, by a model the risk side does not
run (the SWMM nowcast of :mod:`twin.hydraulics.live`).  Such a model hands the service, under a
name of its own, the level and the reason of each asset it concerns; the next hand-over under
the same name replaces the last one whole, so an asset a later forecast no longer concerns falls
back.  The asset's level is the highest of these and its other causes
(:meth:`twin.risk.state.RiskState.evaluate`), and each (asset, name) is an alert key
(:class:`twin.risk.alerting.AlertKeys`).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from twin.risk.levels import LEVEL_DTYPE, NONE


class ExternalLevels:
    """Per model name, the level and reason of each asset row it concerns; and the highest of them."""

    def __init__(self, n_assets: int) -> None:
        self.n = n_assets
        self.by_name: dict[str, dict[int, tuple[int, str]]] = {}
        self.level = np.zeros(n_assets, LEVEL_DTYPE)  #: highest external level per asset row
        self.reason: dict[int, str] = {}  #: the reason of that level, per asset row that has one

    def set(self, name: str, levels: Mapping[int, tuple[int, str]]) -> None:
        """Replace what model ``name`` says: asset row -> (level code, reason); empty clears it."""
        self.by_name[name] = {int(r): (int(lv), str(why)) for r, (lv, why) in levels.items() if lv > NONE}
        self.level = np.zeros(self.n, LEVEL_DTYPE)
        self.reason = {}
        for entries in self.by_name.values():
            for row, (lv, why) in entries.items():
                if lv > self.level[row]:
                    self.level[row], self.reason[row] = lv, why
