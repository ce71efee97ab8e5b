"""The engine service: everything a person or a program can do goes through here.

One call = one database transaction: load the case (checking its lock version), apply the
action, run the engine until it waits, save the state, project the task rows, append audit
events and board entries. Either all of it lands or none of it does.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

from marshmallow import ValidationError
from SpiffWorkflow.exceptions import SpiffWorkflowException
from sqlalchemy import event, func, or_, select, update
from sqlalchemy.exc import IntegrityError, InterfaceError, OperationalError
from sqlalchemy.orm import Session, SessionTransactionOrigin, sessionmaker
from sqlalchemy.orm.exc import StaleDataError

from . import evidence, forms, holds, leads, ledger, notices, publicity, rules, runtime
from .accounts import Accounts, Bearer
from .assets_service import AssetsMixin
from .authz import Actor
from .catalog import CATEGORIES, Catalog, Deployed
from .clock import LOCAL_TZ, local_text
from .errors import Conflict, Forbidden, Invalid, NotAuthenticated, NotFound
from .ledger_service import LedgerMixin
from .models import AuditEvent, BoardEntry, Case, Objection, ProcessDefinition, TaskRow, User, Village
from .people import PeopleMixin
from .roles import HOLD_ROLES, LEVEL_NAMES, ROLES, level_of

MAX_ROUNDS = 30  # a step may be repeated at most this often in one case (keeps the task tree shallow)
STATUS_ZH = {"running": "办理中", "completed": "已办结", "rejected": "未通过", "withdrawn": "已撤回",
             "on_hold": "已暂停"}


def iso(value: datetime | None) -> str | None:
    return value.astimezone(UTC).isoformat() if value else None


class Engine(evidence.EvidenceMixin, leads.LeadsMixin, LedgerMixin, PeopleMixin, AssetsMixin):
    def __init__(self, sessions: sessionmaker[Session], clock: Callable[[], datetime], catalog: Catalog,
                 files=None):
        self.sessions = sessions
        self._clock = clock
        self.catalog = catalog
        self.accounts = Accounts(sessions)  # wall time: moving a demo clock logs nobody out
        self.files = files  # the attachments' file store (engine.evidence.LocalStore)

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

    def _village(self, session: Session, code: str) -> Village:
        village = session.scalar(select(Village).where(Village.code == code))
        if village is None:
            raise NotFound(f"没有编码为“{code}”的村")
        return village

    def _audit(self, session: Session, *, action: str, actor: Actor | None, case: Case | None = None,
               village_id: int | None = None, task_id: str | None = None, summary: str = "",
               data: dict | None = None, actor_name: str | None = None) -> None:
        session.add(AuditEvent(
            case_id=case.id if case else None, village_id=village_id or (case.village_id if case else None),
            actor_id=actor.id if actor else None, actor_name=actor_name or (actor.name if actor else "系统"),
            action=action, task_id=task_id, summary=summary, data=data, at=self.now(),
        ))

    # -- catalogue ----------------------------------------------------------------------
    # -- the case's task rows, read once per transaction ------------------------------------------
    def _case_tasks(self, session: Session, case: Case) -> list[TaskRow]:
        """Every task row of ``case`` (a few dozen at most: MAX_ROUNDS), read with one statement per
        transaction; the checks, the projection and the answer all work on this list. Rows that
        ``_sync`` adds join it; it is forgotten when the transaction (or a savepoint) ends."""
        cached = session.info.setdefault(_TASKS_KEY, {})
        rows = cached.get(case.id)
        if rows is None:
            rows = list(session.scalars(select(TaskRow).where(TaskRow.case_id == case.id)))
            cached[case.id] = rows
        return rows

    def _task_with_siblings(self, session: Session, task_id: str) -> TaskRow | None:
        """The task row ``task_id``, read in one statement with every other task row of its case
        (what ``_case_tasks`` then answers for that case in this transaction)."""
        owner = select(TaskRow.case_id).where(TaskRow.id == task_id).scalar_subquery()
        rows = list(session.scalars(select(TaskRow).where(TaskRow.case_id == owner)))
        row = next((r for r in rows if r.id == task_id), None)
        if row is not None:
            session.info.setdefault(_TASKS_KEY, {})[row.case_id] = rows
        return row

    def _latest_done(self, session: Session, case: Case, *, form: str | None = None,
                     name: str | None = None, since: datetime | None = None) -> TaskRow | None:
        """The most recently completed task of ``case`` (of ``form`` / ``name``, completed at or after
        ``since``)."""
        found = [r for r in self._case_tasks(session, case) if r.state == "completed"
                 and (form is None or r.form == form) and (name is None or r.name == name)
                 and (since is None or (r.completed_at is not None and r.completed_at >= since))]
        return max(found, key=_done_order, default=None)

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
        from .roles import role_for_lane

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

    # -- cases --------------------------------------------------------------------------
    def start_case(self, username: str, process: str, village_code: str, title: str, data: dict | None) -> dict:
        if process == ledger.FINANCE_PROCESS and isinstance(village_code, str):  # generated from the ledger
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
            village = self._village(session, village_code)
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
            self._audit(session, action="start", actor=actor, case=case, summary=f"发起“{deployed.name}”",
                        data={"title": title})
            self._sync(session, case, wf, deployed)
            # The starter's first task (e.g. 村党组织提议) is completed with the start data.
            first = [t for t in runtime.open_tasks(wf) if t.state == "ready"]
            if first and first[0].form and actor.may_complete(first[0].role, first[0].extra_roles, village):
                self._complete_loaded(session, actor, case, deployed, wf, first[0].id, data)
            return self._case_json(session, case)

    def get_case(self, username: str, case_id: int) -> dict:
        with self.sessions() as session:
            actor = self.actor(session, username)
            case = self._case_for(session, actor, case_id)
            out = self._case_json(session, case)
            lead = self._lead_block(session, actor, case) if case.definition.key == leads.LEAD_PROCESS else None
        if lead is not None:
            out["lead"] = lead
            self.audit_lead_view(actor, case.id, "name" in lead)
        return out

    def case_path(self, username: str | None, case_id: int) -> tuple[Deployed, list[str], list[str], str]:
        """For the case chart: (definition, completed BPMN ids in order, current ids, status)."""
        with self.sessions() as session:
            if username is None:
                case = _by_id(session, Case, case_id)
                if case is None:
                    raise NotFound(f"没有编号为{case_id}的事项")
            else:
                case = self._case_for(session, self.actor(session, username), case_id)
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

    def _case_for(self, session: Session, actor: Actor, case_id: int) -> Case:
        case = _by_id(session, Case, case_id)
        if case is None:
            raise NotFound(f"没有编号为{case_id}的事项")
        if not actor.can_view(case.village):
            raise Forbidden("您无权查看其他村的事项")
        if case.definition.key == leads.LEAD_PROCESS and not leads.may_see(
                actor, case.village, leads.lead_of_case(session, case.id), case):
            # R60: a lead is for the 纪检 roles of its jurisdiction only; to others it does not exist.
            raise NotFound(f"没有编号为{case_id}的事项")
        return case

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
            return [self._task_json(r, villages[r.village_id], cases[r.case_id], with_fields=False) for r in rows
                    if actor.may_complete(r.role, r.extra_roles, villages[r.village_id])
                    and actor.username not in (cases[r.case_id].excluded_users or [])]

    def get_task(self, username: str, task_id: str) -> dict:
        with self.sessions() as session:
            actor = self.actor(session, username)
            row = session.get(TaskRow, task_id)
            if row is None:
                raise NotFound(f"没有编号为{task_id}的任务")
            case = self._case_for(session, actor, row.case_id)
            out = self._task_json(row, case.village, case, with_fields=True, session=session)
            if case.definition.key == leads.LEAD_PROCESS:
                lead = self._lead_block(session, actor, case)
                if lead is not None:
                    out["lead"] = lead
            subject = self._subject(session, case, row)
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
                self._audit(session, action="read_personal", actor=actor, case=case, task_id=task_id,
                            summary=f"查看{what}", data={"objection": out.get("objection", {}).get("id"),
                                                       "fields": personal})
        return out

    def complete_task(self, username: str, task_id: str, data: dict) -> dict:
        if not isinstance(data, dict):
            raise Invalid("data 必须是对象", {"data": ["data 必须是对象（JSON object）"]})
        try:
            with self.transaction() as session:
                actor = self.actor(session, username)
                row = self._task_with_siblings(session, task_id)
                if row is None:
                    raise NotFound(f"没有编号为{task_id}的任务")
                case = self._case_for(session, actor, row.case_id)
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
                self._complete_loaded(session, actor, case, deployed, wf, task_id, data)
                return self._case_json(session, case)
        except IntegrityError as exc:
            raise Conflict("数据正被他人修改，请稍后重试") from exc

    def _complete_loaded(self, session: Session, actor: Actor, case: Case, deployed: Deployed, wf,
                         task_id: str, data: dict) -> None:
        row = session.get(TaskRow, task_id)
        open_now = {t.id: t for t in runtime.open_tasks(wf)}
        task = open_now.get(task_id)
        if task is None or task.state != "ready":
            raise Conflict("该任务已经办理，不能重复提交")
        if row.form not in forms.FORMS:
            raise Invalid(f"任务使用了未知的表单“{row.form}”")
        try:
            values = forms.load(row.form, data)
        except ValidationError as exc:
            fields = exc.messages if isinstance(exc.messages, dict) else {"data": exc.messages}
            raise Invalid("表单填写有误：" + _first_message(fields, row.form), fields) from exc
        schema = forms.FORMS[row.form]()
        checked: dict = {}
        ctx = forms.CheckContext(session=session, village=case.village, case=case, meta=deployed.meta,
                                 now=self.now(), actor=actor, task=row, properties=task.properties or {})
        if hasattr(schema, "check"):
            checked = dict(schema.check(values, ctx) or {})
            excluded = checked.pop("exclude_users", None)
            if excluded:
                case.excluded_users = sorted(set(case.excluded_users or []) | set(excluded))
        rounds = sum(1 for r in self._case_tasks(session, case) if r.name == row.name and r.state == "completed")
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
            self._meeting_dates(session, case, row, values, correcting)
            if row.body == "representatives":
                self._statutory_needs_assembly(session, case)
            extra, summary = self._meeting(case.village, row.body or "", values,
                                           (task.properties or {}).get("vote_rule"))
            if correcting is not None:
                extra["corrects"] = correcting.id
                summary = f"更正记录：{summary}"
        elif row.form == "review":
            self._no_self_review(session, actor, case, row)
            summary = {"approve": "审核同意", "return": f"退回更正记录：{values.get('opinion', '')}",
                       "object": f"对程序提出异议，报乡镇纪委核查：{values.get('opinion', '')}"}[values["decision"]]
            publishes = (task.properties or {}).get("publishes")
            if publishes == "finance" and values["decision"] == "approve":
                # 民主理财 (R27): the statement generated from the ledger is posted as approved.
                posting = self._finance_posting(session, case, now, int(deployed.meta.get("notice_days") or 7))
                extra["statement"] = posting.pop("statement")
                extra["notice_until"] = iso(posting["notice_until"])
                extra["posted_at"] = iso(now)
            elif publishes and values["decision"] == "approve":
                posting = self._prepare_posting(session, case, publishes, now,
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
                posting = self._prepare_posting(session, case, publishes, now,
                                                (task.properties or {}).get("notice_label"),
                                                own=(row, values, actor.name))
                extra["notice_until"] = iso(posting["notice_until"])
                extra["posted_at"] = iso(now)
                summary = f"{summary}，张榜公布"
        elif row.form == "objection_reply":
            objection = self._objection_for(session, case)
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
            approved = self._approved_amount(session, case)
            if approved is not None and values["amount_spent"] > approved:
                from .money import spoken

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
        bound = self._bind_attachments(session, row, now, deployed.meta, case.village)
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
            from .assets import record_disposal_contract

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
                self._audit(session, action="ledger_receipt", actor=actor, case=case, task_id=task_id,
                            summary=f"登记收入：{ledger.ENTITIES[entry.entity]} {entry.account} "
                                    f"{ledger.money(entry.amount)}元（{entry.summary}）",
                            data={"entry": entry.id, "amount": ledger.money(entry.amount), "entity": entry.entity})
        self._audit(session, action="complete", actor=actor, case=case, task_id=task_id,
                    summary=f"{row.title}：{summary}" if summary else row.title,
                    data={**stored, **extra, **booked, **({"attachments": bound} if bound else {})})
        if posting is not None:
            entry = publicity.post(session, case.village, case_id=case.id, kind=posting["kind"],
                                   title=posting["title"], content=posting["content"], posted_at=now,
                                   notice_until=posting["notice_until"], posted_by=posting["posted_by"],
                                   reviewed_by=actor.name, refers_to_id=posting["refers_to"],
                                   evidence=posting["evidence"])
            self._audit(session, action="post", actor=actor, case=case,
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
        self._sync(session, case, wf, deployed)
        if hasattr(schema, "after"):  # e.g. due dates of the next steps counted in working days
            schema.after(values, ctx)
        if values.get("decision") is not None and values.get("decision") == getattr(schema, "holds_on", None):
            # D9: an objection to the procedure holds the case; the township 纪委 inspects it (and
            # only that level or a higher one may release it).
            reason = f"{actor.name}提出异议，待乡镇纪委核查：" + (values.get("opinion") or values.get("reply"))
            holds.place(case, by=actor.username, level=level_of("discipline_inspector"), reason=reason)
            self._audit(session, action="hold", actor=actor, case=case, summary=f"暂停事项：{reason}")
            notices.hold_changed(session, case, released=False, now=now)
        elif getattr(schema, "releases_hold", False) and case.status == "on_hold":
            holds.lift(case)
            self._audit(session, action="release", actor=actor, case=case, summary=f"乡镇纪委核查后恢复办理：{summary}")
            notices.hold_changed(session, case, released=True, now=now)
        session.flush()

    def _returned_record(self, session: Session, case: Case, row: TaskRow) -> TaskRow | None:
        """The earlier record of this meeting task when the supervisor's latest review of it returned it."""
        previous = self._latest_done(session, case, name=row.name)
        if previous is None or not previous.data:
            return None
        review = self._latest_done(session, case, form="review", since=previous.completed_at)
        if review is None or not review.data or review.data.get("decision") != "return":
            return None
        return previous

    def _meeting(self, village: Village, body: str, values: dict, vote_rule: str | None = None) -> tuple[dict, str]:
        if body not in rules.BODIES:
            raise Invalid(f"会议类型“{body}”未知")
        should = getattr(village, rules.BODY_MEMBERS[body])
        errors = rules.tally_errors(body, should_attend=should, attended=values["attended"],
                                    approve=values["approve"], oppose=values["oppose"], abstain=values["abstain"],
                                    households=village.households,
                                    attended_households=values.get("attended_households"))
        written_approve, written_oppose = values.get("written_approve") or 0, values.get("written_oppose") or 0
        if (written_approve or written_oppose) and vote_rule != "party_admission":
            message = "书面意见只在讨论接收（转正）预备党员的支部大会计入票数（《中国共产党发展党员工作细则》第二十一条），本会议不填"
            errors["written_approve"] = [message]
        elif values["attended"] <= should and written_approve + written_oppose > should - values["attended"]:
            message = (f"书面意见赞成、反对合计（{written_approve + written_oppose}）不能超过未到会的有表决权党员人数"
                       f"（应到{should}人，实到{values['attended']}人，未到{should - values['attended']}人）")
            errors["written_approve"] = [message]
        if errors:
            raise Invalid("会议记录数字有误：" + _first_message(errors), errors)
        result = rules.evaluate_meeting(body, should_attend=should, attended=values["attended"],
                                        approve=values["approve"], on=values["held_on"],
                                        households=village.households,
                                        attended_households=values.get("attended_households") or 0,
                                        settings=village.settings, vote_rule=vote_rule,
                                        written_approve=written_approve)
        extra = {"outcome": result.outcome, "should_attend": should, "rules_version": result.rules_version,
                 "outcome_reason": result.reason}
        return extra, result.reason

    def _statutory_needs_assembly(self, session: Session, case: Case) -> None:
        """Rule 1 (R2, 组织法第二十四条): a 村民代表会议 decides a 第二十四条 matter only under the 村民会议's
        authorisation on file, checked again at the 决议 itself (it may have been withdrawn since the 提议)."""
        from .matters import MATTERS, STATUTORY
        from .settings import authorised_representatives

        proposal = self._latest_done(session, case, form="proposal")
        matter = ((proposal.data or {}) if proposal is not None else {}).get("matter")
        if matter in STATUTORY and not authorised_representatives(case.village):
            message = (f"“{MATTERS[matter]}”是《村民委员会组织法》第二十四条规定的事项，须由村民会议决定；"
                       "本村没有登记村民会议对村民代表会议的授权，村民代表会议不能对此表决")
            raise Invalid(message, {"_schema": [message]})

    def _approved_amount(self, session: Session, case: Case):
        """The amount the case's proposal asked for and its resolution approved (None: no amount)."""
        from decimal import Decimal

        proposal = self._latest_done(session, case, form="proposal")
        amount = ((proposal.data or {}) if proposal is not None else {}).get("amount")
        return Decimal(str(amount)) if amount not in (None, "") else None

    def draft_notice(self, session: Session, case: Case, row: TaskRow, floor: int) -> str:
        """A disclosure drafted from the record (the decision, the vote, the amount, the spending),
        for the cadre to edit rather than write from nothing."""
        from .money import spoken

        done = self._completions(session, case)
        proposal = next((r.data or {} for r in reversed(done) if r.form == "proposal"), {})
        lines = [f"事项：{case.title}"]
        if "result" in (row.name or ""):
            implementation = next((r.data or {} for r in reversed(done) if r.form == "implementation"), {})
            if implementation.get("summary"):
                lines.append(f"实施情况：{implementation['summary']}")
            if proposal.get("amount") not in (None, ""):
                lines.append(f"决议金额：{spoken(proposal['amount'])}")
            if implementation.get("amount_spent") not in (None, ""):
                lines.append(f"实际支出：{spoken(implementation['amount_spent'])}")
            if implementation.get("over_budget_reason"):
                lines.append(f"超支原因：{implementation['over_budget_reason']}")
        else:
            if proposal.get("summary"):
                lines.append(f"方案：{proposal['summary']}")
            if proposal.get("amount") not in (None, ""):
                lines.append(f"涉及金额：{spoken(proposal['amount'])}")
            meeting = next((r for r in reversed(done) if r.form == "meeting"
                            and (r.data or {}).get("outcome") == "passed"), None)
            if meeting is not None:
                d = meeting.data
                lines.append(f"{rules.BODIES.get(meeting.body or '', '会议')}于{d.get('held_on')}表决：应到{d.get('should_attend')}人，"
                             f"实到{d.get('attended')}人，赞成{d.get('approve')}票，反对{d.get('oppose')}票，"
                             f"弃权{d.get('abstain')}票，表决通过。")
        preliminary = next((r.data or {} for r in reversed(done) if r.form == "welfare_preliminary"), None)
        if preliminary is not None:  # 低保/特困/临时救助: the 乡镇's 初审 notice; the 乡镇 answers objections
            if preliminary.get("amount") not in (None, ""):
                lines.append(f"乡镇初审意见：拟同意，拟核定金额{spoken(preliminary['amount'])}")
            lines.append(f"公示期{floor}天。如有异议，请在公示期内提出（可不署名），由乡镇人民政府核实答复"
                         "（《最低生活保障审核确认办法》第二十条）。")
            return "\n".join(lines)
        to = "党支部" if row.role == "party_secretary" else "村务监督委员会"  # 发展对象公示: the 党支部 answers
        lines.append(f"公示期{floor}天。如有异议，请在公示期内向{to}提出（可不署名）。")
        return "\n".join(lines)

    def _meeting_dates(self, session: Session, case: Case, row: TaskRow, values: dict,
                       correcting: TaskRow | None) -> None:
        """A meeting's dates as they can have been (CONTRACT "What people see"; 组织法第二十一条):
        not after today (Beijing time), not before the case began, not before a meeting already
        recorded in the case; a 村民会议 announced at least ten days ahead; 列席 only where the law
        in force on the meeting day lets the 监委会 attend."""
        held_on = values["held_on"]
        errors: dict[str, list[str]] = {}
        today = self.now().astimezone(LOCAL_TZ).date()
        began = case.created_at.astimezone(LOCAL_TZ).date()
        if held_on > today:
            errors["held_on"] = [f"会议日期{held_on.isoformat()}晚于今天（{today.isoformat()}），请填写实际开会的日期"]
        elif held_on < began:
            errors["held_on"] = [f"会议日期{held_on.isoformat()}早于本事项发起的日期（{began.isoformat()}）"]
        else:
            earlier = [r for r in self._case_tasks(session, case) if r.state == "completed" and r.form == "meeting"
                       and r.id != row.id and (correcting is None or r.id != correcting.id) and (r.data or {}).get("held_on")]
            latest = max(earlier, key=lambda r: r.data["held_on"], default=None)
            if latest is not None and held_on.isoformat() < latest.data["held_on"]:
                errors["held_on"] = [f"会议日期早于本事项已记录的“{latest.title}”（{latest.data['held_on']}）"]
        if row.body == "villager_assembly":
            problem = rules.assembly_notice_error(held_on, values.get("announced_on"))
            if problem:
                errors["announced_on"] = [problem]
        if (values.get("supervisors_present") or values.get("supervisor_opinion")) and row.body:
            problem = rules.supervisor_attendance_error(row.body, held_on)
            if problem:
                errors["supervisors_present"] = [problem]
        if errors:
            raise Invalid("；".join(m for messages in errors.values() for m in messages), errors)

    def _no_self_review(self, session: Session, actor: Actor, case: Case, row: TaskRow) -> None:
        reviewed = self._judged_record(self._completions(session, case), row)
        if reviewed is not None and reviewed.completed_by == actor.id and actor.id is not None:
            raise Forbidden(f"不能审核本人提交的记录（“{reviewed.title}”由您办理）")

    def _prepare_posting(self, session: Session, case: Case, kind: str, now: datetime,
                         label: str | None = None, own: tuple[TaskRow, dict, str] | None = None) -> dict:
        """The notice to post from the newest drafted disclosure; ``own``: (row, data, drafter's name)
        of a disclosure being completed that posts itself (a body that publishes its own notice)."""
        if own is not None:
            draft, draft_data, drafter_name = own
        else:
            draft = self._latest_done(session, case, form="disclosure")
            if draft is None or not draft.data:
                raise Conflict("还没有拟定公开内容，不能张榜")
            drafter = session.get(User, draft.completed_by) if draft.completed_by else None
            draft_data, drafter_name = draft.data, (drafter.name if drafter else "")
        previous = session.scalar(select(BoardEntry).where(
            BoardEntry.case_id == case.id, BoardEntry.kind == kind).order_by(BoardEntry.seq.desc()).limit(1))
        label = label or publicity.KINDS.get(kind, "公开")
        content = draft_data["content"]
        spent = self._latest_done(session, case, form="implementation") if kind == "result" else None
        if spent is not None and (spent.data or {}).get("over_budget"):
            # Overspending is disclosed: the notice states both amounts and the reason, however it was drafted.
            from .money import spoken

            d = spent.data
            stated = f"决议金额{spoken(d['approved_amount'])}，实际支出{spoken(d['amount_spent'])}，超支原因：{d.get('over_budget_reason', '')}"
            if d.get("over_budget_reason", "") not in content or "超支" not in content:
                content = f"{content}\n（{stated}）"
        return {
            "kind": kind,
            "title": f"{case.title}（{label}）" if previous is None else f"{case.title}（{label}·重新公示）",
            "content": content,
            "notice_until": now + timedelta(days=int(draft_data.get("notice_days") or 7)),
            "posted_by": drafter_name,
            "refers_to": previous.id if previous else None,
            # The drafted disclosure's photos: the board shows copies without location data.
            "evidence": self._public_evidence(session, draft.id, case),
        }

    def _current_entry(self, session: Session, case: Case) -> BoardEntry | None:
        return session.scalar(select(BoardEntry).where(
            BoardEntry.case_id == case.id, BoardEntry.kind != "objection_reply",
            BoardEntry.notice_until.is_not(None)).order_by(BoardEntry.seq.desc()).limit(1))

    def _objection_for(self, session: Session, case: Case) -> Objection | None:
        entry = self._current_entry(session, case)
        if entry is None:
            return None
        return session.scalar(select(Objection).where(Objection.entry_id == entry.id, Objection.decision.is_(None))
                              .order_by(Objection.id).limit(1))

    # -- projection ---------------------------------------------------------------------
    def _sync(self, session: Session, case: Case, wf, deployed: Deployed) -> None:
        """Save the workflow state with the optimistic lock and project its open tasks."""
        now = self.now()
        open_tasks = runtime.open_tasks(wf)
        open_ids = {t.id for t in open_tasks}
        tasks = self._case_tasks(session, case)
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
            self._audit(session, action="end", actor=None, case=case, summary=f"事项{STATUS_ZH[status]}")
        # One UPDATE ... WHERE lock_version = <as loaded>: SQLAlchemy's version counter
        # (``version_id_col``) raises StaleDataError when someone else saved first.
        case.state = runtime.dumps(wf)
        case.next_timer_at = runtime.next_timer(wf)
        case.updated_at = now
        session.flush()

    # -- objections and the board ---------------------------------------------------------
    def file_objection(self, entry_id: int, name: str, contact: str, text: str) -> dict:
        errors: dict[str, list[str]] = {}
        name = "" if name is None else name  # optional: people will not object under their name on a village wall
        if not isinstance(name, str):
            errors["name"] = ["姓名格式不正确"]
        elif len(name) > 100:
            errors["name"] = ["姓名不能超过100字"]
        if contact is not None and not isinstance(contact, str):
            errors["contact"] = ["联系方式格式不正确"]
        elif contact and len(contact) > 200:
            errors["contact"] = ["联系方式不能超过200字"]
        if not isinstance(text, str) or not text.strip():
            errors["text"] = ["请填写异议内容"]
        elif len(text) > 5000:
            errors["text"] = ["异议内容不能超过5000字"]
        if errors:
            raise Invalid("异议填写有误：" + _first_message(errors), errors)
        with self.transaction() as session:
            entry = _by_id(session, BoardEntry, entry_id)
            if entry is None:
                raise NotFound(f"公开栏没有编号为{entry_id}的条目")
            now = self.now()
            if entry.notice_until is None or entry.kind == "objection_reply":
                raise Conflict("该条目不在公示期内，不接受异议；如有意见请向村务监督委员会或乡镇反映")
            if now >= entry.notice_until:
                raise Conflict(f"该条目已于{local_text(entry.notice_until)}公示期满，不再接受异议；"
                               "如有意见请向村务监督委员会或乡镇反映")
            # Lock the case first: objections filed at the same moment are taken one after another.
            lock = {"of": Case, "key_share": True} if session.bind.dialect.name == "postgresql" else None
            case = session.get(Case, entry.case_id, with_for_update=lock, populate_existing=True) \
                if entry.case_id else None
            if case is not None and (current := self._current_entry(session, case)) is not None \
                    and current.id != entry.id:
                raise Conflict("该公示已被新的公示取代，请对最新公示提出异议")
            objection = Objection(entry_id=entry.id, name=name.strip(), contact=(contact or "").strip(),
                                  text=text.strip(), filed_at=now)
            session.add(objection)
            session.flush()
            self._audit(session, action="objection", actor=None, actor_name="村民", case=case,
                        village_id=entry.village_id, summary=f"对“{entry.title}”提出异议",
                        data={"objection": objection.id, "entry": entry.id})
            if case is not None and case.status in ("running", "on_hold"):
                deployed = self.catalog.deployed(case.definition)
                wf = runtime.loads(case.state, deployed.spec, deployed.subprocess_specs)
                if runtime.waiting_for_signal(wf, "objection"):
                    runtime.send_signal(wf, "objection", self.now)
                    self._sync(session, case, wf, deployed)
                else:  # a reply task is already open; it will loop until none is left
                    session.execute(update(Case).where(Case.id == case.id).values(updated_at=now))
            # Told: whoever answers the objection (the 监委会; the 党支部 for a 发展对象公示) and the 纪委.
            answering = {r for r in session.scalars(select(TaskRow.role).where(
                TaskRow.case_id == case.id, TaskRow.state == "ready", TaskRow.form == "objection_reply"))
                if r} if case is not None else set()
            notices.objection_filed(session, case, case.village if case else session.get(Village, entry.village_id),
                                    entry.title, now, answering=answering or None)
            return {"id": objection.id, "entry": entry.id, "filed_at": iso(now), "status": "received"}

    def board(self, village_code: str, limit: int = 200) -> list[dict]:
        with self.sessions() as session:
            village = self._village(session, village_code)
            entries = list(session.scalars(select(BoardEntry).where(BoardEntry.village_id == village.id)
                                           .order_by(BoardEntry.seq.desc()).limit(limit)))
            objections = publicity.objections_of(session, [e.id for e in entries])
            return [self._entry_json(e, village, objections[e.id]) for e in entries]

    def board_entry(self, entry_id: int) -> dict:
        with self.sessions() as session:
            entry = _by_id(session, BoardEntry, entry_id)
            if entry is None:
                raise NotFound(f"公开栏没有编号为{entry_id}的条目")
            village = session.get(Village, entry.village_id)
            return self._entry_json(entry, village, publicity.objections_of(session, [entry.id])[entry.id])

    def verify_board(self, village_code: str) -> dict:
        with self.sessions() as session:
            return publicity.verify(session, self._village(session, village_code))

    def verify_all_boards(self) -> list[tuple[str, dict]]:
        with self.sessions() as session:
            return [(v.code, publicity.verify(session, v)) for v in session.scalars(select(Village).order_by(Village.code))]

    # -- timers ---------------------------------------------------------------------------
    def due_case_ids(self, session: Session, limit: int, *, lock: bool = False,
                     exclude: Collection[int] = ()) -> list[int]:
        """Running cases whose next timer is due by the clock, earliest first. With ``lock`` on
        PostgreSQL the rows are claimed ``FOR UPDATE SKIP LOCKED``: rows another worker holds are
        passed over, and a row it has just fired is no longer due when re-checked."""
        stmt = (select(Case.id).where(Case.next_timer_at.is_not(None), Case.next_timer_at < self.now(),
                                      Case.status == "running").order_by(Case.next_timer_at, Case.id).limit(limit))
        if exclude:
            stmt = stmt.where(Case.id.not_in(list(exclude)))
        if lock and session.bind.dialect.name == "postgresql":
            stmt = stmt.with_for_update(skip_locked=True)
        return list(session.scalars(stmt))

    def run_timers(self, batch: int = 50) -> int:
        """Fire every timer that is due by the clock, once. Returns the number of cases moved.

        Due cases are claimed in small batches, one transaction per batch (on PostgreSQL with
        ``FOR UPDATE SKIP LOCKED``, so several workers share the work and never fire a case
        twice; on SQLite the write lock makes workers take turns). Each case runs in its own
        savepoint: a case that fails is logged and left due, and does not hold up the others."""
        import logging

        fired = 0
        skip: set[int] = set()  # failed, or still due after firing: not again in this sweep
        while True:
            with self.transaction() as session:
                ids = self.due_case_ids(session, batch, lock=True, exclude=skip)
                for case_id in ids:
                    try:
                        with session.begin_nested():
                            moved, still_due = self._fire_timers(session, case_id)
                            fired += moved
                            if still_due:
                                skip.add(case_id)
                    except (OperationalError, InterfaceError):
                        raise  # the connection or the transaction is gone: not this case's fault
                    except Exception:  # noqa: BLE001 - one broken case must not stop the sweep
                        skip.add(case_id)
                        logging.getLogger("cunwu.timers").exception("定时事件处理失败：事项%s", case_id)
            if len(ids) < batch:
                break
        # A period of the books has ended: open its 财务公开 in every village (R26).
        fired += self.open_finance_disclosures()
        self.scan_overdue()
        self.scan_receivables()
        return fired

    def scan_receivables(self) -> int:
        """Tell of contract amounts fallen due and overdue unpaid (once per due date and stage;
        engine/receivables.py, notice kind ``receivable``)."""
        from . import receivables

        return receivables.scan(self.sessions, self.now())

    def scan_overdue(self) -> int:
        """Tell of ready tasks past their due date (once per task; CONTRACT.md, kind ``overdue``)."""
        return notices.scan_overdue(self.sessions, self.now())

    def deliver_notices(self, channels, **kw) -> dict[str, int]:
        """Send the outbox to the configured channels (``cunwu worker``; engine.delivery)."""
        from . import delivery

        return delivery.deliver(self.sessions, self.now, channels, **kw)

    def notice_desk(self, username: str) -> dict:
        """The admin's view of the outbox: counts and what failed (``/admin/notices``)."""
        from . import delivery

        with self.sessions() as session:
            if not self.actor(session, username).is_admin():
                raise Forbidden("通知发送情况仅供系统管理员查看")
            return delivery.desk(session)

    def township_notices(self, username: str, **filters) -> dict:
        """What was sent about the villages of one's township (township officials and 纪委)."""
        with self.sessions() as session:
            actor = self.actor(session, username)
            villages = [v for v in session.scalars(select(Village).order_by(Village.township, Village.code))
                        if actor.roles_in(v) & notices.DESK_ROLES]
            if not villages:
                raise Forbidden("通知发送情况仅供乡镇干部和乡镇纪委查看")
            out = notices.sent_desk(session, actor, villages, **filters)
            out["villages"] = [{"code": v.code, "name": v.name, "township": v.township} for v in villages]
            out["townships"] = sorted({v.township for v in villages})
            return out

    def resend_notice(self, username: str, message_id: int) -> None:
        from . import delivery

        with self.transaction() as session:
            actor = self.actor(session, username)
            if not actor.is_admin():
                raise Forbidden("只有系统管理员可以重发通知")
            m = delivery.resend(session, message_id, self.now())
            self._audit(session, action="resend_notice", actor=actor, summary=f"重发通知（{m.channel}）：{m.subject}",
                        data={"outbox": m.id})

    # -- the inbox ------------------------------------------------------------------------
    def notifications(self, username: str) -> list[dict]:
        with self.sessions() as session:
            return notices.inbox(session, self.actor(session, username).id)

    def unread_notifications(self, username: str) -> int:
        with self.sessions() as session:
            return notices.unread(session, self.actor(session, username).id)

    def notice_preferences(self, username: str) -> dict:
        """The person's own notice preferences and where notices can reach them."""
        with self.sessions() as session:
            user = session.get(User, self.actor(session, username).id)
            return {**notices.preferences(user), "contact": {"phone": user.phone, "email": user.email}}

    def set_notice_preferences(self, username: str, raw: dict) -> dict:
        """Change one's own preferences (keys not given keep their value); audited."""
        changes = notices.check_preferences(raw)
        with self.transaction() as session:
            actor = self.actor(session, username)
            user = session.get(User, actor.id)
            before = notices.preferences(user)
            user.notice_prefs = {**before, **changes}
            after = notices.preferences(user)
            if after["digest_hour"] != before["digest_hour"]:  # what waits for the digest follows the new choice
                from .models import OutboxMessage

                when = (notices.next_digest(self.now(), after["digest_hour"]) if after["digest_hour"] is not None
                        else self.now())
                session.execute(update(OutboxMessage).where(OutboxMessage.user_id == user.id,
                                                            OutboxMessage.status == "digest").values(next_at=when))
            if after != before:
                self._audit(session, action="notice_prefs", actor=actor, summary="修改通知设置：" + notices.describe(after),
                            data={"before": before, "after": after})
            return {**after, "contact": {"phone": user.phone, "email": user.email}}

    def read_notification(self, username: str, notice_id: int) -> dict:
        with self.transaction() as session:
            return notices.mark_read(session, self.actor(session, username).id, notice_id, self.now())

    def _fire_timers(self, session: Session, case_id: int) -> tuple[int, bool]:
        """Run one due case's timers; ``(1 if it moved else 0, still due)``."""
        lock = {"of": Case, "key_share": True} if session.bind.dialect.name == "postgresql" else None  # not the joined rows
        case = session.get(Case, case_id, with_for_update=lock, populate_existing=True)
        now = self.now()
        if case is None or case.status != "running" or case.next_timer_at is None or case.next_timer_at >= now:
            return 0, False
        deployed = self.catalog.deployed(case.definition)
        wf = runtime.loads(case.state, deployed.spec, deployed.subprocess_specs)
        before = {t.id: t for t in runtime.open_tasks(wf)}
        runtime.run(wf, self.now)
        after = {t.id for t in runtime.open_tasks(wf)}
        moved = set(before) != after
        if moved:
            ended = "、".join(t.title for i, t in before.items() if i not in after and t.state == "waiting")
            self._audit(session, action="timer", actor=None, case=case,
                        summary=f"{ended or '定时'}：时间已到，流程继续")
        self._sync(session, case, wf, deployed)
        return (1 if moved else 0), case.next_timer_at is not None and case.next_timer_at < now

    # -- hold -----------------------------------------------------------------------------
    def hold_case(self, username: str, case_id: int, reason: str) -> dict:
        if not isinstance(reason, str) or not reason.strip():
            raise Invalid("请填写暂停理由", {"reason": ["请填写暂停理由"]})
        with self.transaction() as session:
            actor = self.actor(session, username)
            case = self._case_for(session, actor, case_id)
            held = actor.roles_in(case.village) & HOLD_ROLES
            if not held:
                raise Forbidden("只有村务监督委员会、乡镇干部、乡镇纪委或县纪委可以暂停事项")
            if case.status != "running":
                raise Conflict(f"事项{STATUS_ZH.get(case.status, case.status)}，不能暂停")
            level = max(level_of(r) for r in held)
            holds.place(case, by=actor.username, level=level, reason=reason.strip())
            self._audit(session, action="hold", actor=actor, case=case,
                        summary=f"{LEVEL_NAMES[level]}暂停事项：{reason.strip()}")
            notices.hold_changed(session, case, released=False, now=self.now())
            return self._case_json(session, case)

    def release_case(self, username: str, case_id: int, note: str = "") -> dict:
        with self.transaction() as session:
            actor = self.actor(session, username)
            case = self._case_for(session, actor, case_id)
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
            self._audit(session, action="release", actor=actor, case=case,
                        summary=f"{LEVEL_NAMES[level]}恢复办理{('：' + note) if note else ''}")
            notices.hold_changed(session, case, released=True, now=self.now())
            return self._case_json(session, case)

    # -- JSON shapes ------------------------------------------------------------------------
    def _case_summary(self, case: Case) -> dict:
        return {"id": case.id, "process": case.definition.key, "process_name": case.definition.name,
                "category": case.definition.category,
                "version": case.definition.version, "village": case.village.code, "village_name": case.village.name,
                "title": case.title, "status": case.status, "status_name": STATUS_ZH.get(case.status, case.status),
                "created_at": iso(case.created_at), "updated_at": iso(case.updated_at)}

    # -- what a decision is about (CONTRACT "What people see": ``subject``) ---------------------
    JUDGING_FORMS = ("review", "objection_reply", "inspection")

    def _record_json(self, session: Session, row: TaskRow) -> dict:
        by = session.get(User, row.completed_by) if row.completed_by else None
        out = {"task": row.id, "title": row.title, "form": row.form, "data": row.data or {},
               "by": by.name if by else "", "at": iso(row.completed_at)}
        if row.body:
            out["body"] = row.body
            out["body_name"] = rules.BODIES.get(row.body, row.body)
        return out

    def _completions(self, session: Session, case: Case) -> list[TaskRow]:
        """The case's completed steps in the order they were done (the audit log's order)."""
        rows = session.execute(select(AuditEvent.id, TaskRow).join(TaskRow, TaskRow.id == AuditEvent.task_id).where(
            AuditEvent.case_id == case.id, AuditEvent.action == "complete", TaskRow.form.is_not(None))
            .order_by(AuditEvent.id)).all()
        seen: dict[str, TaskRow] = {}
        for _, row in rows:  # one entry per step, at its completion
            seen.pop(row.id, None)
            seen[row.id] = row
        return list(seen.values())

    def _judged_record(self, done: list[TaskRow], upto: TaskRow | None) -> TaskRow | None:
        """The newest stage record completed before ``upto`` (or before now when it is still open)."""
        before = done[:done.index(upto)] if upto is not None and upto in done else done
        return next((r for r in reversed(before) if r.form not in self.JUDGING_FORMS), None)

    def _notice_subject(self, session: Session, case: Case, entry: BoardEntry | None,
                        objection: Objection | None) -> dict | None:
        if entry is None:
            return None
        data = {"content": entry.content, "posted_at": iso(entry.posted_at), "notice_until": iso(entry.notice_until)}
        if objection is not None:
            data["objection"] = objection.text  # the objection's text, never who filed it
        return {"task": None, "title": entry.title, "form": "notice", "data": data, "by": entry.posted_by,
                "at": iso(entry.posted_at)}

    def _subject(self, session: Session, case: Case, row: TaskRow) -> dict | None:
        """The record a review, objection reply or inspection decides about, so nobody approves blind."""
        if row.form == "review":
            record = self._judged_record(self._completions(session, case), row)
            return self._record_json(session, record) if record is not None else None
        if row.form == "objection_reply":
            objection = self._objection_for(session, case) if row.state == "ready" else None
            entry = session.get(BoardEntry, objection.entry_id) if objection is not None else \
                self._current_entry(session, case)
            return self._notice_subject(session, case, entry, objection)
        if row.form == "inspection":
            done = self._completions(session, case)
            before = done[:done.index(row)] if row in done else done
            raised = next((r for r in reversed(before) if r.form in ("review", "objection_reply")
                           and (r.data or {}).get("decision") in ("object", "escalate")), None)
            if raised is None:
                return None
            if raised.form == "review":
                record = self._judged_record(done, raised)
                subject = self._record_json(session, record) if record is not None else None
            else:
                subject = self._notice_subject(session, case, self._current_entry(session, case), None)
            if subject is not None:
                who = session.get(User, raised.completed_by) if raised.completed_by else None
                subject["raised_by"] = {"title": raised.title, "by": who.name if who else "",
                                        "at": iso(raised.completed_at), "opinion": (raised.data or {}).get(
                                            "opinion") or (raised.data or {}).get("reply") or ""}
            return subject
        return None

    def _case_json(self, session: Session, case: Case) -> dict:
        out = self._case_summary(case)
        tasks = self._case_tasks(session, case)
        rows = sorted((r for r in tasks if r.state in ("ready", "waiting")), key=lambda r: (r.created_at, r.id))
        out["tasks"] = [self._task_json(r, case.village, case, with_fields=False) for r in rows]
        # The columns the history shows, not AuditEvent objects (nothing here changes them).
        events = session.execute(select(AuditEvent.at, AuditEvent.actor_name, AuditEvent.action, AuditEvent.task_id,
                                        AuditEvent.summary).where(AuditEvent.case_id == case.id).order_by(AuditEvent.id))
        files = self.case_attachments(session, case.id)
        done = {r.id: r for r in tasks if r.state == "completed" and r.form is not None}
        out["history"] = [{"at": iso(e.at), "actor": e.actor_name, "action": e.action, "task": e.task_id,
                           "summary": e.summary,
                           **({"form": done[e.task_id].form, "data": done[e.task_id].data or {},
                               **({"body": done[e.task_id].body} if done[e.task_id].body else {})}
                              if e.action == "complete" and e.task_id in done else {}),
                           **({"attachments": [evidence.history_item(a) for a in files[e.task_id]]}
                              if e.action == "complete" and e.task_id in files else {})} for e in events]
        entries = session.execute(select(BoardEntry.id, BoardEntry.seq, BoardEntry.kind, BoardEntry.title,
                                         BoardEntry.notice_until).where(BoardEntry.case_id == case.id)
                                  .order_by(BoardEntry.seq))
        out["board"] = [{"id": e.id, "seq": e.seq, "kind": e.kind, "title": e.title,
                         "notice_until": iso(e.notice_until)} for e in entries]
        out["hold_reason"] = case.hold_reason
        return out

    def _task_json(self, row: TaskRow, village: Village, case: Case, *, with_fields: bool,
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
            out["statement"] = self._finance_statement(session, case)  # the books as they stand now
        if with_fields and session is not None and row.form == "disclosure" and row.state == "ready":
            floor = int(self.catalog.deployed(case.definition).meta.get("notice_days") or 7)
            out["prefill"] = {"content": self.draft_notice(session, case, row, floor), "notice_days": floor}
        if with_fields and session is not None and row.form == "objection_reply" and row.state == "ready":
            objection = self._objection_for(session, case)
            if objection is not None:
                out["objection"] = {"id": objection.id, "name": objection.name, "contact": objection.contact,
                                    "text": objection.text, "filed_at": iso(objection.filed_at)}
        return out

    def _entry_json(self, entry: BoardEntry, village: Village, objections: list[Objection]) -> dict:
        now = self.now()
        return {
            "id": entry.id, "seq": entry.seq, "village": village.code, "case": entry.case_id, "kind": entry.kind,
            "kind_name": publicity.KINDS.get(entry.kind, entry.kind), "title": entry.title,
            "content": entry.content, "posted_at": iso(entry.posted_at), "notice_until": iso(entry.notice_until),
            "in_notice": bool(entry.notice_until and now < entry.notice_until and entry.kind != "objection_reply"),
            "posted_by": entry.posted_by, "reviewed_by": entry.reviewed_by, "refers_to": entry.refers_to_id,
            "hash": entry.hash, "evidence": entry.evidence or [],
            "objections": [{"id": o.id, "text": o.text, "filed_at": iso(o.filed_at),
                            "decision": o.decision, "reply": o.reply, "replied_at": iso(o.replied_at)}
                           for o in objections],
        }


_TASKS_KEY = "cunwu.case_tasks"
_NEVER = datetime.min.replace(tzinfo=UTC)


def _done_order(row: TaskRow) -> tuple[datetime, datetime]:
    return row.completed_at or _NEVER, row.created_at or _NEVER


@event.listens_for(Session, "after_transaction_end")
def _forget_case_tasks(session: Session, transaction) -> None:
    """The task list read by ``Engine._case_tasks`` lives as long as the transaction (or savepoint)
    it was read in: after a rollback it could hold rows that were never written. (A flush's inner
    subtransaction is not an end.) Likewise the case's attachments read by ``_bind_attachments``."""
    if transaction.origin is not SessionTransactionOrigin.SUBTRANSACTION:
        session.info.pop(_TASKS_KEY, None)
        session.info.pop(evidence.CASE_ATTACHMENTS_KEY, None)


def _by_id(session: Session, model, ident):
    """``session.get`` for integer keys that may come from a URL: out-of-range ids (which
    SQLite cannot even bind) are simply not found."""
    if isinstance(ident, bool) or not isinstance(ident, int) or not 0 < ident < 2**63:
        return None
    return session.get(model, ident)


OTHER_LABELS = {"held_on": "会议日期", "attended": "实到人数", "approve": "赞成票数", "oppose": "反对票数",
                "abstain": "弃权票数", "attended_households": "到会户代表数", "name": "姓名", "contact": "联系方式",
                "text": "异议内容", "data": "表单数据", "_schema": "", "title": "事项标题"}


def _first_message(fields: dict, form: str | dict | None = None) -> str:
    """Every bad field's first message, named by its Chinese label (never by its key). ``form``: the
    form whose labels name the fields, or the labels themselves."""
    labels = dict(OTHER_LABELS)
    if isinstance(form, dict):
        labels.update(form)
    elif form in forms.FORMS:
        labels.update({f["name"]: f["label"] for f in forms.describe(form)})
    parts = []
    for name, messages in fields.items():
        if isinstance(messages, dict):
            message = _first_message(messages)
        elif isinstance(messages, list) and messages:
            message = str(messages[0])
        else:
            message = str(messages)
        label = labels.get(name, f"“{name}”")
        parts.append(f"{label}：{message}" if label else message)
    return "；".join(parts) or "数据有误"

