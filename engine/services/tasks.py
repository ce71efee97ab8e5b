"""Tasks: list, read and complete them; the completion path and the projection of the workflow into task rows.

Mixed into :class:`engine.services.Engine`."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from marshmallow import ValidationError
from SpiffWorkflow.exceptions import SpiffWorkflowException
from sqlalchemy import func, or_, select
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
from ..records import holds, leads, ledger, notices, publicity
from ..store.models import BoardEntry, Case, Objection, TaskRow, Village
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
            row = session.get(TaskRow, task_id)
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
        schema = forms.FORMS[row.form]()
        checked: dict = {}
        ctx = forms.CheckContext(session=session, village=case.village, case=case, meta=deployed.meta,
                                 now=self.now(), actor=actor, task=row, properties=task.properties or {})
        if hasattr(schema, "check"):
            checked = dict(schema.check(values, ctx) or {})
            excluded = checked.pop("exclude_users", None)
            if excluded:
                case.excluded_users = sorted(set(case.excluded_users or []) | set(excluded))
        rounds = sum(1 for r in self.case_tasks(session, case) if r.name == row.name and r.state == "completed")
        if rounds >= MAX_ROUNDS and not values.get("withdraw"):
            raise Conflict(f"“{row.title}”在本事项中已办理{rounds}次，达到上限；请撤回事项或报乡镇处理")
        now = self.now()
        extra: dict = dict(checked)
        summary = ""
        objection: Objection | None = None
        posting: dict | None = None

        if row.form == "proposal":
            if values.get("withdraw") and rounds == 0 and row.name == "propose" and case.state == "":
                raise Invalid("新发起的事项不能直接撤回", {"withdraw": ["新发起的事项不能直接撤回"]})
            summary = f"提议：{values.get('title', '')}"
            if values.get("withdraw"):
                summary = "撤回事项"
        elif row.form == "meeting":
            correcting = self._returned_record(session, case, row)
            if correcting is not None and values["held_on"].isoformat() != correcting.data.get("held_on"):
                # D9: a supervisor's return corrects the record of the meeting that was held; it never
                # makes a meeting be held again (组织法第三十二条: the 监委会 supervises, it does not decide).
                message = f"这是对{correcting.data.get('held_on')}会议记录的更正，会议日期不能改变"
                raise Invalid(message, {"held_on": [message]})
            self.meeting_dates(session, case, row, values, correcting)
            if row.body == "representatives":
                self.statutory_needs_assembly(session, case)
            extra, summary = self.meeting(case.village, row.body or "", values,
                                           (task.properties or {}).get("vote_rule"))
            if correcting is not None:
                extra["corrects"] = correcting.id
                summary = f"更正记录：{summary}"
        elif row.form == "review":
            self.no_self_review(session, actor, case, row)
            summary = {"approve": "审核同意", "return": f"退回更正记录：{values.get('opinion', '')}",
                       "object": f"对程序提出异议，报乡镇纪委核查：{values.get('opinion', '')}"}[values["decision"]]
            publishes = (task.properties or {}).get("publishes")
            if publishes == "finance" and values["decision"] == "approve":
                # 民主理财 (R27): the statement generated from the ledger is posted as approved.
                posting = self.finance_posting(session, case, now, int(deployed.meta.get("notice_days") or 7))
                extra["statement"] = posting.pop("statement")
                extra["notice_until"] = iso(posting["notice_until"])
                extra["posted_at"] = iso(now)
            elif publishes and values["decision"] == "approve":
                posting = self.prepare_posting(session, case, publishes, now,
                                                (task.properties or {}).get("notice_label"))
                extra["notice_until"] = iso(posting["notice_until"])
                extra["posted_at"] = iso(now)
        elif row.form == "disclosure":
            floor = int(deployed.meta.get("notice_days") or 7)
            if values["notice_days"] < floor:
                raise Invalid(f"公示天数不得少于{floor}天", {"notice_days": [f"本事项公示不得少于{floor}天"]})
            summary = f"拟定公开内容（公示{values['notice_days']}天）"
            publishes = (task.properties or {}).get("publishes")
            if publishes:
                # A notice its own body posts (发展对象公示: the 党支部, not the 监委会, whose supervision
                # covers 村务, not the Party's internal affairs).
                posting = self.prepare_posting(session, case, publishes, now,
                                                (task.properties or {}).get("notice_label"),
                                                own=(row, values, actor.name))
                extra["notice_until"] = iso(posting["notice_until"])
                extra["posted_at"] = iso(now)
                summary = f"{summary}，张榜公布"
        elif row.form == "objection_reply":
            objection = self.objection_for(session, case)
            if objection is None:
                raise Conflict("没有待答复的异议")
            objection.decision = values["decision"]
            objection.reply = values["reply"]
            objection.replied_by = actor.name
            objection.replied_at = now
            session.flush()
            remaining = session.scalar(select(func.count()).select_from(Objection).where(
                Objection.entry_id == objection.entry_id, Objection.decision.is_(None))) or 0
            extra["open_objections"] = remaining if values["decision"] == "dismiss" else 0
            summary = {"uphold": "异议成立，更正后重新公示", "escalate": "异议涉及决定本身，报乡镇纪委核查",
                       "dismiss": "异议不成立"}[values["decision"]] + f"：{values['reply']}"
        elif row.form == "inspection":
            summary = ("核查无问题，恢复办理" if values["finding"] == "dismiss" else "程序有缺陷，责令重做该环节") \
                + f"：{values['opinion']}"
        elif row.form == "statement_reply":
            summary = f"答复质询：{values['reply']}"
        elif row.form == "implementation":
            summary = f"实施情况：支出{forms.to_task_data(values)['amount_spent']}元"
            approved = self.approved_amount(session, case)
            if approved is not None and values["amount_spent"] > approved:
                from ..domain.money import spoken

                if not (values.get("over_budget_reason") or "").strip():
                    message = (f"实际支出{spoken(values['amount_spent'])}超过决议金额{spoken(approved)}，"
                               "须写明超支原因（将在实施结果公开中公布）")
                    raise Invalid(message, {"over_budget_reason": [message]})
                extra.update(approved_amount=str(approved), over_budget=True)
                summary += f"，超过决议金额{approved}元"

        if hasattr(schema, "summary_of"):  # forms that say what was decided themselves
            summary = schema.summary_of(values, extra)

        stored = forms.to_task_data(values)
        try:
            runtime.complete(wf, task_id, {**stored, **extra}, self.now)
        except SpiffWorkflowException as exc:
            raise Invalid(f"流程无法继续：{exc}") from exc

        row.state = "completed"
        row.completed_at = now
        row.completed_by = actor.id
        row.data = {**stored, **extra}
        if objection is not None:
            row.objection_id = objection.id
        # Evidence uploaded to the task is bound to the record; its hashes go into the step's event.
        bound = self.bind_attachments(session, row, now, deployed.meta, case.village)
        booked = {}
        if row.form == "payment":
            # R34: the money moves and is booked in one transaction; the step's out entry is its
            # voucher in the village's books (CONTRACT "The ledger").
            entry = ledger.record_payment(session, case, row, values, actor_id=actor.id, actor_name=actor.name,
                                          now=now)
            booked = {"ledger_entry": entry.id}
        elif row.form == "disposal_contract":
            # R40: the contract an asset-disposal case signs enters the contracts register in this
            # transaction, linked to the case and the asset (whose status follows).
            from ..records.assets import record_disposal_contract

            contract = record_disposal_contract(session, case, row, {
                **values, "kind": extra["contract_kind"], "entity": extra["contract_entity"],
                "asset_id": extra.get("contract_asset"), "subject": extra["contract_subject"]},
                by=actor.name, now=now)
            booked = {"ledger_contract": contract.id}
        elif hasattr(schema, "book"):
            # A step that receives money (一事一议筹资): its `in` entry in the step's own transaction,
            # audited like a receipt so `cunwu doctor` finds it deleted or altered.
            entry = schema.book(values, ctx)
            if entry is not None:
                booked = {"ledger_entry": entry.id}
                self.audit(session, action="ledger_receipt", actor=actor, case=case, task_id=task_id,
                            summary=f"登记收入：{ledger.ENTITIES[entry.entity]} {entry.account} "
                                    f"{ledger.money(entry.amount)}元（{entry.summary}）",
                            data={"entry": entry.id, "amount": ledger.money(entry.amount), "entity": entry.entity})
        self.audit(session, action="complete", actor=actor, case=case, task_id=task_id,
                    summary=f"{row.title}：{summary}" if summary else row.title,
                    data={**stored, **extra, **booked, **({"attachments": bound} if bound else {})})
        if posting is not None:
            entry = publicity.post(session, case.village, case_id=case.id, kind=posting["kind"],
                                   title=posting["title"], content=posting["content"], posted_at=now,
                                   notice_until=posting["notice_until"], posted_by=posting["posted_by"],
                                   reviewed_by=actor.name, refers_to_id=posting["refers_to"],
                                   evidence=posting["evidence"])
            self.audit(session, action="post", actor=actor, case=case,
                        summary=f"张榜公布：{entry.title}（公示至{local_text(posting['notice_until'])}）",
                        data={"entry": entry.id, "hash": entry.hash})
        if objection is not None:
            entry = session.get(BoardEntry, objection.entry_id)
            publicity.post(session, case.village, case_id=case.id, kind="objection_reply",
                           title=f"关于“{entry.title}”异议的答复",
                           content=f"异议：{objection.text}\n答复：{objection.reply}\n结论："
                                   + {"uphold": "异议成立，更正后重新公示",
                                      "escalate": "异议涉及决定本身，已暂停办理，报乡镇纪委核查"}.get(
                                       objection.decision, "异议不成立，公示继续"),
                           posted_at=now, posted_by=actor.name, reviewed_by=actor.name, refers_to_id=entry.id)
        self.sync(session, case, wf, deployed)
        if hasattr(schema, "after"):  # e.g. due dates of the next steps counted in working days
            schema.after(values, ctx)
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
        session.flush()

    def _returned_record(self, session: Session, case: Case, row: TaskRow) -> TaskRow | None:
        """The earlier record of this meeting task when the supervisor's latest review of it returned it."""
        previous = self.latest_done(session, case, name=row.name)
        if previous is None or not previous.data:
            return None
        review = self.latest_done(session, case, form="review", since=previous.completed_at)
        if review is None or not review.data or review.data.get("decision") != "return":
            return None
        return previous

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
                    row.state = "completed" if done else "cancelled"
                    row.completed_at = now
                else:
                    row.state = "cancelled"
        for t in open_tasks:
            if t.id in existing:
                existing[t.id].due_at = t.due_at if t.state == "waiting" else existing[t.id].due_at
                continue
            due = t.due_at if t.state == "waiting" else (now + timedelta(days=t.due_days) if t.due_days else None)
            added = TaskRow(id=t.id, case_id=case.id, village_id=case.village_id, name=t.name, title=t.title,
                            role=t.role, extra_roles=t.extra_roles, form=t.form, body=t.body, state=t.state,
                            created_at=now, due_at=due)
            session.add(added)
            tasks.append(added)
        status = runtime.end_status(wf)
        if status:
            case.status = status
            self.audit(session, action="end", actor=None, case=case, summary=f"事项{STATUS_ZH[status]}")
        # One UPDATE ... WHERE lock_version = <as loaded>: SQLAlchemy's version counter
        # (``version_id_col``) raises StaleDataError when someone else saved first.
        case.state = runtime.dumps(wf)
        case.next_timer_at = runtime.next_timer(wf)
        case.updated_at = now
        session.flush()

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
        if with_fields and session is not None and case.definition.key == ledger.FINANCE_PROCESS \
                and row.form in ("review", "statement_reply"):
            out["statement"] = self.case_statement(session, case)  # the books as they stand now
        if with_fields and session is not None and row.form == "disclosure" and row.state == "ready":
            floor = int(self.catalog.deployed(case.definition).meta.get("notice_days") or 7)
            out["prefill"] = {"content": self.draft_notice(session, case, row, floor), "notice_days": floor}
        if with_fields and session is not None and row.form == "objection_reply" and row.state == "ready":
            objection = self.objection_for(session, case)
            if objection is not None:
                out["objection"] = {"id": objection.id, "name": objection.name, "contact": objection.contact,
                                    "text": objection.text, "filed_at": iso(objection.filed_at)}
        return out
