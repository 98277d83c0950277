"""Live risk: sensors, rules, the four-colour level of every asset, alerts and propagation.

Pure Python and numpy: nothing here knows of VTK or trame.  The app and the HTTP routes talk to
one :class:`RiskService` (typed as :class:`~twin.risk.interface.RiskView` /
:class:`~twin.risk.interface.RiskRuntime`); the view turns :meth:`RiskService.levels` into
colours with :func:`twin.risk.colours.level_colors`.
"""

from twin.risk.colours import LEVEL_RGB, level_colors
from twin.risk.levels import BLUE, CODES, NAMES, NODATA, NONE, ORANGE, RED, YELLOW
from twin.risk.rules import RuleSet, parse_rules, read_rules
from twin.risk.sensors import SensorTable, read_sensors
from twin.risk.service import RiskService

__all__ = [
    "BLUE",
    "CODES",
    "LEVEL_RGB",
    "NAMES",
    "NODATA",
    "NONE",
    "ORANGE",
    "RED",
    "YELLOW",
    "RiskService",
    "RuleSet",
    "SensorTable",
    "level_colors",
    "parse_rules",
    "read_rules",
    "read_sensors",
]
