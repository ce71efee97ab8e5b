"""What the flowcharts read from the record (``diagrams/`` asks the Engine; it never opens a
session): a case's heading and step rows, a village's people for the poster's contact lines, and a
deployed version's BPMN text."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import or_, select

from ..domain.errors import NotFound
from ..domain.roles import ROLES
from ..store.models import Case, ProcessDefinition, RoleAssignment, TaskRow, User, Village
from .common import by_id


@dataclass(frozen=True)
class StepRow:
    name: str
    state: str
    completed_at: datetime | None
    due_at: datetime | None


@dataclass
class VillageContacts:
    name: str
    township: str
    contacts: dict[str, list[str]] = field(default_factory=dict)  # lane → names, as the poster lists them


class ChartsMixin:
    def _charted_case(self, session, username: str | None, case_id: int) -> Case:
        """The case a chart is drawn for, with the same access rule as ``case_path``."""
        if username is None:
            case = by_id(session, Case, case_id)
            if case is None:
                raise NotFound(f"没有编号为{case_id}的事项")
            return case
        return self.case_for(session, self.actor(session, username), case_id)

    def case_heading(self, username: str | None, case_id: int) -> tuple[str, str | None]:
        """(title, village code) of the case, for the chart's title and the poster's QR codes."""
        with self.sessions() as session:
            case = self._charted_case(session, username, case_id)
            return case.title, case.village.code if case.village is not None else None

    def case_step_rows(self, username: str | None, case_id: int) -> list[StepRow]:
        """Every task row of the case (its steps with their states, completion times and due dates)."""
        with self.sessions() as session:
            case = self._charted_case(session, username, case_id)
            rows = session.execute(select(TaskRow.name, TaskRow.state, TaskRow.completed_at, TaskRow.due_at)
                                   .where(TaskRow.case_id == case.id))
            return [StepRow(*row) for row in rows]

    def village_contacts(self, village_code: str, lanes: list[str]) -> VillageContacts:
        """The village's name and township and, per lane of the chart, the active people who act in it."""
        with self.sessions() as session:
            row = session.scalar(select(Village).where(Village.code == village_code))
            if row is None:
                message = f"没有编号为“{village_code}”的村"
                raise NotFound(message, {"village": [message]})
            found = VillageContacts(row.name, row.township)
            people = session.execute(
                select(RoleAssignment.role, User.name)
                .join(User, RoleAssignment.user_id == User.id)
                .where(User.active.is_(True),
                       or_(RoleAssignment.village_id == row.id, RoleAssignment.township == row.township))
                .order_by(User.name))
            wanted = set(lanes)
            for role, name in people:
                lane = ROLES.get(role, "")
                if lane in wanted and name not in found.contacts.setdefault(lane, []):
                    found.contacts[lane].append(name)
            return found

    def definition_source(self, definition_id: int) -> tuple[str, str] | None:
        """(BPMN text, content hash) of one deployed version, or None when it is gone."""
        with self.sessions() as session:
            row = session.get(ProcessDefinition, definition_id)
            return None if row is None else (row.source, row.content_hash)
