"""The case's steps as a list a phone can read (issue 15): the chart's steps in order, numbered as
on the chart, each with who acts (the Chinese lane name), its time limits, and the case's state
at it (done on a date, current with its due date, to come, or only if something happens)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from . import render
from .marks import prepared
from .style import step_mark


@dataclass
class Step:
    no: str  # ①, as on the chart
    name: str
    lane: str
    limits: list[str] = field(default_factory=list)
    evidence: str = ""
    state: str = "todo"  # done | current | todo | skipped
    optional: bool = False  # only when something happens (an objection, a vote against …)
    done_at: datetime | None = None
    times: int = 0
    due_at: datetime | None = None
    when: str = ""  # for a step that only some cases take: when it comes


def case_chart(engine, username: str | None, case_id: int) -> tuple[str, list[Step]]:
    """The case's chart (SVG text, its path and current step marked) and its step list, from one
    reading of the case (``Engine.case_path`` checks access)."""
    deployed, marks = render.case_marks(engine, username, case_id)
    chart = render.chart_for(engine, deployed)
    day = render.engine_day(engine)
    svg = render.chart_bytes(chart, "svg", marks, on=day).decode("utf-8")
    view, drawn_marks = prepared(chart, marks, day)
    done_at: dict[str, datetime] = {}
    times: dict[str, int] = {}
    due_at: dict[str, datetime] = {}
    for row in engine.case_step_rows(username, case_id):
        drawn = view.folded.get(row.name, row.name)
        if row.state == "completed" and row.completed_at is not None:
            times[drawn] = times.get(drawn, 0) + 1
            done_at[drawn] = max(done_at.get(drawn, row.completed_at), row.completed_at)
        elif row.state in ("ready", "waiting") and row.due_at is not None:
            due_at[drawn] = row.due_at
    current = set(drawn_marks.current)
    finished = drawn_marks.status in ("completed", "rejected", "withdrawn")
    steps = []
    for node in view.steps:
        if node.id in current:
            state = "current"
        elif node.id in done_at or node.id in drawn_marks.done:
            state = "done"
        else:
            state = "skipped" if finished else "todo"
        steps.append(Step(step_mark(node.step_no), node.name, node.lane,
                          [n for n in node.notes if not n.startswith("需上传")],
                          next((n for n in node.notes if n.startswith("需上传")), ""),
                          state, node.exceptional, done_at.get(node.id), times.get(node.id, 0),
                          due_at.get(node.id), _when(node)))
    return svg, steps


def _when(node) -> str:
    """When a step that only some cases take comes, in words (the forms say it best)."""
    form = node.properties.get("form", "")
    if form == "inspection":
        return "监委会提出异议或异议报核查时才有"
    if form == "objection_reply":
        return "公示期内有人提出异议时才有"
    if form == "meeting":
        return "选定由此会议决定时才有"
    return ""
