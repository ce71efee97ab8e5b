"""Forms of the 四议两公开 major decision (the contract's forms): proposal, meeting, review,
disclosure, implementation, objection reply and the township's inspection."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from marshmallow import ValidationError, validate, validates_schema
from sqlalchemy import func, select

from ..domain import rules
from ..domain.clock import LOCAL_TZ, iso
from ..domain.errors import Conflict, Forbidden, Invalid
from ..domain.matters import MATTERS
from ..records import ledger_chart, publicity
from ..store.models import BoardEntry, Objection, TaskRow, User, Village
from .base import (
    CheckContext,
    FormSchema,
    StrictInteger,
    choice,
    count,
    day,
    field_messages,
    first_message,
    flag,
    line,
    local_today,
    money,
    register,
    text,
    to_task_data,
)


class ProposalForm(FormSchema):
    title_zh = "提议"
    title = line("事项名称")
    summary = text("方案摘要", help="拟办事项的内容、理由和初步方案")
    amount = money("涉及金额", required=False, help="可不填")
    matter = choice("事项类别", {k: v for k, v in MATTERS.items()}, required=False,
                    help="属于《村民委员会组织法》第二十四条等村级重大事项的，请选择")
    assembly = choice("决议机构", {"representatives": "村民代表会议", "villager_assembly": "村民会议"},
                      required=False, load_default="representatives")
    withdraw = flag("撤回事项", help="修改方案时勾选，事项即以“撤回”办结")
    party_study_on = day("村党组织研究日期", required=False,
                         help="村党组织（支委会）先行研究本事项的日期；2026年1月1日起提交村民（代表）会议决定的事项须先经村党组织研究")

    def check(self, values: dict, ctx: CheckContext) -> dict | None:
        """Rule 1 (R2): a 第二十四条 matter goes to the 村民会议; the 村民代表会议 may decide it only with the
        村民会议's authorisation on file (《村民委员会组织法》第二十四条第二款)."""
        from ..domain.matters import STATUTORY
        from ..domain.settings import authorised_representatives

        if values.get("withdraw"):
            return None
        if values.get("matter") in STATUTORY and values.get("assembly", "representatives") == "representatives" \
                and not authorised_representatives(ctx.village):
            message = (f"“{MATTERS[values['matter']]}”是《村民委员会组织法》第二十四条规定的事项，须由村民会议决定；"
                       "本村没有登记村民会议对村民代表会议的授权，决议机构请选“村民会议”")
            from ..domain.errors import Invalid

            raise Invalid(message, {"assembly": [message]})
        study = values.get("party_study_on")
        if study is not None and study > ctx.now.astimezone(LOCAL_TZ).date():
            from ..domain.errors import Invalid

            raise Invalid("村党组织研究日期不能晚于今天", {"party_study_on": ["村党组织研究日期不能晚于今天"]})
        return None

    def effects(self, values: dict, ctx: CheckContext) -> None:
        if values.get("withdraw") and ctx.rounds == 0 and ctx.task.name == "propose" and ctx.case.state == "":
            raise Invalid("新发起的事项不能直接撤回", {"withdraw": ["新发起的事项不能直接撤回"]})
        ctx.summary = "撤回事项" if values.get("withdraw") else f"提议：{values.get('title', '')}"


def post_on_record(ctx: CheckContext, posting: dict) -> None:
    """Post ``posting`` (a notice the services prepared) once the step's completion is on the record."""
    ctx.extra["notice_until"] = iso(posting["notice_until"])
    ctx.extra["posted_at"] = iso(ctx.now)
    ctx.on_record.append(lambda: ctx.services.post_notice(ctx.session, ctx.case, ctx.actor, posting, ctx.now))


# ---------------------------------------------------------------------------- the rules that need the case


def statutory_needs_assembly(ctx: CheckContext) -> None:
    """Rule 1 (R2, 组织法第二十四条): a 村民代表会议 decides a 第二十四条 matter only under the 村民会议's
    authorisation on file, checked again at the 决议 itself (it may have been withdrawn since the 提议)."""
    from ..domain.matters import MATTERS, STATUTORY
    from ..domain.settings import authorised_representatives

    proposal = ctx.services.latest_done(ctx.session, ctx.case, form="proposal")
    matter = ((proposal.data or {}) if proposal is not None else {}).get("matter")
    if matter in STATUTORY and not authorised_representatives(ctx.case.village):
        message = (f"“{MATTERS[matter]}”是《村民委员会组织法》第二十四条规定的事项，须由村民会议决定；"
                   "本村没有登记村民会议对村民代表会议的授权，村民代表会议不能对此表决")
        raise Invalid(message, {"_schema": [message]})


def approved_amount(ctx: CheckContext) -> Decimal | None:
    """The amount the case's proposal asked for and its resolution approved (None: no amount)."""
    proposal = ctx.services.latest_done(ctx.session, ctx.case, form="proposal")
    amount = ((proposal.data or {}) if proposal is not None else {}).get("amount")
    return Decimal(str(amount)) if amount not in (None, "") else None


def draft_notice(ctx: CheckContext, floor: int) -> str:
    """A disclosure drafted from the record (the decision, the vote, the amount, the spending),
    for the cadre to edit rather than write from nothing."""
    from ..domain.money import spoken

    case, row = ctx.case, ctx.task
    done = ctx.services.completions(ctx.session, case)
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


def meeting_dates(ctx: CheckContext, values: dict, correcting: TaskRow | None) -> None:
    """A meeting's dates as they can have been (CONTRACT "What people see"; 组织法第二十一条):
    not after today (Beijing time), not before the case began, not before a meeting already
    recorded in the case; a 村民会议 announced at least ten days ahead; 列席 only where the law
    in force on the meeting day lets the 监委会 attend."""
    case, row = ctx.case, ctx.task
    held_on = values["held_on"]
    errors: dict[str, list[str]] = {}
    today = local_today(ctx)
    began = case.created_at.astimezone(LOCAL_TZ).date()
    if held_on > today:
        errors["held_on"] = [f"会议日期{held_on.isoformat()}晚于今天（{today.isoformat()}），请填写实际开会的日期"]
    elif held_on < began:
        errors["held_on"] = [f"会议日期{held_on.isoformat()}早于本事项发起的日期（{began.isoformat()}）"]
    else:
        earlier = [r for r in ctx.services.case_tasks(ctx.session, case) if r.state == "completed" and r.form == "meeting"
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


def no_self_review(ctx: CheckContext) -> None:
    """Nobody reviews a record they completed themselves."""
    services, actor = ctx.services, ctx.actor
    reviewed = services.judged_record(services.completions(ctx.session, ctx.case), ctx.task)
    if reviewed is not None and reviewed.completed_by == actor.id and actor.id is not None:
        raise Forbidden(f"不能审核本人提交的记录（“{reviewed.title}”由您办理）")


def meeting_tally(village: Village, body: str, values: dict, vote_rule: str | None = None) -> tuple[dict, str]:
    """A meeting's numbers checked and its vote counted (engine/domain/rules.py): the step's data and summary."""
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
        raise Invalid("会议记录数字有误：" + first_message(errors), errors)
    result = rules.evaluate_meeting(body, should_attend=should, attended=values["attended"],
                                    approve=values["approve"], on=values["held_on"],
                                    households=village.households,
                                    attended_households=values.get("attended_households") or 0,
                                    settings=village.settings, vote_rule=vote_rule,
                                    written_approve=written_approve)
    extra = {"outcome": result.outcome, "should_attend": should, "rules_version": result.rules_version,
             "outcome_reason": result.reason}
    return extra, result.reason


def returned_record(ctx: CheckContext) -> TaskRow | None:
    """The earlier record of this meeting task when the supervisor's latest review of it returned it."""
    services, session, case = ctx.services, ctx.session, ctx.case
    previous = services.latest_done(session, case, name=ctx.task.name)
    if previous is None or not previous.data:
        return None
    review = services.latest_done(session, case, form="review", since=previous.completed_at)
    if review is None or not review.data or review.data.get("decision") != "return":
        return None
    return previous


class MeetingForm(FormSchema):
    title_zh = "会议记录"
    held_on = day("会议日期")
    attended = count("实到人数")
    approve = count("赞成票数", unit="票")
    oppose = count("反对票数", unit="票")
    abstain = count("弃权票数", unit="票")
    minutes = text("会议纪要")
    attended_households = count("到会户代表数", required=False, unit="户", help="村民会议按户计算到会时填写")
    announced_on = day("通知日期", required=False, help="村民会议须提前十天通知村民，必填")
    supervisors_present = line("列席的监委会成员", required=False,
                               help="两委会议（2026年起还有村民代表会议）由村务监督委员会列席时填写姓名")
    supervisor_opinion = text("监委会列席意见", required=False, max_len=2000)
    written_approve = count("书面意见赞成票数", required=False, unit="票",
                            help="讨论接收（转正）预备党员的支部大会：因故不能到会的有表决权党员会前提交书面意见表示赞成的人数")
    written_oppose = count("书面意见反对票数", required=False, unit="票",
                           help="因故不能到会的有表决权党员会前提交书面意见表示反对的人数")

    def effects(self, values: dict, ctx: CheckContext) -> None:
        case, row = ctx.case, ctx.task
        correcting = returned_record(ctx)
        if correcting is not None and values["held_on"].isoformat() != correcting.data.get("held_on"):
            # D9: a supervisor's return corrects the record of the meeting that was held; it never
            # makes a meeting be held again (组织法第三十二条: the 监委会 supervises, it does not decide).
            message = f"这是对{correcting.data.get('held_on')}会议记录的更正，会议日期不能改变"
            raise Invalid(message, {"held_on": [message]})
        meeting_dates(ctx, values, correcting)
        if row.body == "representatives":
            statutory_needs_assembly(ctx)
        extra, summary = meeting_tally(case.village, row.body or "", values, ctx.properties.get("vote_rule"))
        ctx.extra.update(extra)
        ctx.summary = summary
        if correcting is not None:
            ctx.extra["corrects"] = correcting.id
            ctx.summary = f"更正记录：{summary}"


class ReviewForm(FormSchema):
    """D9 (组织法第三十二条): the 监委会 supervises and never decides. ``return``: the record as
    written is incomplete or wrong, whoever recorded it corrects it (no new meeting, no new vote);
    ``object``: the procedure was defective, the case is held for the township's inspection."""

    title_zh = "监督审核"
    judges = True
    holds_on = "object"  # this decision holds the case for the township's inspection (engine/records/holds.py)
    decision = choice("审核结论", {"approve": "同意", "return": "退回更正记录", "object": "程序有问题，提出异议（暂停并报乡镇纪委核查）"})
    opinion = text("审核意见", required=False, help="退回或提出异议时必须写明理由")

    @validates_schema
    def _opinion_required(self, data: dict, **kwargs: Any) -> None:
        if data.get("decision") in ("return", "object") and not (data.get("opinion") or "").strip():
            raise ValidationError({"opinion": ["退回或提出异议时必须填写审核意见"]})

    def effects(self, values: dict, ctx: CheckContext) -> None:
        services = ctx.services
        no_self_review(ctx)
        ctx.summary = {"approve": "审核同意", "return": f"退回更正记录：{values.get('opinion', '')}",
                       "object": f"对程序提出异议，报乡镇纪委核查：{values.get('opinion', '')}"}[values["decision"]]
        publishes = ctx.properties.get("publishes")
        if publishes == "finance" and values["decision"] == "approve":
            # 民主理财 (R27): the statement generated from the ledger is posted as approved.
            posting = services.finance_posting(ctx.session, ctx.case, ctx.now, int(ctx.meta.get("notice_days") or 7))
            ctx.extra["statement"] = posting.pop("statement")
            post_on_record(ctx, posting)
        elif publishes and values["decision"] == "approve":
            post_on_record(ctx, services.prepare_posting(ctx.session, ctx.case, publishes, ctx.now,
                                                         ctx.properties.get("notice_label")))

    def task_fields(self, ctx: CheckContext) -> dict:
        return finance_statement(ctx)

    def subject(self, ctx: CheckContext) -> dict | None:
        """The stage record under review."""
        services = ctx.services
        record = services.judged_record(services.completions(ctx.session, ctx.case), ctx.task)
        return services.record_json(ctx.session, record) if record is not None else None


def finance_statement(ctx: CheckContext) -> dict:
    """The books as they stand now, beside a review of (or a reply on) a finance-disclosure statement."""
    if ctx.case.definition.key == ledger_chart.FINANCE_PROCESS:
        return {"statement": ctx.services.case_statement(ctx.session, ctx.case)}
    return {}


class DisclosureForm(FormSchema):
    title_zh = "公开内容"
    content = text("公开内容")
    notice_days = StrictInteger(
        load_default=7,
        validate=validate.Range(min=1, max=365, error="公示天数须在1到365天之间"),
        error_messages={**field_messages("公示天数"), "invalid": "公示天数必须是整数"},
        metadata={"label": "公示天数", "unit": "天", "widget": "number", "help": "不得少于本事项的法定最少天数"},
    )

    def effects(self, values: dict, ctx: CheckContext) -> None:
        floor = int(ctx.meta.get("notice_days") or 7)
        if values["notice_days"] < floor:
            raise Invalid(f"公示天数不得少于{floor}天", {"notice_days": [f"本事项公示不得少于{floor}天"]})
        ctx.summary = f"拟定公开内容（公示{values['notice_days']}天）"
        publishes = ctx.properties.get("publishes")
        if publishes:
            # A notice its own body posts (发展对象公示: the 党支部, not the 监委会, whose supervision
            # covers 村务, not the Party's internal affairs).
            post_on_record(ctx, ctx.services.prepare_posting(ctx.session, ctx.case, publishes, ctx.now,
                                                             ctx.properties.get("notice_label"),
                                                             own=(ctx.task, values, ctx.actor.name)))
            ctx.summary = f"{ctx.summary}，张榜公布"

    def task_fields(self, ctx: CheckContext) -> dict:
        """A draft from the record, for the cadre to edit, and the notice floor."""
        if ctx.task.state != "ready":
            return {}
        floor = int(ctx.meta.get("notice_days") or 7)
        return {"prefill": {"content": draft_notice(ctx, floor),
                            "notice_days": floor}}


class ImplementationForm(FormSchema):
    title_zh = "实施情况"
    summary = text("实施情况")
    amount_spent = money("实际支出")
    over_budget_reason = text("超支原因", required=False, max_len=2000,
                              help="实际支出超过决议金额时必填，并在实施结果公开中写明")

    def effects(self, values: dict, ctx: CheckContext) -> None:
        ctx.summary = f"实施情况：支出{to_task_data(values)['amount_spent']}元"
        approved = approved_amount(ctx)
        if approved is not None and values["amount_spent"] > approved:
            from ..domain.money import spoken

            if not (values.get("over_budget_reason") or "").strip():
                message = (f"实际支出{spoken(values['amount_spent'])}超过决议金额{spoken(approved)}，"
                           "须写明超支原因（将在实施结果公开中公布）")
                raise Invalid(message, {"over_budget_reason": [message]})
            ctx.extra.update(approved_amount=str(approved), over_budget=True)
            ctx.summary += f"，超过决议金额{approved}元"


class ObjectionReplyForm(FormSchema):
    title_zh = "异议答复"
    judges = True
    holds_on = "escalate"
    decision = choice("处理结论", {"dismiss": "异议不成立（公示继续）", "uphold": "异议成立（更正后重新公示）",
                                   "escalate": "涉及决定本身（暂停并报乡镇纪委核查）"})
    reply = text("答复内容", help="答复将在公开栏公布")

    def effects(self, values: dict, ctx: CheckContext) -> None:
        session = ctx.session
        objection = ctx.services.objection_for(session, ctx.case)
        if objection is None:
            raise Conflict("没有待答复的异议")
        objection.decision = values["decision"]
        objection.reply = values["reply"]
        objection.replied_by = ctx.actor.name
        objection.replied_at = ctx.now
        session.flush()
        remaining = session.scalar(select(func.count()).select_from(Objection).where(
            Objection.entry_id == objection.entry_id, Objection.decision.is_(None))) or 0
        ctx.extra["open_objections"] = remaining if values["decision"] == "dismiss" else 0
        ctx.summary = {"uphold": "异议成立，更正后重新公示", "escalate": "异议涉及决定本身，报乡镇纪委核查",
                       "dismiss": "异议不成立"}[values["decision"]] + f"：{values['reply']}"
        ctx.task.objection_id = objection.id
        ctx.on_record.append(lambda: self.post_reply(ctx, objection))

    @staticmethod
    def post_reply(ctx: CheckContext, objection: Objection) -> None:
        """The answer goes on the board, beside the notice objected to."""
        entry = ctx.session.get(BoardEntry, objection.entry_id)
        publicity.post(ctx.session, ctx.case.village, case_id=ctx.case.id, kind="objection_reply",
                       title=f"关于“{entry.title}”异议的答复",
                       content=f"异议：{objection.text}\n答复：{objection.reply}\n结论："
                               + {"uphold": "异议成立，更正后重新公示",
                                  "escalate": "异议涉及决定本身，已暂停办理，报乡镇纪委核查"}.get(
                                   objection.decision, "异议不成立，公示继续"),
                       posted_at=ctx.now, posted_by=ctx.actor.name, reviewed_by=ctx.actor.name,
                       refers_to_id=entry.id)

    def task_fields(self, ctx: CheckContext) -> dict:
        """The objection to answer (its filer's contact is removed for all but the supervisors)."""
        if ctx.task.state != "ready":
            return {}
        objection = ctx.services.objection_for(ctx.session, ctx.case)
        if objection is None:
            return {}
        return {"objection": {"id": objection.id, "name": objection.name, "contact": objection.contact,
                              "text": objection.text, "filed_at": iso(objection.filed_at)}}

    def subject(self, ctx: CheckContext) -> dict | None:
        """The notice objected to, with the objection's text (never who filed it)."""
        services, session = ctx.services, ctx.session
        objection = services.objection_for(session, ctx.case) if ctx.task.state == "ready" else None
        entry = session.get(BoardEntry, objection.entry_id) if objection is not None else \
            services.current_entry(session, ctx.case)
        return services.notice_subject(session, ctx.case, entry, objection)


class InspectionForm(FormSchema):
    """The township 纪委's inspection of an objection to the procedure (D9)."""

    title_zh = "乡镇纪委核查"
    judges = True
    releases_hold = True  # may be completed while the case is on hold, and releases it
    finding = choice("核查结论", {"dismiss": "程序无问题（恢复办理）", "redo": "程序有缺陷（责令重做该环节）"})
    opinion = text("核查意见")

    def effects(self, values: dict, ctx: CheckContext) -> None:
        ctx.summary = ("核查无问题，恢复办理" if values["finding"] == "dismiss" else "程序有缺陷，责令重做该环节") \
            + f"：{values['opinion']}"

    def subject(self, ctx: CheckContext) -> dict | None:
        """What the objection to the procedure was raised about, and who raised it."""
        services, session, case = ctx.services, ctx.session, ctx.case
        done = services.completions(session, case)
        before = done[:done.index(ctx.task)] if ctx.task in done else done
        raised = next((r for r in reversed(before) if r.form in ("review", "objection_reply")
                       and (r.data or {}).get("decision") in ("object", "escalate")), None)
        if raised is None:
            return None
        if raised.form == "review":
            record = services.judged_record(done, raised)
            subject = services.record_json(session, record) if record is not None else None
        else:
            subject = services.notice_subject(session, case, services.current_entry(session, case), None)
        if subject is not None:
            who = session.get(User, raised.completed_by) if raised.completed_by else None
            subject["raised_by"] = {"title": raised.title, "by": who.name if who else "",
                                    "at": iso(raised.completed_at), "opinion": (raised.data or {}).get(
                                        "opinion") or (raised.data or {}).get("reply") or ""}
        return subject


DECISION_FORMS: dict[str, type[FormSchema]] = {
    "proposal": ProposalForm,
    "meeting": MeetingForm,
    "review": ReviewForm,
    "disclosure": DisclosureForm,
    "implementation": ImplementationForm,
    "objection_reply": ObjectionReplyForm,
    "inspection": InspectionForm,
}

for _key, _schema in DECISION_FORMS.items():
    register(_key, _schema)
