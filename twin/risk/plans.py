"""Digital emergency plans: what to do, who does it and by when, per hazard and level.

A plans file (TOML, named by the scene's ``[live] plans``) holds ``[incidents]`` (how alerts
group: ``within_m``, ``window_s``, ``topology_m``) and ``[[plan]]`` tables, one per hazard::

    [[plan]]
    id = "gas-leak"
    hazard = "gas"                 # the incident hazard it answers (twin.risk.grouping)
    name = "Gas leak"
    name_zh = "燃气泄漏"
    level = "blue"                 # opened for incidents at or above this level
    [[plan.step]]
    id = "cordon"
    title = "Cordon off 50 m and evacuate"
    department = "Public security"
    level = "orange"               # needed once the incident reaches orange (default: the plan's)
    within_min = 15                # due this long after the incident reached that level
    resources = ["fire-rescue"]    # kinds or skills of the resources it needs

An incident opens the plan of its hazard as a checklist; a step is checked off once, by a named
operator at a time (both kept in the store and never rewritten); a step still open past its due
time raises an alert.  A mistake is an :class:`~twin.errors.InputError` naming the key.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from twin.errors import InputError
from twin.risk.grouping import Grouping
from twin.risk.levels import BLUE, CODES, COLOURS, NAMES
from twin.tomltables import TableReader, read_toml

TOP_KEYS = {"incidents", "plan"}
GROUPING_KEYS = {"within_m", "window_s", "topology_m"}
PLAN_KEYS = {"id", "hazard", "name", "name_zh", "level", "step"}
STEP_KEYS = {"id", "title", "title_zh", "department", "department_zh", "level", "within_min", "resources"}


@dataclass(frozen=True)
class Step:
    id: str
    title: str
    department: str
    level: int
    within_s: float
    resources: tuple[str, ...] = ()
    title_zh: str = ""
    department_zh: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "title": self.title,
            "title_zh": self.title_zh,
            "department": self.department,
            "department_zh": self.department_zh,
            "level": NAMES[self.level],
            "within_min": self.within_s / 60.0,
            "resources": list(self.resources),
        }


@dataclass(frozen=True)
class Plan:
    id: str
    hazard: str
    name: str
    level: int
    steps: tuple[Step, ...]
    name_zh: str = ""


@dataclass
class PlanBook:
    """The plans of a scene, by hazard, and how its alerts group into incidents."""

    plans: list[Plan] = field(default_factory=list)
    grouping: Grouping = field(default_factory=Grouping)
    path: Path | None = None

    def for_hazard(self, hazard: str, level: int) -> Plan | None:
        """The plan an incident of ``hazard`` at ``level`` opens (None: no plan yet)."""
        return next((p for p in self.plans if p.hazard == hazard and level >= p.level), None)


@dataclass(frozen=True)
class CheckOff:
    """A step checked off: by whom and when (append-only in the store)."""

    incident: int
    plan: str
    step: str
    ts: float
    by: str
    note: str = ""


def checklist(plan: Plan, reached: dict[int, float], done: dict[str, CheckOff], now: float) -> list[dict[str, Any]]:
    """Each step of ``plan`` for an incident that reached the levels ``reached`` (code -> time).

    A step is ``done``, ``open`` (needed and in time), ``overdue`` (needed and past its due time)
    or ``not needed`` (the incident has not reached its level).
    """
    out = []
    for step in plan.steps:
        since = reached.get(step.level)
        due = None if since is None else since + step.within_s
        check = done.get(step.id)
        if check is not None:
            state = "done"
        elif due is None:
            state = "not needed"
        else:
            state = "overdue" if now > due else "open"
        out.append(
            {
                **step.to_json(),
                "state": state,
                "due": due,
                "done_at": check.ts if check else None,
                "done_by": check.by if check else None,
                "note": check.note if check else "",
                "late": bool(check and due is not None and check.ts > due),
            }
        )
    return out


class _Reader(TableReader):
    def number(self, value: Any, where: str, low: float = 0.0) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= low:
            raise self.fail(where, f"must be a number of at least {low:g}, not {value!r}")
        if value == float("inf"):
            raise self.fail(where, "must be finite")
        return float(value)

    def text(self, value: Any, where: str) -> str:
        if not isinstance(value, str) or not value.strip():
            raise self.fail(where, f"must be a non-empty string, not {value!r}")
        return value.strip()

    def level(self, value: Any, where: str) -> int:
        if value not in COLOURS:
            raise self.fail(where, f"must be one of {', '.join(COLOURS)}, not {value!r}")
        return CODES[value]

    def array(self, value: Any, where: str) -> list[Any]:
        if not isinstance(value, list):
            raise self.fail(where, f"must be an array, not {type(value).__name__}")
        return value


def read_plans(path: Path) -> PlanBook:
    """Read and validate a plans file."""
    path = Path(path)
    data = read_toml(path, "plans")
    return parse_plans(data, path)


def parse_plans(data: dict[str, Any], path: Path | None = None) -> PlanBook:
    """Validate a parsed plans document (tests pass inline dicts)."""
    r = _Reader(path)
    r.table(data, "", TOP_KEYS)
    g = r.table(data.get("incidents", {}), "incidents", GROUPING_KEYS)
    default = Grouping()
    grouping = Grouping(
        within_m=r.number(g.get("within_m", default.within_m), "incidents.within_m"),
        window_s=r.number(g.get("window_s", default.window_s), "incidents.window_s"),
        topology_m=r.number(g.get("topology_m", default.topology_m), "incidents.topology_m"),
    )
    plans = [_plan(r, p, f"plan[{i}]") for i, p in enumerate(r.array(data.get("plan", []), "plan"))]
    ids = [p.id for p in plans]
    twice = next((i for i in ids if ids.count(i) > 1), None)
    if twice:
        raise InputError(path, f"two plans have the id {twice!r}; plan ids must be unique")
    return PlanBook(plans, grouping, path)


def _plan(r: _Reader, value: Any, where: str) -> Plan:
    t = r.table(value, where, PLAN_KEYS)
    for key in ("id", "hazard", "name"):
        if key not in t:
            raise r.fail(f"{where}.{key}", "missing")
    level = r.level(t.get("level", "blue"), f"{where}.level") if "level" in t else BLUE
    steps = tuple(_step(r, s, f"{where}.step[{i}]", level) for i, s in enumerate(r.array(t.get("step", []), where)))
    if not steps:
        raise r.fail(f"{where}.step", "a plan needs at least one [[plan.step]]")
    ids = [s.id for s in steps]
    twice = next((i for i in ids if ids.count(i) > 1), None)
    if twice:
        raise r.fail(f"{where}.step", f"two steps have the id {twice!r}")
    return Plan(
        id=r.text(t["id"], f"{where}.id"),
        hazard=r.text(t["hazard"], f"{where}.hazard"),
        name=r.text(t["name"], f"{where}.name"),
        level=level,
        steps=steps,
        name_zh=r.text(t["name_zh"], f"{where}.name_zh") if "name_zh" in t else "",
    )


def _step(r: _Reader, value: Any, where: str, plan_level: int) -> Step:
    t = r.table(value, where, STEP_KEYS)
    for key in ("id", "title", "department", "within_min"):
        if key not in t:
            raise r.fail(f"{where}.{key}", "missing")
    resources = r.array(t.get("resources", []), f"{where}.resources")
    return Step(
        id=r.text(t["id"], f"{where}.id"),
        title=r.text(t["title"], f"{where}.title"),
        department=r.text(t["department"], f"{where}.department"),
        level=r.level(t["level"], f"{where}.level") if "level" in t else plan_level,
        within_s=r.number(t["within_min"], f"{where}.within_min") * 60.0,
        resources=tuple(r.text(x, f"{where}.resources[{i}]") for i, x in enumerate(resources)),
        title_zh=r.text(t["title_zh"], f"{where}.title_zh") if "title_zh" in t else "",
        department_zh=r.text(t["department_zh"], f"{where}.department_zh") if "department_zh" in t else "",
    )
