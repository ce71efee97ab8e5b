"""The engine facade (:class:`Engine`): everything a person or a program can do goes through here.

One call = one database transaction: load the case (checking its lock version), apply the
action, run the engine until it waits, save the state, project the task rows, append audit
events and board entries. Either all of it lands or none of it does.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

from sqlalchemy import and_, bindparam, select
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.orm.exc import StaleDataError

from ..catalogue.catalog import CATEGORIES, Catalog, Deployed
from ..domain.authz import Actor
from ..domain.errors import Conflict, NotAuthenticated, NotFound
from ..process import runtime
from ..records.evidence import CASE_ATTACHMENTS_KEY
from ..store.models import Attachment, AuditEvent, Case, ProcessDefinition, TaskRow, Village
from .accounts import Accounts, Bearer
from .assets import AssetsMixin
from .board import BoardMixin
from .cases import CasesMixin
from .charts import ChartsMixin
from .checks import ChecksMixin
from .common import (
    CASES_KEY,
    TASKS_KEY,
    done_order,
)
from .directory import DirectoryMixin
from .evidence import EvidenceMixin
from .lead_oversight import LeadOversightMixin
from .leads import LeadsMixin
from .ledger import LedgerMixin
from .notifications import NotificationsMixin
from .people import PeopleMixin
from .tasks import TasksMixin
from .timers import TimersMixin

#: The task row and every other task row of its case, in one statement: built once with a bound
#: parameter (no statement construction or cache-key walk on every completion).
#: With each row its attachments (outer join) and its case (with the case's village and definition, the
#: case's joined relationships): the case, and the attachments the completion binds and the answer
#: lists, come in the same statement (two round trips less, issue 16; ``case_for`` then finds the case
#: in the session's identity map).
_TASK_WITH_SIBLINGS = (
    select(TaskRow, Attachment, Case)
    # The case (its stored state, definition and village) comes once, on the asked row's line only.
    .outerjoin(Case, and_(Case.id == TaskRow.case_id, TaskRow.id == bindparam("task_id")))
    .outerjoin(Attachment, and_(Attachment.task_id == TaskRow.id, Attachment.case_id == TaskRow.case_id))
    .where(TaskRow.case_id == select(TaskRow.case_id).where(TaskRow.id == bindparam("task_id")).scalar_subquery()))


class Engine(CasesMixin, TasksMixin, ChecksMixin, ChartsMixin, BoardMixin, TimersMixin, NotificationsMixin, DirectoryMixin,
             EvidenceMixin, LeadsMixin, LeadOversightMixin, LedgerMixin, PeopleMixin, AssetsMixin):
    def __init__(self, sessions: sessionmaker[Session], clock: Callable[[], datetime], catalog: Catalog,
                 files=None):
        self.sessions = sessions
        self._clock = clock
        self.catalog = catalog
        self.accounts = Accounts(sessions)  # wall time: moving a demo clock logs nobody out
        self.files = files  # the attachments' file store (engine.records.evidence.LocalStore)

    # -- basics -------------------------------------------------------------------------
    def now(self) -> datetime:
        value = self._clock()
        if value.tzinfo is None:
            raise ValueError("CUNWU_CLOCK must return a timezone-aware datetime")
        return value.astimezone(UTC)

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        with self.sessions() as session:
            try:
                with session.begin():
                    yield session
            except StaleDataError as exc:  # the case was saved by someone else since we loaded it
                raise Conflict("事项已被他人更新，请刷新后重试") from exc
            except (OperationalError, IntegrityError) as exc:  # lock timeouts, serialization failures, races
                raise Conflict("数据正被他人修改，请稍后重试") from exc

    def actor(self, session: Session, who: str | Bearer) -> Actor:
        """Who is asking, read in ``session`` (one statement: token, person and roles). ``who`` is a
        username or an API token the web layer has not checked (:class:`Bearer`): an expired,
        revoked or unknown token answers 401 here, before anything is read or written."""
        actor = self.accounts.actor(session, who)
        if actor is None:
            if isinstance(who, Bearer):
                raise NotAuthenticated("请先登录（Authorization: Bearer <token>）")
            raise NotFound(f"没有用户“{who}”")
        return actor

    def village(self, session: Session, code: str) -> Village:
        village = session.scalar(select(Village).where(Village.code == code))
        if village is None:
            raise NotFound(f"没有编码为“{code}”的村")
        return village

    def audit(self, session: Session, *, action: str, actor: Actor | None, case: Case | None = None,
               village_id: int | None = None, task_id: str | None = None, summary: str = "",
               data: dict | None = None, actor_name: str | None = None) -> None:
        session.add(AuditEvent(
            case_id=case.id if case else None, village_id=village_id or (case.village_id if case else None),
            actor_id=actor.id if actor else None, actor_name=actor_name or (actor.name if actor else "系统"),
            action=action, task_id=task_id, summary=summary, data=data, at=self.now(),
        ))

    # -- catalogue ----------------------------------------------------------------------
    # -- the case's task rows, read once per transaction ------------------------------------------
    def case_tasks(self, session: Session, case: Case) -> list[TaskRow]:
        """Every task row of ``case`` (a few dozen at most: MAX_ROUNDS), read with one statement per
        transaction; the checks, the projection and the answer all work on this list. Rows that
        ``sync`` adds join it; it is forgotten when the transaction (or a savepoint) ends."""
        cached = session.info.setdefault(TASKS_KEY, {})
        rows = cached.get(case.id)
        if rows is None:
            rows = list(session.scalars(select(TaskRow).where(TaskRow.case_id == case.id)))
            cached[case.id] = rows
        return rows

    def task_with_siblings(self, session: Session, task_id: str) -> TaskRow | None:
        """The task row ``task_id``, read in one statement with every other task row of its case
        (what ``case_tasks`` then answers for that case in this transaction)."""
        rows: dict[str, TaskRow] = {}
        files: list = []
        cases = set()
        for task, attachment, case in session.execute(_TASK_WITH_SIBLINGS, {"task_id": task_id}):
            rows.setdefault(task.id, task)
            if case is not None:
                cases.add(case)
            if attachment is not None:
                files.append(attachment)
        row = rows.get(task_id)
        if row is not None:
            session.info.setdefault(TASKS_KEY, {})[row.case_id] = list(rows.values())
            session.info.setdefault(CASES_KEY, {})[row.case_id] = cases.pop()
            files.sort(key=lambda a: a.id)
            session.info.setdefault(CASE_ATTACHMENTS_KEY, {})[row.case_id] = files
        return row

    def latest_done(self, session: Session, case: Case, *, form: str | None = None,
                     name: str | None = None, since: datetime | None = None) -> TaskRow | None:
        """The most recently completed task of ``case`` (of ``form`` / ``name``, completed at or after
        ``since``)."""
        found = [r for r in self.case_tasks(session, case) if r.state == "completed"
                 and (form is None or r.form == form) and (name is None or r.name == name)
                 and (since is None or (r.completed_at is not None and r.completed_at >= since))]
        return max(found, key=done_order, default=None)

    def deploy(self) -> list[tuple[str, int, bool]]:
        with self.transaction() as session:
            return self.catalog.deploy_all(session, self.now())

    def processes(self) -> list[dict]:
        with self.sessions() as session:
            return [self._process_json(row) for row in self.catalog.latest_rows(session)]

    def process(self, key: str) -> dict:
        with self.sessions() as session:
            row = self.catalog.latest_row(session, key)
            deployed = self.catalog.deployed(row)
            out = self._process_json(row)
            out["lanes"], out["steps"] = self._lanes_and_steps(deployed)
            return out

    def deployed(self, key: str, version: int | None = None) -> Deployed:
        with self.sessions() as session:
            if version is None:
                row = self.catalog.latest_row(session, key)
            else:
                row = session.scalar(select(ProcessDefinition).where(
                    ProcessDefinition.key == key, ProcessDefinition.version == version))
                if row is None:
                    raise NotFound(f"事项“{key}”没有第{version}版")
            return self.catalog.deployed(row)

    @staticmethod
    def _process_json(row: ProcessDefinition) -> dict:
        meta = row.meta or {}
        return {"key": row.key, "name": row.name, "category": row.category, "version": row.version,
                "category_name": CATEGORIES.get(row.category, ""), "legal_basis": meta.get("legal_basis", ""),
                "description": meta.get("description", ""), "starters": meta.get("starters", [])}

    @staticmethod
    def _lanes_and_steps(deployed: Deployed) -> tuple[list[dict], list[dict]]:
        from ..domain.roles import role_for_lane

        lanes: list[dict] = []
        steps: list[dict] = []
        for spec in deployed.spec.task_specs.values():
            if not getattr(spec, "bpmn_id", None) or not spec.manual:
                continue
            props = runtime.task_properties(spec)
            lane = spec.lane or ""
            if lane and lane not in [x["name"] for x in lanes]:
                lanes.append({"name": lane, "role": role_for_lane(lane)})
            step = {"id": spec.bpmn_id, "name": spec.bpmn_name, "lane": lane, "role": role_for_lane(lane),
                    "form": props.get("form")}
            if props.get("body"):
                step["body"] = props["body"]
            steps.append(step)
        return lanes, steps
