"""What the forms' effects borrow from the services (``CheckContext.services``): the notices a step prepares and posts on the board (the forms' own rules are in ``engine/forms/``).

Mixed into :class:`engine.services.Engine`."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..domain.authz import Actor
from ..domain.clock import local_text
from ..domain.errors import Conflict
from ..records import publicity
from ..store.models import BoardEntry, Case, Objection, TaskRow, User


class ChecksMixin:
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
