"""The Engine's calls for a jurisdiction's oversight of complaint leads (问题线索): the county's 督办,
the 一案双查 accountability records (R59) and the 纪检 desk of leads with its statistics. Intake, the
reporter's side and the case page's lead block are ``engine/services/leads.py``; the rules
``engine/records/leads.py``."""

from __future__ import annotations

from collections import Counter
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..domain.authz import Actor
from ..domain.clock import LOCAL_TZ
from ..domain.errors import Conflict, Forbidden, Invalid, NotFound
from ..process import workdays
from ..records import notices
from ..records.leads import (
    ACCOUNTABILITY_FIELDS,
    CATEGORIES,
    CHANNELS,
    DUTIES,
    IDENTITY_ROLES,
    MEASURES,
    STATUS,
    SUPERVISED_FORMS,
    iso,
    lead_of_case,
    lead_roles,
    may_see,
    may_see_identity,
)
from ..store.models import (
    Case,
    Lead,
    LeadAccountability,
    TaskRow,
    User,
    Village,
)


def text_field(value: object, label: str, key: str, errors: dict, *, required: bool, limit: int) -> str | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            errors[key] = [f"请填写{label}"]
        return None
    if not isinstance(value, str):
        errors[key] = [f"{label}须为文字"]
        return None
    if len(value.strip()) > limit:
        errors[key] = [f"{label}不能超过{limit}字"]
        return None
    return value.strip()


class LeadOversightMixin:
    """Engine methods for 督办, 一案双查 and the leads desk (mixed into ``engine.services.Engine``)."""

    def _handled_lead(self, session: Session, actor: Actor, case_id: int) -> tuple[Case, Lead]:
        """The case (as ``actor`` may open it) and its lead; 404 when the case is not a lead."""
        case = self.case_for(session, actor, case_id)
        lead = lead_of_case(session, case.id)
        if lead is None:
            raise NotFound(f"事项{case_id}不是问题线索")
        return case, lead

    # -- 督办 by the county -------------------------------------------------------------------
    def supervise_lead(self, username: str, case_id: int, body: object) -> dict:
        """县纪委督办: the county inspector of the lead's county puts it under supervision with a
        reason and a deadline (a working day, not in the past). The township goes on handling it
        (its steps are due by the deadline at the latest) and is told; the lead shows 县纪委督办.
        403 for anyone but that county's inspector, 409 a second time or once the lead is done."""
        body = body if isinstance(body, dict) else {}
        errors: dict[str, list[str]] = {}
        for key in sorted(set(body) - {"reason", "due"}):
            errors[key[:50]] = ["不认识的字段"]
        reason = text_field(body.get("reason"), "督办理由", "reason", errors, required=True, limit=2000)
        due_day = _date(body.get("due"), "办结时限", "due", errors)
        with self.transaction() as session:
            actor = self.actor(session, username)
            case, lead = self._handled_lead(session, actor, case_id)
            if not may_supervise(actor, case.village, lead, case):
                raise Forbidden("只有本县纪委可以督办问题线索")
            now = self.now()
            if due_day is not None:
                cal = workdays.Calendar.load(session)
                today = now.astimezone(LOCAL_TZ).date()
                if due_day < today:
                    errors["due"] = [f"办结时限不能早于今天（{today.isoformat()}）"]
                elif not cal.is_workday(due_day):
                    errors["due"] = [f"办结时限{due_day.isoformat()}不是工作日，可选{cal.add(due_day, 1)[0].isoformat()}"]
            if errors:
                labels = {"reason": "督办理由", "due": "办结时限"}
                raise Invalid("督办填写有误：" + "；".join(f"{labels.get(k, k)}：{v[0]}" for k, v in errors.items()),
                              errors)
            if lead.supervised_at is not None:
                raise Conflict("该线索已由县纪委督办，不能重复督办")
            if lead.to_county:
                raise Conflict("该线索涉及乡镇干部，已由县纪委直接办理，无需督办")
            if lead.status not in ("received", "accepted"):
                raise Conflict("该线索已办结或已转办，不能督办")
            lead.supervised_by, lead.supervised_at = actor.id, now
            lead.supervision_reason, lead.supervision_due = reason, workdays.end_of_day(due_day)
            for row in session.scalars(select(TaskRow).where(TaskRow.case_id == case.id, TaskRow.state == "ready",
                                                             TaskRow.form.in_(SUPERVISED_FORMS))):
                row.due_at = min(row.due_at, lead.supervision_due) if row.due_at else lead.supervision_due
            self.audit(session, action="lead_supervise", actor=actor, case=case,
                        summary=f"县纪委督办，限{due_day.isoformat()}前办结：{reason}",
                        data={"due": due_day.isoformat()})
            village = case.village
            people = notices.without_excluded(notices.holders(session, village, {"discipline_inspector"}), case)
            title = f"{village.township}{notices.quote(case.title)}已由县纪委督办，限{due_day.isoformat()}前办结"
            notices.write(session, people, kind="lead", title=title, now=now, village=village.name, case_id=case.id,
                          lead=lead.id, path=f"/cases/{case.id}")
            return supervision_json(session, lead)

    # -- 一案双查 accountability records -------------------------------------------------------
    def add_accountability(self, username: str, case_id: int, body: object) -> dict:
        """One person held to account for a substantiated (or partly substantiated) lead (R59):
        by the lead's handlers (the township's 纪委, the county inspector). 422 on every bad field,
        409 unless the lead's finding is 属实 or 部分属实."""
        body = body if isinstance(body, dict) else {}
        errors: dict[str, list[str]] = {}
        for key in sorted(set(body) - set(ACCOUNTABILITY_FIELDS)):
            errors[key[:50]] = ["不认识的字段"]
        person = text_field(body.get("person"), "被问责人", "person", errors, required=True, limit=50)
        position = text_field(body.get("position"), "职务", "position", errors, required=True, limit=100)
        duty = _choice(body.get("duty"), "责任类型", "duty", DUTIES, errors)
        measure = _choice(body.get("measure"), "问责方式", "measure", MEASURES, errors)
        decided_on = _date(body.get("decided_on"), "决定日期", "decided_on", errors, required=True)
        decided_by = text_field(body.get("decided_by"), "决定机关", "decided_by", errors, required=True, limit=100)
        note = text_field(body.get("note"), "说明", "note", errors, required=False, limit=2000)
        with self.transaction() as session:
            actor = self.actor(session, username)
            case, lead = self._handled_lead(session, actor, case_id)
            if not may_see_identity(actor, case.village, lead, case):
                raise Forbidden("问责记录由办理线索的乡镇纪委、县纪委登记")
            now = self.now()
            if decided_on is not None:
                today = now.astimezone(LOCAL_TZ).date()
                received = lead.received_at.astimezone(LOCAL_TZ).date()
                if decided_on > today:
                    errors["decided_on"] = ["决定日期不能晚于今天"]
                elif decided_on < received:
                    errors["decided_on"] = [f"决定日期不能早于收到线索的日期（{received.isoformat()}）"]
            if errors:
                raise Invalid("问责记录填写有误：" + "；".join(f"{ACCOUNTABILITY_FIELDS.get(k, k)}：{v[0]}"
                                                       for k, v in errors.items()), errors)
            if lead.finding not in ("substantiated", "partly"):
                raise Conflict("核查结论为属实或部分属实后，才能登记一案双查问责记录")
            row = LeadAccountability(lead_id=lead.id, village_id=lead.village_id, person=person, position=position,
                                     duty=duty, measure=measure, decided_on=decided_on.isoformat(),
                                     decided_by=decided_by, note=note, recorded_by=actor.id, recorded_at=now)
            session.add(row)
            session.flush()
            self.audit(session, action="lead_accountability", actor=actor, case=case,
                        summary=f"一案双查：{DUTIES[duty]}，{position}{person}，{MEASURES[measure]}（{decided_by}，"
                                f"{decided_on.isoformat()}）", data={"accountability": row.id})
            return accountability_json(row)

    def accountability_of(self, username: str, case_id: int) -> list[dict]:
        with self.sessions() as session:
            actor = self.actor(session, username)
            case, lead = self._handled_lead(session, actor, case_id)
            if not may_see_identity(actor, case.village, lead, case):
                raise Forbidden("问责记录仅供办理线索的乡镇纪委、县纪委查看")
            return [accountability_json(r) for r in session.scalars(
                select(LeadAccountability).where(LeadAccountability.lead_id == lead.id).order_by(LeadAccountability.id))]

    def leads_desk(self, username: str, village_code: str | None = None, status: str | None = None) -> dict:
        """The leads a 纪检 role oversees: a list with overdue flags, and statistics by category,
        village and status, the on-time rate and the satisfaction."""
        with self.sessions() as session:
            actor = self.actor(session, username)
            stmt = (select(Lead, Case, Village).join(Case, Lead.case_id == Case.id)
                    .join(Village, Lead.village_id == Village.id).order_by(Lead.received_at.desc()))
            if village_code:
                stmt = stmt.where(Village.code == village_code)
            rows = [(lead, case, v) for lead, case, v in session.execute(stmt) if may_see(actor, v, lead, case)]
            if not rows and not (actor.is_admin() or any(g.role in IDENTITY_ROLES for g in actor.grants)):
                raise Forbidden("只有乡镇纪委、县纪委可以查看问题线索")
            now = self.now()
            ready = {}
            for t in session.scalars(select(TaskRow).where(
                    TaskRow.case_id.in_([c.id for _, c, _ in rows] or [-1]), TaskRow.state == "ready")
                    .order_by(TaskRow.created_at)):
                ready.setdefault(t.case_id, []).append(t)
            items = []
            for lead, case, v in rows:
                tasks = ready.get(case.id, [])
                overdue = [t for t in tasks if t.due_at and t.due_at < now]
                accept_late = (lead.accepted_at or lead.closed_at or now) > lead.accept_due
                item = {"id": lead.id, "case": case.id, "title": case.title, "village": v.code,
                        "village_name": v.name, "category": lead.category,
                        "category_name": CATEGORIES.get(lead.category, lead.category),
                        "channel_name": CHANNELS.get(lead.channel, lead.channel), "real_name": lead.real_name,
                        "status": lead.status, "status_name": STATUS.get(lead.status, lead.status),
                        "received_at": iso(lead.received_at), "accept_due": iso(lead.accept_due),
                        "due_estimated": lead.due_estimated, "to_county": lead.to_county,
                        "stage": "、".join(t.title for t in tasks) or "—",
                        "due_at": iso(min((t.due_at for t in tasks if t.due_at), default=None)),
                        "overdue": bool(overdue), "accept_late": accept_late,
                        "assignment": lead.assignment or {}, "rating": lead.rating,
                        "supervised": lead.supervised_at is not None,
                        "supervision_due": iso(lead.supervision_due)}
                items.append(item)
            if status:
                items = [i for i in items if i["status"] == status]
            held = Counter()
            shown = {i["id"] for i in items}
            for _lead_id, village_name, duty in session.execute(
                    select(LeadAccountability.lead_id, Village.name, LeadAccountability.duty)
                    .join(Village, LeadAccountability.village_id == Village.id)
                    .where(LeadAccountability.lead_id.in_(shown or {-1}))):
                held[(village_name, duty)] += 1
            by_village = sorted({v for v, _ in held})
            accountability = [{"village_name": v, "primary": held[(v, "primary")],
                               "supervisory": held[(v, "supervisory")],
                               "total": held[(v, "primary")] + held[(v, "supervisory")]} for v in by_village]
            per_lead = Counter(lid for lid, in session.execute(
                select(LeadAccountability.lead_id).where(LeadAccountability.lead_id.in_(shown or {-1}))))
            for item in items:
                item["accountability"] = per_lead[item["id"]]
            decided = [i for i in items if i["status"] != "received" or i["accept_late"]]
            on_time = [i for i in decided if not i["accept_late"]]
            ratings = [i["rating"] for i in items if i["rating"] is not None]
            unknown_years = sorted({datetime.fromisoformat(i["accept_due"]).astimezone(LOCAL_TZ).year
                                    for i in items if i["due_estimated"]})
            return {
                "leads": items,
                "stats": {
                    "total": len(items),
                    "by_category": _count(items, "category_name"),
                    "by_village": _count(items, "village_name"),
                    "by_status": _count(items, "status_name"),
                    "overdue": sum(1 for i in items if i["overdue"]),
                    "on_time_rate": round(len(on_time) / len(decided), 3) if decided else None,
                    "satisfaction": round(sum(ratings) / len(ratings), 2) if ratings else None,
                    "rated": len(ratings),
                    "supervised": sum(1 for i in items if i["supervised"]),
                    "accountability": accountability,
                    "accountability_total": sum(a["total"] for a in accountability),
                },
                "calendar_notes": [workdays.estimate_note(y) for y in unknown_years],
                "generated_at": iso(now),
            }


def _count(items: list[dict], key: str) -> list[dict]:
    return [{"name": k, "count": n} for k, n in Counter(i[key] for i in items).most_common()]


def _date(value: object, label: str, key: str, errors: dict, *, required: bool = True) -> date | None:
    if value is None or value == "":
        if required:
            errors[key] = [f"请填写{label}"]
        return None
    try:
        if not isinstance(value, str) or len(value) != 10:
            raise ValueError
        return date.fromisoformat(value)
    except ValueError:
        errors[key] = [f"{label}须为日期，如 2026-03-01"]
        return None


def _choice(value: object, label: str, key: str, choices: dict[str, str], errors: dict) -> str | None:
    if isinstance(value, str) and value.strip() in choices:
        return value.strip()
    if isinstance(value, str) and value.strip() in choices.values():
        return next(k for k, v in choices.items() if v == value.strip())
    allowed = "、".join(f"{k}（{v}）" for k, v in choices.items())
    errors[key] = [f"请选择{label}" if value in (None, "") else f"{label}只能是：{allowed}"]
    return None


def may_supervise(actor: Actor, village: Village, lead: Lead, case: Case) -> bool:
    """督办 is the county inspector's, of the lead's county (not kept off the case)."""
    return "county_inspector" in lead_roles(actor, village, lead, case)


def supervision_json(session: Session, lead: Lead) -> dict:
    who = session.get(User, lead.supervised_by) if lead.supervised_by else None
    return {"by": who.name if who else "县纪委", "at": iso(lead.supervised_at), "reason": lead.supervision_reason or "",
            "due": iso(lead.supervision_due),
            "due_day": lead.supervision_due.astimezone(LOCAL_TZ).date().isoformat() if lead.supervision_due else None}


def accountability_json(row: LeadAccountability) -> dict:
    return {"id": row.id, "person": row.person, "position": row.position, "duty": row.duty,
            "duty_name": DUTIES.get(row.duty, row.duty), "measure": row.measure,
            "measure_name": MEASURES.get(row.measure, row.measure), "decided_on": row.decided_on,
            "decided_by": row.decided_by, "note": row.note or "", "recorded_at": iso(row.recorded_at)}

