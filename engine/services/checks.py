"""The completion path's checks that need the case: meetings and their votes, the statutory assembly, dates, no self-review, and the postings a step prepares.

Mixed into :class:`engine.services.Engine`."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..domain import rules
from ..domain.authz import Actor
from ..domain.clock import LOCAL_TZ, local_text
from ..domain.errors import Conflict, Forbidden, Invalid
from ..records import publicity
from ..store.models import BoardEntry, Case, Objection, TaskRow, User, Village
from .common import (
    first_message,
)


class ChecksMixin:
    def meeting(self, village: Village, body: str, values: dict, vote_rule: str | None = None) -> tuple[dict, str]:
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

    def statutory_needs_assembly(self, session: Session, case: Case) -> None:
        """Rule 1 (R2, 组织法第二十四条): a 村民代表会议 decides a 第二十四条 matter only under the 村民会议's
        authorisation on file, checked again at the 决议 itself (it may have been withdrawn since the 提议)."""
        from ..domain.matters import MATTERS, STATUTORY
        from ..domain.settings import authorised_representatives

        proposal = self.latest_done(session, case, form="proposal")
        matter = ((proposal.data or {}) if proposal is not None else {}).get("matter")
        if matter in STATUTORY and not authorised_representatives(case.village):
            message = (f"“{MATTERS[matter]}”是《村民委员会组织法》第二十四条规定的事项，须由村民会议决定；"
                       "本村没有登记村民会议对村民代表会议的授权，村民代表会议不能对此表决")
            raise Invalid(message, {"_schema": [message]})

    def approved_amount(self, session: Session, case: Case):
        """The amount the case's proposal asked for and its resolution approved (None: no amount)."""
        from decimal import Decimal

        proposal = self.latest_done(session, case, form="proposal")
        amount = ((proposal.data or {}) if proposal is not None else {}).get("amount")
        return Decimal(str(amount)) if amount not in (None, "") else None

    def draft_notice(self, session: Session, case: Case, row: TaskRow, floor: int) -> str:
        """A disclosure drafted from the record (the decision, the vote, the amount, the spending),
        for the cadre to edit rather than write from nothing."""
        from ..domain.money import spoken

        done = self.completions(session, case)
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

    def meeting_dates(self, session: Session, case: Case, row: TaskRow, values: dict,
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
            earlier = [r for r in self.case_tasks(session, case) if r.state == "completed" and r.form == "meeting"
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

    def no_self_review(self, session: Session, actor: Actor, case: Case, row: TaskRow) -> None:
        reviewed = self.judged_record(self.completions(session, case), row)
        if reviewed is not None and reviewed.completed_by == actor.id and actor.id is not None:
            raise Forbidden(f"不能审核本人提交的记录（“{reviewed.title}”由您办理）")

    def prepare_posting(self, session: Session, case: Case, kind: str, now: datetime,
                         label: str | None = None, own: tuple[TaskRow, dict, str] | None = None) -> dict:
        """The notice to post from the newest drafted disclosure; ``own``: (row, data, drafter's name)
        of a disclosure being completed that posts itself (a body that publishes its own notice)."""
        if own is not None:
            draft, draft_data, drafter_name = own
        else:
            draft = self.latest_done(session, case, form="disclosure")
            if draft is None or not draft.data:
                raise Conflict("还没有拟定公开内容，不能张榜")
            drafter = session.get(User, draft.completed_by) if draft.completed_by else None
            draft_data, drafter_name = draft.data, (drafter.name if drafter else "")
        previous = session.scalar(select(BoardEntry).where(
            BoardEntry.case_id == case.id, BoardEntry.kind == kind).order_by(BoardEntry.seq.desc()).limit(1))
        label = label or publicity.KINDS.get(kind, "公开")
        content = draft_data["content"]
        spent = self.latest_done(session, case, form="implementation") if kind == "result" else None
        if spent is not None and (spent.data or {}).get("over_budget"):
            # Overspending is disclosed: the notice states both amounts and the reason, however it was drafted.
            from ..domain.money import spoken

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
            "evidence": self.public_evidence(session, draft.id, case),
        }

    def current_entry(self, session: Session, case: Case) -> BoardEntry | None:
        return session.scalar(select(BoardEntry).where(
            BoardEntry.case_id == case.id, BoardEntry.kind != "objection_reply",
            BoardEntry.notice_until.is_not(None)).order_by(BoardEntry.seq.desc()).limit(1))

    def objection_for(self, session: Session, case: Case) -> Objection | None:
        entry = self.current_entry(session, case)
        if entry is None:
            return None
        return session.scalar(select(Objection).where(Objection.entry_id == entry.id, Objection.decision.is_(None))
                              .order_by(Objection.id).limit(1))

    def returned_record(self, session: Session, case: Case, row: TaskRow) -> TaskRow | None:
        """The earlier record of this meeting task when the supervisor's latest review of it returned it."""
        previous = self.latest_done(session, case, name=row.name)
        if previous is None or not previous.data:
            return None
        review = self.latest_done(session, case, form="review", since=previous.completed_at)
        if review is None or not review.data or review.data.get("decision") != "return":
            return None
        return previous

    def post_notice(self, session: Session, case: Case, actor: Actor, posting: dict, now: datetime) -> None:
        """Post a notice ``prepare_posting`` (or ``finance_posting``) prepared, reviewed by ``actor``."""
        entry = publicity.post(session, case.village, case_id=case.id, kind=posting["kind"],
                               title=posting["title"], content=posting["content"], posted_at=now,
                               notice_until=posting["notice_until"], posted_by=posting["posted_by"],
                               reviewed_by=actor.name, refers_to_id=posting["refers_to"],
                               evidence=posting["evidence"])
        self.audit(session, action="post", actor=actor, case=case,
                    summary=f"张榜公布：{entry.title}（公示至{local_text(posting['notice_until'])}）",
                    data={"entry": entry.id, "hash": entry.hash})
