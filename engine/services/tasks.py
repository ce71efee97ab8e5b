"""Tasks: list, read and complete them; the completion path and the projection of the workflow into task rows.

Mixed into :class:`engine.services.Engine`."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from marshmallow import ValidationError
from SpiffWorkflow.exceptions import SpiffWorkflowException
from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from .. import forms
from ..catalogue.catalog import Deployed
from ..domain import rules
from ..domain.authz import Actor
from ..domain.clock import local_text
from ..domain.errors import Conflict, Forbidden, Invalid, NotFound
from ..domain.roles import ROLES, level_of
from ..process import runtime
from ..records import holds, leads, notices
from ..store.models import Case, TaskRow, Village
from . import writes
from .common import (
    MAX_ROUNDS,
    STATUS_ZH,
    first_message,
    iso,
)


class TasksMixin:
    # -- tasks --------------------------------------------------------------------------
    def list_tasks(self, username: str, village_code: str | None = None) -> list[dict]:
        """The ready tasks this person may complete now, overdue and oldest first."""
        with self.sessions() as session:
            actor = self.actor(session, username)
            conditions = []
            for g in actor.grants:
                role_match = or_(TaskRow.role == g.role, TaskRow.extra_roles.contains(g.role))
                if g.village_id is not None:
                    conditions.append(role_match & (TaskRow.village_id == g.village_id))
                elif g.township is not None:
                    ids = select(Village.id).where(Village.township == g.township).scalar_subquery()
                    conditions.append(role_match & TaskRow.village_id.in_(ids))
                elif g.county is not None:
                    ids = select(Village.id).where(Village.county == g.county).scalar_subquery()
                    conditions.append(role_match & TaskRow.village_id.in_(ids))
            if not conditions:
                return []
            stmt = select(TaskRow).where(TaskRow.state == "ready", or_(*conditions))
            if village_code:
                stmt = stmt.join(Village, TaskRow.village_id == Village.id).where(Village.code == village_code)
            rows = list(session.scalars(stmt.order_by(TaskRow.created_at, TaskRow.id)))
            now = self.now()
            rows.sort(key=lambda t: (not (t.due_at and t.due_at < now), t.due_at or datetime.max.replace(tzinfo=UTC),
                                     t.created_at))
            villages = {v.id: v for v in session.scalars(select(Village).where(
                Village.id.in_({r.village_id for r in rows})))}
            cases = {c.id: c for c in session.scalars(select(Case).where(Case.id.in_({r.case_id for r in rows})))}
            return [self.task_json(r, villages[r.village_id], cases[r.case_id], with_fields=False) for r in rows
                    if actor.may_complete(r.role, r.extra_roles, villages[r.village_id])
                    and actor.username not in (cases[r.case_id].excluded_users or [])]

    def get_task(self, username: str, task_id: str) -> dict:
        with self.sessions() as session:
            actor = self.actor(session, username)
            row = self.task_with_siblings(session, task_id)  # what a review's subject reads, in the same statement
            if row is None:
                raise NotFound(f"没有编号为{task_id}的任务")
            case = self.case_for(session, actor, row.case_id)
            out = self.task_json(row, case.village, case, with_fields=True, session=session)
            if case.definition.key == leads.LEAD_PROCESS:
                lead = self.lead_block(session, actor, case)
                if lead is not None:
                    out["lead"] = lead
            subject = self.subject(session, case, row)
            if subject is not None:
                out["subject"] = subject
            if "objection" in out and "supervisor" not in actor.roles_in(case.village):
                out["objection"].pop("contact", None)  # an objector's contact is for the supervisors only
        # Every read of personal data (an objector's contact, an applicant's ID number or phone) is on the record.
        personal = sorted(k for k, v in (out.get("data") or {}).items() if v and (k.endswith("id_number") or k in (
            "phone", "contact")))
        if "lead" in out:
            self.audit_lead_view(actor, case.id, "name" in out["lead"])
        if out.get("objection", {}).get("contact") or personal:
            what = f"异议人联系方式（异议{out['objection']['id']}）" if "objection" in out else "申请人个人信息"
            with self.transaction() as session:
                self.audit(session, action="read_personal", actor=actor, case=case, task_id=task_id,
                            summary=f"查看{what}", data={"objection": out.get("objection", {}).get("id"),
                                                       "fields": personal})
        return out

    def complete_task(self, username: str, task_id: str, data: dict) -> dict:
        if not isinstance(data, dict):
            raise Invalid("data 必须是对象", {"data": ["data 必须是对象（JSON object）"]})
        try:
            with self.transaction() as session:
                actor = self.actor(session, username)
                row = self.task_with_siblings(session, task_id)
                if row is None:
                    raise NotFound(f"没有编号为{task_id}的任务")
                case = self.case_for(session, actor, row.case_id)
                if row.state == "waiting":  # a timer: nobody completes it, the clock does
                    until = f"（{local_text(row.due_at)}）" if row.due_at else ""
                    raise Conflict(f"“{row.title}”是计时环节，到期{until}后自动进入下一步，不能手动办理")
                if not actor.may_complete(row.role, row.extra_roles, case.village):
                    raise Forbidden(f"“{row.title}”须由{ROLES.get(row.role, row.role)}办理")
                if actor.username in (case.excluded_users or []):
                    raise Forbidden("您与本事项有利害关系，依规回避，不能办理")
                if case.status == "on_hold" and not getattr(forms.FORMS.get(row.form), "releases_hold", False):
                    raise Conflict(f"事项已被暂停：{case.hold_reason or ''}".rstrip("："))
                if row.state != "ready":
                    raise Conflict("该任务已经办理，不能重复提交")
                deployed = self.catalog.deployed(case.definition)
                wf = runtime.loads(case.state, deployed.spec, deployed.subprocess_specs)
                self.complete_loaded(session, actor, case, deployed, wf, task_id, data)
                return self.case_json(session, case)
        except IntegrityError as exc:
            raise Conflict("数据正被他人修改，请稍后重试") from exc

    def complete_loaded(self, session: Session, actor: Actor, case: Case, deployed: Deployed, wf,
                         task_id: str, data: dict) -> None:
        row = session.get(TaskRow, task_id)
        task = runtime.ready_task(wf, task_id)
        if task is None:
            raise Conflict("该任务已经办理，不能重复提交")
        if row.form not in forms.FORMS:
            raise Invalid(f"任务使用了未知的表单“{row.form}”")
        try:
            values = forms.load(row.form, data)
        except ValidationError as exc:
            fields = exc.messages if isinstance(exc.messages, dict) else {"data": exc.messages}
            raise Invalid("表单填写有误：" + first_message(fields, row.form), fields) from exc
        # One mechanism for every form (engine/forms/base.py FormSchema): load, check, effects, the
        # workflow moves on, book, the audit event, what is done on the record, after.
        schema = forms.schema(row.form)
        now = self.now()
        ctx = forms.CheckContext(session=session, village=case.village, case=case, meta=deployed.meta,
                                 now=now, actor=actor, task=row, properties=task.properties or {}, services=self)
        checked = dict(schema.check(values, ctx) or {})
        excluded = checked.pop("exclude_users", None)
        if excluded:
            case.excluded_users = sorted(set(case.excluded_users or []) | set(excluded))
        rounds = sum(1 for r in self.case_tasks(session, case) if r.name == row.name and r.state == "completed")
        if rounds >= MAX_ROUNDS and not values.get("withdraw"):
            raise Conflict(f"“{row.title}”在本事项中已办理{rounds}次，达到上限；请撤回事项或报乡镇处理")
        ctx.rounds, ctx.extra = rounds, checked
        schema.effects(values, ctx)
        extra = ctx.extra
        said = schema.summary_of(values, extra)  # forms that say what was decided themselves
        summary = ctx.summary if said is None else said

        stored = forms.to_task_data(values)
        try:
            runtime.complete(wf, task_id, {**stored, **extra}, self.now)
        except SpiffWorkflowException as exc:
            raise Invalid(f"流程无法继续：{exc}") from exc

        writes.store(session, row, state="completed", completed_at=now, completed_by=actor.id,
                     data={**stored, **extra})
        # Evidence uploaded to the task is bound to the record; its hashes go into the step's event.
        bound = self.bind_attachments(session, row, now, deployed.meta, case.village)
        booked = schema.book(values, ctx) or {}  # ledger and register entries, in this transaction
        self.audit(session, action="complete", actor=actor, case=case, task_id=task_id,
                    summary=f"{row.title}：{summary}" if summary else row.title,
                    data={**stored, **extra, **booked, **({"attachments": bound} if bound else {})})
        for step in ctx.on_record:  # the board's postings
            step()
        self.sync(session, case, wf, deployed)
        schema.after(values, ctx)  # e.g. due dates of the next steps counted in working days
        if values.get("decision") is not None and values.get("decision") == getattr(schema, "holds_on", None):
            # D9: an objection to the procedure holds the case; the township 纪委 inspects it (and
            # only that level or a higher one may release it).
            reason = f"{actor.name}提出异议，待乡镇纪委核查：" + (values.get("opinion") or values.get("reply"))
            holds.place(case, by=actor.username, level=level_of("discipline_inspector"), reason=reason)
            self.audit(session, action="hold", actor=actor, case=case, summary=f"暂停事项：{reason}")
            notices.hold_changed(session, case, released=False, now=now)
        elif getattr(schema, "releases_hold", False) and case.status == "on_hold":
            holds.lift(case)
            self.audit(session, action="release", actor=actor, case=case, summary=f"乡镇纪委核查后恢复办理：{summary}")
            notices.hold_changed(session, case, released=True, now=now)
        writes.flush(session)

    # -- projection ---------------------------------------------------------------------
    def sync(self, session: Session, case: Case, wf, deployed: Deployed) -> None:
        """Save the workflow state with the optimistic lock and project its open tasks."""
        now = self.now()
        open_tasks = runtime.open_tasks(wf)
        open_ids = {t.id for t in open_tasks}
        tasks = self.case_tasks(session, case)
        existing = {r.id: r for r in tasks if r.state in ("ready", "waiting")}
        for row_id, row in existing.items():
            if row_id not in open_ids:
                if row.state == "waiting":
                    done = runtime.is_completed(wf, row_id)
                    writes.store(session, row, state="completed" if done else "cancelled", completed_at=now)
                else:
                    writes.store(session, row, state="cancelled")
        for t in open_tasks:
            if t.id in existing:
                if t.state == "waiting" and existing[t.id].due_at != t.due_at:
                    writes.store(session, existing[t.id], due_at=t.due_at)
                continue
            due = t.due_at if t.state == "waiting" else (now + timedelta(days=t.due_days) if t.due_days else None)
            added = TaskRow(id=t.id, case_id=case.id, village_id=case.village_id, name=t.name, title=t.title,
                            role=t.role, extra_roles=t.extra_roles, form=t.form, body=t.body, state=t.state,
                            created_at=now, due_at=due)
            session.add(added)
            tasks.append(added)
        status = runtime.end_status(wf)
        saved = {"state": runtime.dumps(wf), "next_timer_at": runtime.earliest_due(open_tasks), "updated_at": now}
        if status:
            saved["status"] = status
            self.audit(session, action="end", actor=None, case=case, summary=f"事项{STATUS_ZH[status]}")
        writes.store(session, case, locked=True, **saved)  # the optimistic lock: a 409 if saved since
        writes.flush(session)

    def task_json(self, row: TaskRow, village: Village, case: Case, *, with_fields: bool,
                   session: Session | None = None) -> dict:
        out = {"id": row.id, "case": row.case_id, "name": row.name, "title": row.title, "role": row.role,
               "role_name": ROLES.get(row.role, ""), "form": row.form, "state": row.state,
               "case_title": case.title, "village": village.code, "village_name": village.name}
        if row.body:
            out["body"] = row.body
            out["body_name"] = rules.BODIES.get(row.body, row.body)
            out["should_attend"] = getattr(village, rules.BODY_MEMBERS.get(row.body, "adults"), None)
            if row.body == "villager_assembly":
                out["households"] = village.households
        if row.due_at:
            out["due_at"] = iso(row.due_at)
            out["overdue"] = row.state == "ready" and row.due_at < self.now()
        if with_fields and row.form in forms.FORMS:
            out["fields"] = forms.describe(row.form)
        wanted = self.required_evidence(case.definition.meta, row.name)
        if wanted:  # issue 14: what the catalogue asks to be uploaded at this step
            out["evidence"] = {"what": wanted, "required": (village.settings or {}).get("evidence") == "required"}
        if row.state == "completed":
            out["data"] = row.data
        if with_fields and session is not None and row.form in forms.FORMS:
            # What the form shows beside its fields (a draft, the statement, the objection to answer).
            ctx = forms.CheckContext(session=session, village=village, case=case, meta=case.definition.meta,
                                     now=self.now(), actor=None, task=row, services=self)
            out.update(forms.schema(row.form).task_fields(ctx))
        return out
