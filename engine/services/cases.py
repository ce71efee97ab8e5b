"""Cases: start, read, list, hold and release; the case's JSON shape and what a decision is about.

Mixed into :class:`engine.services.Engine`."""

from __future__ import annotations

from sqlalchemy import Integer, String, Text, bindparam, cast, literal_column, null, or_, select, union_all
from sqlalchemy.orm import Session

from .. import forms
from ..catalogue.catalog import Deployed
from ..domain import rules
from ..domain.authz import Actor
from ..domain.errors import Conflict, Forbidden, Invalid, NotFound
from ..domain.roles import HOLD_ROLES, LEVEL_NAMES, ROLES, level_of
from ..process import runtime
from ..records import evidence, holds, leads, ledger_chart, notices
from ..store.models import AuditEvent, BoardEntry, Case, Objection, TaskRow, User, Village
from . import writes
from .common import (
    STATUS_ZH,
    by_id,
    iso,
)

# The answer's history and board in one statement (one round trip), built once with a bound parameter
# (no statement construction or cache-key walk on every completion and case read) and run on the
# session's connection as a Core statement: plain rows, no ORM entities (nothing here changes them).
# ``src`` 0: an audit event (ordered by id), 1: a board entry of the case (ordered by seq).
_a, _b = AuditEvent.__table__.c, BoardEntry.__table__.c
_HISTORY_AND_BOARD = union_all(
    select(literal_column("0").label("src"), _a.id.label("ord"), cast(null(), Integer).label("entry"),
           _a.at.label("at"), _a.actor_name.label("t1"), _a.action.label("t2"), _a.task_id.label("t3"),
           _a.summary.label("t4")).where(_a.case_id == bindparam("case_id")),
    select(literal_column("1"), _b.seq, _b.id, _b.notice_until, _b.kind, _b.title, cast(null(), String),
           cast(null(), Text)).where(_b.case_id == bindparam("case_id")),
).order_by(literal_column("src"), literal_column("ord"))

#: The task ids of the case's completions, in the audit log's order.
_COMPLETED_TASKS = (select(_a.task_id).where(_a.case_id == bindparam("case_id"), _a.action == "complete")
                    .order_by(_a.id))


class CasesMixin:
    # -- cases --------------------------------------------------------------------------
    def start_case(self, username: str, process: str, village_code: str, title: str, data: dict | None) -> dict:
        if process == ledger_chart.FINANCE_PROCESS and isinstance(village_code, str):  # generated from the ledger
            return self.start_finance_disclosure(username, village_code, data if isinstance(data, dict) else {})
        if not isinstance(process, str) or not process:
            raise Invalid("请指定事项（process）", {"process": ["必填"]})
        if not isinstance(village_code, str) or not village_code:
            raise Invalid("请指定村（village）", {"village": ["必填"]})
        if not isinstance(title, str) or not title.strip():
            raise Invalid("请填写事项标题（title）", {"title": ["请填写事项标题"]})
        if len(title) > 300:
            raise Invalid("事项标题过长", {"title": ["事项标题不能超过300字"]})
        data = {} if data is None else data
        if not isinstance(data, dict):
            raise Invalid("data 必须是对象", {"data": ["data 必须是对象（JSON object）"]})
        with self.transaction() as session:
            actor = self.actor(session, username)
            row = self.catalog.latest_row(session, process)
            deployed = self.catalog.deployed(row)
            village = self.village(session, village_code)
            if process == leads.LEAD_PROCESS:
                raise Invalid("问题线索请通过“反映问题”登记（POST /api/v1/leads），不能作为事项发起",
                              {"process": ["问题线索请通过 /api/v1/leads 登记"]})
            starters = set(deployed.meta.get("starters") or [])
            if not actor.roles_in(village) & starters:
                names = "、".join(ROLES.get(r, r) for r in sorted(starters))
                raise Forbidden(f"只有{names}可以发起“{deployed.name}”")
            now = self.now()
            wf = runtime.new_workflow(deployed.spec, deployed.subprocess_specs,
                                      {"case_title": title, "village": village.code})
            runtime.run(wf, self.now)
            case = Case(definition_id=row.id, village_id=village.id, title=title.strip(), status="running",
                        state="", created_by=actor.id, created_at=now, updated_at=now)
            session.add(case)
            session.flush()
            self.audit(session, action="start", actor=actor, case=case, summary=f"发起“{deployed.name}”",
                        data={"title": title})
            self.sync(session, case, wf, deployed)
            # The starter's first task (e.g. 村党组织提议) is completed with the start data.
            first = [t for t in runtime.open_tasks(wf) if t.state == "ready"]
            if first and first[0].form and actor.may_complete(first[0].role, first[0].extra_roles, village):
                self.complete_loaded(session, actor, case, deployed, wf, first[0].id, data)
            return self.case_json(session, case)

    def get_case(self, username: str, case_id: int) -> dict:
        with self.sessions() as session:
            actor = self.actor(session, username)
            case = self.case_for(session, actor, case_id)
            out = self.case_json(session, case)
            lead = self.lead_block(session, actor, case) if case.definition.key == leads.LEAD_PROCESS else None
        if lead is not None:
            out["lead"] = lead
            self.audit_lead_view(actor, case.id, "name" in lead)
        return out

    def case_path(self, username: str | None, case_id: int) -> tuple[Deployed, list[str], list[str], str]:
        """For the case chart: (definition, completed BPMN ids in order, current ids, status)."""
        with self.sessions() as session:
            if username is None:
                case = by_id(session, Case, case_id)
                if case is None:
                    raise NotFound(f"没有编号为{case_id}的事项")
            else:
                case = self.case_for(session, self.actor(session, username), case_id)
            deployed = self.catalog.deployed(case.definition)
            wf = runtime.loads(case.state, deployed.spec, deployed.subprocess_specs)
            current = [t.name for t in runtime.open_tasks(wf)]
            return deployed, runtime.path_taken(wf), current, case.status

    def list_cases(self, username: str, *, status: str | None = None, village_code: str | None = None,
                   limit: int = 200) -> list[dict]:
        with self.sessions() as session:
            actor = self.actor(session, username)
            stmt = select(Case).join(Village, Case.village_id == Village.id)
            if not actor.is_admin():
                scope = [Case.village_id.in_(actor.village_ids() or {-1})]
                if actor.townships():
                    scope.append(Village.township.in_(actor.townships()))
                if actor.counties():
                    scope.append(Village.county.in_(actor.counties()))
                stmt = stmt.where(or_(*scope), leads.visible_cases_clause(actor))
            if status:
                stmt = stmt.where(Case.status == status)
            if village_code:
                stmt = stmt.where(Village.code == village_code)
            cases = session.scalars(stmt.order_by(Case.updated_at.desc()).limit(limit))
            return [self._case_summary(c) for c in cases]

    def case_for(self, session: Session, actor: Actor, case_id: int) -> Case:
        case = by_id(session, Case, case_id)
        if case is None:
            raise NotFound(f"没有编号为{case_id}的事项")
        if not actor.can_view(case.village):
            raise Forbidden("您无权查看其他村的事项")
        if case.definition.key == leads.LEAD_PROCESS and not leads.may_see(
                actor, case.village, leads.lead_of_case(session, case.id), case):
            # R60: a lead is for the 纪检 roles of its jurisdiction only; to others it does not exist.
            raise NotFound(f"没有编号为{case_id}的事项")
        return case

    # -- hold -----------------------------------------------------------------------------
    def hold_case(self, username: str, case_id: int, reason: str) -> dict:
        if not isinstance(reason, str) or not reason.strip():
            raise Invalid("请填写暂停理由", {"reason": ["请填写暂停理由"]})
        with self.transaction() as session:
            actor = self.actor(session, username)
            case = self.case_for(session, actor, case_id)
            held = actor.roles_in(case.village) & HOLD_ROLES
            if not held:
                raise Forbidden("只有村务监督委员会、乡镇干部、乡镇纪委或县纪委可以暂停事项")
            if case.status != "running":
                raise Conflict(f"事项{STATUS_ZH.get(case.status, case.status)}，不能暂停")
            level = max(level_of(r) for r in held)
            holds.place(case, by=actor.username, level=level, reason=reason.strip())
            self.audit(session, action="hold", actor=actor, case=case,
                        summary=f"{LEVEL_NAMES[level]}暂停事项：{reason.strip()}")
            notices.hold_changed(session, case, released=False, now=self.now())
            return self.case_json(session, case)

    def release_case(self, username: str, case_id: int, note: str = "") -> dict:
        with self.transaction() as session:
            actor = self.actor(session, username)
            case = self.case_for(session, actor, case_id)
            held = actor.roles_in(case.village) & HOLD_ROLES
            if not held:
                raise Forbidden("只有村务监督委员会、乡镇干部、乡镇纪委或县纪委可以恢复事项")
            if case.status != "on_hold":
                raise Conflict("事项没有被暂停")
            level = max(level_of(r) for r in held)
            placed = case.hold_level or 1
            if level < placed:
                raise Forbidden(f"此事项由{LEVEL_NAMES.get(placed, '上级')}暂停，只有同级或上级可以恢复办理")
            holds.lift(case)
            self.audit(session, action="release", actor=actor, case=case,
                        summary=f"{LEVEL_NAMES[level]}恢复办理{('：' + note) if note else ''}")
            notices.hold_changed(session, case, released=True, now=self.now())
            return self.case_json(session, case)

    # -- JSON shapes ------------------------------------------------------------------------
    def _case_summary(self, case: Case) -> dict:
        return {"id": case.id, "process": case.definition.key, "process_name": case.definition.name,
                "category": case.definition.category,
                "version": case.definition.version, "village": case.village.code, "village_name": case.village.name,
                "title": case.title, "status": case.status, "status_name": STATUS_ZH.get(case.status, case.status),
                "created_at": iso(case.created_at), "updated_at": iso(case.updated_at)}

    # -- what a decision is about (CONTRACT "What people see": ``subject``) ---------------------
    def record_json(self, session: Session, row: TaskRow) -> dict:
        by = session.get(User, row.completed_by) if row.completed_by else None
        out = {"task": row.id, "title": row.title, "form": row.form, "data": row.data or {},
               "by": by.name if by else "", "at": iso(row.completed_at)}
        if row.body:
            out["body"] = row.body
            out["body_name"] = rules.BODIES.get(row.body, row.body)
        return out

    def completions(self, session: Session, case: Case) -> list[TaskRow]:
        """The case's completed steps in the order they were done (the audit log's order): the ids
        from the audit log (plain rows), the task rows from the case's rows this transaction holds."""
        session.flush()  # what autoflush would do: completions this transaction made are listed
        rows = {r.id: r for r in self.case_tasks(session, case)}
        seen: dict[str, TaskRow] = {}
        for (task_id,) in session.connection().execute(_COMPLETED_TASKS, {"case_id": case.id}):
            row = rows.get(task_id)
            if row is None or row.form is None:
                continue
            seen.pop(task_id, None)  # one entry per step, at its completion
            seen[task_id] = row
        return list(seen.values())

    def judged_record(self, done: list[TaskRow], upto: TaskRow | None) -> TaskRow | None:
        """The newest stage record completed before ``upto`` (or before now when it is still open): not
        a step that judges another (``FormSchema.judges``)."""
        before = done[:done.index(upto)] if upto is not None and upto in done else done
        return next((r for r in reversed(before) if not getattr(forms.FORMS.get(r.form), "judges", False)), None)

    def notice_subject(self, session: Session, case: Case, entry: BoardEntry | None,
                        objection: Objection | None) -> dict | None:
        if entry is None:
            return None
        data = {"content": entry.content, "posted_at": iso(entry.posted_at), "notice_until": iso(entry.notice_until)}
        if objection is not None:
            data["objection"] = objection.text  # the objection's text, never who filed it
        return {"task": None, "title": entry.title, "form": "notice", "data": data, "by": entry.posted_by,
                "at": iso(entry.posted_at)}

    def subject(self, session: Session, case: Case, row: TaskRow) -> dict | None:
        """The record a review, objection reply or inspection decides about, so nobody approves blind
        (each form says what it is: ``FormSchema.subject``)."""
        if row.form not in forms.FORMS:
            return None
        ctx = forms.CheckContext(session=session, village=case.village, case=case, meta=case.definition.meta,
                                 now=self.now(), actor=None, task=row, services=self)
        return forms.schema(row.form).subject(ctx)

    def case_json(self, session: Session, case: Case) -> dict:
        out = self._case_summary(case)
        tasks = self.case_tasks(session, case)
        rows = sorted((r for r in tasks if r.state in ("ready", "waiting")), key=lambda r: (r.created_at, r.id))
        out["tasks"] = [self.task_json(r, case.village, case, with_fields=False) for r in rows]
        # The columns the history shows, not AuditEvent objects (nothing here changes them).
        writes.flush(session)  # what autoflush would do: the events and entries this transaction added are listed
        rows = session.connection().execute(_HISTORY_AND_BOARD, {"case_id": case.id}).all()
        files = self.case_attachments(session, case.id)
        done = {r.id: r for r in tasks if r.state == "completed" and r.form is not None}
        out["history"] = [{"at": iso(e.at), "actor": e.t1, "action": e.t2, "task": e.t3, "summary": e.t4,
                           **({"form": done[e.t3].form, "data": done[e.t3].data or {},
                               **({"body": done[e.t3].body} if done[e.t3].body else {})}
                              if e.t2 == "complete" and e.t3 in done else {}),
                           **({"attachments": [evidence.history_item(a) for a in files[e.t3]]}
                              if e.t2 == "complete" and e.t3 in files else {})} for e in rows if e.src == 0]
        out["board"] = [{"id": e.entry, "seq": e.ord, "kind": e.t1, "title": e.t2, "notice_until": iso(e.at)}
                        for e in rows if e.src == 1]
        out["hold_reason"] = case.hold_reason
        return out
