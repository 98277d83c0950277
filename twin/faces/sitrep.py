"""Situation reports as PDF (fpdf2): one incident for the command centre, or a shift handover.

An incident's report holds its level and place, a map snapshot (a PNG from ``twin render
--risk`` when given), the timeline, the plan's progress, what it touches (assets, valves to
close, customers losing supply), the resources to send and the open actions, with every
heading in Chinese and English.  The handover lists the incidents of the last hours with their
open actions.  Both read the JSON the service gives (:meth:`RiskService.incident`), nothing else.

Chinese needs a CJK font: Noto Sans CJK (Debian's ``fonts-noto-cjk``) is found where it is
installed; pass ``font=`` otherwise.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fpdf import FPDF, FontFace

FONTS = (
    Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"),
    Path("/usr/share/fonts/noto-cjk/NotoSansCJK-Regular.ttc"),
)
SIMPLIFIED = 2  # the face of Noto Sans CJK's collection for Simplified Chinese
LEVEL_RGB = {"red": (230, 0, 0), "orange": (255, 140, 0), "yellow": (255, 215, 0), "blue": (30, 110, 255)}
LEVEL_ZH = {"red": "红色 I", "orange": "橙色 II", "yellow": "黄色 III", "blue": "蓝色 IV"}
HEADINGS = FontFace(emphasis="BOLD", fill_color=(225, 225, 225))
MAX_TIMELINE = 60  # rows of the timeline in the report (the rest: the API)


def _when(ts: float | None) -> str:
    if ts is None:
        return "-"
    return datetime.fromtimestamp(float(ts), tz=UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


class _Report(FPDF):
    def __init__(self, title: str, font: Path | None) -> None:
        super().__init__(format="A4")
        self.title_text = title
        found = font or next((f for f in FONTS if f.exists()), None)
        if found is None:
            raise FileNotFoundError("no CJK font found: install fonts-noto-cjk or pass font=")
        face = SIMPLIFIED if found.suffix == ".ttc" else 0
        bold = found.with_name(found.name.replace("Regular", "Bold"))
        self.add_font("cjk", fname=str(found), collection_font_number=face)
        self.add_font("cjk", "B", fname=str(bold if bold.exists() else found), collection_font_number=face)
        self.set_auto_page_break(True, margin=15)
        self.add_page()

    def header(self) -> None:
        self.set_font("cjk", size=9)
        self.set_text_color(90, 90, 90)
        self.cell(0, 6, f"CIM Twin  ·  {self.title_text}", new_x="LMARGIN", new_y="NEXT")
        self.set_text_color(0, 0, 0)

    def footer(self) -> None:
        self.set_y(-12)
        self.set_font("cjk", size=8)
        self.cell(0, 6, f"{self.page_no()}", align="C")

    def heading(self, zh: str, en: str) -> None:
        self.ln(3)
        self.set_font("cjk", size=13)
        self.cell(0, 8, f"{zh}  {en}", new_x="LMARGIN", new_y="NEXT")
        self.set_font("cjk", size=9.5)

    def line_text(self, text: str) -> None:
        self.multi_cell(0, 5.5, text, new_x="LMARGIN", new_y="NEXT")

    def level_badge(self, level: str) -> None:
        rgb = LEVEL_RGB.get(level, (150, 150, 150))
        self.set_fill_color(*rgb)
        self.set_text_color(255, 255, 255) if level in ("red", "blue") else self.set_text_color(0, 0, 0)
        self.cell(60, 8, f"{LEVEL_ZH.get(level, level)} / {level.upper()}", fill=True, new_x="LMARGIN", new_y="NEXT")
        self.set_text_color(0, 0, 0)
        self.set_fill_color(255, 255, 255)

    def rows(self, widths: tuple[float, ...], header: tuple[str, ...], data: Sequence[Sequence[Any]]) -> None:
        with self.table(
            col_widths=widths, text_align="LEFT", line_height=5, headings_style=HEADINGS, cell_fill_mode="NONE"
        ) as table:
            table.row(header)
            for row in data:
                table.row([str(c) for c in row])


def incident_report(
    incident: dict[str, Any], out: Path, snapshot: Path | None = None, font: Path | None = None
) -> Path:
    """Write the situation report of one incident (the service's JSON of it) to ``out`` (PDF)."""
    title = incident.get("title") or f"incident {incident['id']}"
    pdf = _Report(f"事件报告 Situation report · {title}", font)
    pdf.set_font("cjk", size=16)
    pdf.line_text(f"事件 {incident['id']}  Incident {incident['id']}: {title}")
    pdf.level_badge(str(incident.get("peak") or incident.get("level")))
    pdf.set_font("cjk", size=9.5)
    where = incident.get("location") or {}
    grids = ", ".join(g["name"] or g["id"] for g in incident.get("grids", [])) or "-"
    pdf.line_text(
        f"状态 State: {incident['state']}    灾种 Hazard: {incident['hazard']}\n"
        f"发生 Opened: {_when(incident['opened'])}    解除 Resolved: {_when(incident.get('resolved'))}\n"
        f"位置 Location: {where.get('asset', '-')} (x {where.get('x', 0):.1f}, y {where.get('y', 0):.1f})\n"
        f"网格 Grids: {grids}\n生成 Generated: {_when(datetime.now(tz=UTC).timestamp())}"
    )
    if snapshot is not None and Path(snapshot).exists():
        pdf.heading("地图", "Map")
        pdf.image(str(snapshot), w=pdf.epw)
    _plan(pdf, incident.get("plan"))
    _affected(pdf, incident)
    _resources(pdf, incident.get("resources", []))
    _timeline(pdf, incident.get("timeline", []))
    pdf.output(str(out))
    return Path(out)


def handover_report(
    incidents: list[dict[str, Any]], hours: float, now: float, out: Path, font: Path | None = None
) -> Path:
    """Write a shift-handover report: the incidents open now or updated in the last ``hours``."""
    since = now - hours * 3600.0
    shown = [i for i in incidents if i["state"] == "open" or (i.get("updated") or 0) >= since]
    pdf = _Report(f"交接班报告 Shift handover · {hours:g} h", font)
    pdf.set_font("cjk", size=16)
    pdf.line_text(f"交接班报告 Shift handover: {_when(since)} - {_when(now)}")
    pdf.set_font("cjk", size=9.5)
    opened = [i for i in shown if i["state"] == "open"]
    pdf.line_text(f"在办事件 Open incidents: {len(opened)}    本班处置 Handled this shift: {len(shown)}")
    pdf.heading("事件", "Incidents")
    data = [
        (str(i["id"]), i.get("title", ""), i["peak"], i["state"], _when(i["opened"]), _progress(i.get("progress")))
        for i in shown
    ]
    pdf.rows(
        (10, 60, 18, 18, 42, 42), ("#", "事件 Incident", "级别 Level", "状态 State", "发生 Opened", "预案 Plan"), data
    )
    for inc in opened:
        steps = (inc.get("plan") or {}).get("steps", [])
        todo = [s for s in steps if s["state"] in ("open", "overdue")]
        if todo:
            pdf.heading(f"待办 事件 {inc['id']}", f"Open actions, incident {inc['id']}")
            pdf.rows(
                (40, 80, 20, 50),
                ("部门 Department", "步骤 Step", "状态 State", "时限 Due"),
                [(_department(s), _step_title(s), s["state"], _when(s.get("due"))) for s in todo],
            )
    pdf.output(str(out))
    return Path(out)


def _progress(progress: dict[str, int] | None) -> str:
    if not progress:
        return "-"
    return f"{progress['done']} done, {progress['open']} open, {progress['overdue']} overdue"


def _step_title(step: dict[str, Any]) -> str:
    return _both(step, "title")


def _department(step: dict[str, Any]) -> str:
    return _both(step, "department")


def _both(step: dict[str, Any], key: str) -> str:
    """Chinese / English of a plan step's text where the plan gives both (the report is bilingual)."""
    return f"{step[key + '_zh']} / {step[key]}" if step.get(key + "_zh") else step[key]


def _plan(pdf: _Report, plan: dict[str, Any] | None) -> None:
    pdf.heading("预案进度", "Plan progress")
    if plan is None:
        pdf.line_text("无预案 No plan for this hazard.")
        return
    pdf.line_text(f"{plan.get('name_zh', '')} {plan['name']} ({plan['id']})")
    data = [
        (
            _department(s),
            _step_title(s),
            s["state"],
            _when(s.get("due")),
            s.get("done_by") or "-",
            _when(s.get("done_at")),
        )
        for s in plan["steps"]
    ]
    pdf.rows(
        (30, 62, 16, 28, 24, 28), ("部门 Dept", "步骤 Step", "状态 State", "时限 Due", "完成人 By", "完成 Done"), data
    )
    todo = [s for s in plan["steps"] if s["state"] in ("open", "overdue")]
    pdf.heading("待办事项", "Open actions")
    pdf.line_text("\n".join(f"[{s['state']}] {_department(s)}: {_step_title(s)}" for s in todo) or "-")


def _affected(pdf: _Report, incident: dict[str, Any]) -> None:
    pdf.heading("影响范围", "Affected assets and customers")
    affected = incident.get("affected", {})
    pdf.line_text(
        f"资产 Assets: {', '.join(incident.get('assets', [])) or '-'}\n"
        f"关闭阀门 Valves to close: {', '.join(affected.get('valves', [])) or '-'}\n"
        f"停供管段 Segments cut off: {', '.join(affected.get('isolated_segments', [])) or '-'}\n"
        f"停供用户 Customers losing supply: {len(affected.get('customers', []))}"
    )


def _resources(pdf: _Report, resources: list[dict[str, Any]]) -> None:
    pdf.heading("调派资源", "Resources dispatched / nearest")
    if not resources:
        pdf.line_text("-")
        return
    data = [
        (r["need"], r["name"], r["kind"], f"{r['distance_m']:.0f} m", f"{r['minutes']:.1f} min", r["phone"])
        for r in resources
    ]
    pdf.rows(
        (28, 70, 16, 20, 20, 34),
        ("需求 Need", "资源 Resource", "类 Kind", "距离 Dist", "时间 Time", "电话 Phone"),
        data,
    )


def _timeline(pdf: _Report, timeline: list[dict[str, Any]]) -> None:
    pdf.heading("时间线", "Timeline")
    rows = [
        (_when(e["ts"]), e["event"], e.get("by") or "", (e.get("note") or "")[:90]) for e in timeline[:MAX_TIMELINE]
    ]
    pdf.rows((40, 28, 22, 100), ("时间 Time", "事件 Event", "人员 By", "说明 Note"), rows)
    if len(timeline) > MAX_TIMELINE:
        pdf.line_text(
            f"... {len(timeline) - MAX_TIMELINE} more / 另有 {len(timeline) - MAX_TIMELINE} 条 (GET /api/incidents/ID)"
        )
