"""What a case has done (``CaseMarks``) and the chart as drawn on a day with those marks
(``prepared``: ``diagrams.view`` applied, the marks moved onto the drawn node ids)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from datetime import date

from . import view
from .model import Chart


@dataclass
class CaseMarks:
    """What a case has done: completed ids in order, the current ids, its status."""

    completed: list[str] = field(default_factory=list)
    current: list[str] = field(default_factory=list)
    status: str = "running"
    title: str = ""
    case_id: int | None = None

    @property
    def done(self) -> set[str]:
        return set(self.completed) - set(self.current)


def prepared(chart: Chart, marks: CaseMarks | None = None, on: date | None = None) -> tuple[Chart, CaseMarks | None]:
    """The chart as drawn on ``on`` (``diagrams.view``: the shared inspection, 列席, time limits,
    evidence) and the case's marks in its node names. Idempotent."""
    if chart.drawn_on is None:
        chart = view.drawn(chart, on or date.today())
        if marks is not None:
            marks = dataclasses.replace(marks, completed=view.drawn_ids(chart, marks.completed),
                                        current=view.drawn_ids(chart, marks.current))
    return chart, marks

