"""Complaint leads (问题线索, 速查快办): intake without an account, the query code, the
statutory working-day deadlines, the reporter's rating and objection, and who may see what.

Legal rules (DOMAIN.md §5, 纪检监察机关处理检举控告工作规则):

- R56: every lead gets an id (the query code), channel, jurisdiction and timestamps; routing up
  or down happens within 5 working days (``forward_due``).
- R57: a real-name reporter is told within 15 working days whether the lead is accepted
  (``accept_due``, the due date of ``lead_intake``) and hears the result within 15 working days
  of closing (the due date of ``lead_feedback``); objections are recorded and answered (by the
  county: ``lead_review``).
- R58: four dispositions; shelved leads re-open on new evidence (``lead_reopen``).
- R59: 四个不放过 before a substantiated lead closes (``engine/forms/leads.py``).
- R60: the reporter's identity only for the 纪检 roles of the jurisdiction (the township's
  ``discipline_inspector``s and the county's ``county_inspector``); every view is audited; a
  lead that names a township official goes to the county, not to that township.

Village roles never see a lead: not in their worklists (the tasks are in the 纪委 lanes), not by
id (``Engine.case_for`` answers 404), not on their desks (``engine/services/reports.py``).
"""

from __future__ import annotations

import secrets
from datetime import date, datetime, timedelta

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from ..domain.authz import Actor
from ..domain.clock import LOCAL_TZ, iso
from ..domain.errors import Invalid
from ..process import workdays
from ..store.models import (
    Case,
    Lead,
    ProcessDefinition,
    TaskRow,
    User,
    Village,
)

DISPOSITIONS = {"talk_enquiry": "谈话函询", "preliminary_verification": "初步核实", "shelve": "暂存待查",
                "close": "予以了结"}
INTAKE_DECISIONS = {"accept": "受理", "not_accepted": "不予受理", "forward": "转办（移送上级或下级）"}
FINDINGS = {"substantiated": "属实", "partly": "部分属实", "unsubstantiated": "不属实"}
#: 四个不放过 (R59): cause found, responsible people dealt with, rectification done, people educated.
FOUR_CHECKS = {"cause_found": "原因已查清", "people_dealt_with": "责任人员已处理", "rectified": "整改措施已落实",
               "educated": "有关人员已受到教育"}

LEAD_PROCESS = "complaint-lead"
#: Who may see a lead at all (R60), and who may see the reporter's name and contact.
VIEW_ROLES = {"discipline_inspector", "county_inspector", "admin"}
IDENTITY_ROLES = {"discipline_inspector", "county_inspector"}

CATEGORIES = {"sanzi": "三资", "land": "征地", "dibao": "低保", "huinong": "惠农", "project": "工程",
              "style": "作风", "other": "其他"}
CHANNELS = {"web": "网页", "qr": "扫码", "phone": "来电", "letter": "来信", "visit": "来访"}
#: Channels a reporter uses alone; the others are entered by a 纪委 cadre who took the call or letter.
PUBLIC_CHANNELS = {"web", "qr"}
STATUS = {"received": "已收到，待受理", "accepted": "已受理，正在办理", "not_accepted": "不予受理",
          "forwarded": "已转办", "closed": "已办结"}
ACCEPT_DAYS = 15  # R57
FORWARD_DAYS = 5  # R56
FEEDBACK_DAYS = 15  # R57
VERIFY_DAYS = 15  # 初步核实, local practice (DOMAIN.md §5.2, 西乡县)
TALK_DAYS = 30  # 谈话函询 closed within 30 days (local practice)
REVIEW_DAYS = 30  # 信访工作条例: a review is handled within 30 days
OBJECTION_DAYS = 30  # the reporter may object within 30 days of the feedback

#: 督办 (issue 12): the county inspector supervises a lead to a deadline; these steps must be done by it.
SUPERVISED_FORMS = ("lead_intake", "lead_result")
#: Photos from the reporter (issue 12): JPEG, PNG or PDF scans, at most this many per lead, sent with
#: the lead or by its code within this window after filing (while the lead waits for its intake).
MAX_LEAD_PHOTOS = 9
PHOTO_WINDOW = timedelta(hours=24)

#: 一案双查 (R59) accountability records. Duties: 主体责任 of the Party organisation, 监督责任 of
#: the supervisors and the 纪委. Measures, lightest first: the first of the "four forms" of
#: 监督执纪 (党内监督条例 第七条: 谈话提醒, 批评教育, 责令检查), the ways of 问责 of a Party cadre
#: (中国共产党问责条例（2019）第八条: 通报, 诫勉, 组织调整或者组织处理, 纪律处分), 政务处分 (公职人员
#: 政务处分法 第七条; 监察法 第十五条 makes village managers 监察对象) and 移送司法机关 (the fourth form).
DUTIES = {"primary": "主体责任", "supervisory": "监督责任"}
MEASURES = {"talk_reminder": "谈话提醒", "criticism": "批评教育", "self_examination": "责令检查",
            "circulated": "通报", "admonishment": "诫勉", "organisational": "组织调整或者组织处理",
            "party_discipline": "党纪处分", "government_sanction": "政务处分", "judicial": "移送司法机关"}
ACCOUNTABILITY_FIELDS = {"person": "被问责人", "position": "职务", "duty": "责任类型", "measure": "问责方式",
                         "decided_on": "决定日期", "decided_by": "决定机关", "note": "说明"}

CODE_ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"  # no 0/O, 1/I/L: read aloud over the phone
CODE_LENGTH = 12  # 32**12 = 2**60 codes


def new_code() -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def normal_code(code: object) -> str | None:
    """A query code as typed (any case, spaces or dashes between groups), or None if it cannot be one."""
    if not isinstance(code, str):
        return None
    value = code.strip().upper().replace("-", "").replace(" ", "")
    if not 10 <= len(value) <= 32 or any(c not in CODE_ALPHABET for c in value):
        return None
    return value


def grouped(code: str) -> str:
    """``ABCD-EFGH-JKLM``: the code as printed on the receipt."""
    return "-".join(code[i:i + 4] for i in range(0, len(code), 4))


def lead_of_case(session: Session, case_id: int) -> Lead | None:
    return session.scalar(select(Lead).where(Lead.case_id == case_id))


def lead_definition_ids():
    return select(ProcessDefinition.id).where(ProcessDefinition.key == LEAD_PROCESS).scalar_subquery()


def lead_roles(actor: Actor, village: Village, lead: Lead | None, case: Case | None = None) -> set[str]:
    roles = actor.roles_in(village) & VIEW_ROLES
    if lead is not None and lead.to_county:
        roles -= {"discipline_inspector"}  # R60: a lead naming a township official is not for that township
    if case is not None and actor.username in (case.excluded_users or []):
        roles -= IDENTITY_ROLES
    return roles


def may_see(actor: Actor, village: Village, lead: Lead | None, case: Case | None = None) -> bool:
    return bool(lead_roles(actor, village, lead, case))


def may_see_identity(actor: Actor, village: Village, lead: Lead | None, case: Case | None = None) -> bool:
    return bool(lead_roles(actor, village, lead, case) & IDENTITY_ROLES)


def visible_cases_clause(actor: Actor):
    """SQL: the cases ``actor`` may list (for the non-admin case lists): every case that is not a
    lead, and the leads of the townships and counties where the actor is a 纪检 role."""
    from sqlalchemy import and_

    clauses = [Case.definition_id.not_in(lead_definition_ids())]
    towns = {g.township for g in actor.grants if g.role == "discipline_inspector" and g.township}
    counties = {g.county for g in actor.grants if g.role == "county_inspector" and g.county}
    if towns:
        county_leads = select(Lead.case_id).where(Lead.to_county.is_(True)).scalar_subquery()
        clauses.append(and_(Village.township.in_(towns), Case.id.not_in(county_leads)))
    if counties:
        clauses.append(Village.county.in_(counties))
    return or_(*clauses)


# -- the steps (called from the forms in engine/forms/leads.py) -------------------------------
def record_intake(session: Session, lead: Lead, values: dict, now: datetime) -> dict:
    decision = values["decision"]
    extra: dict = {}
    if decision == "accept":
        lead.status = "accepted"
        lead.accepted_at = now
        lead.disposition = values["disposition"]
        if lead.disposition == "close":  # 予以了结 (R58)
            lead.status, lead.closed_at = "closed", now
        assignment = {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in values.items()
                      if k in ("responsible_unit", "handler", "complete_by", "standard") and v}
        lead.assignment = assignment or None
        extra["late"] = now > lead.accept_due
    else:
        lead.status = "not_accepted" if decision == "not_accepted" else "forwarded"
        lead.reason = values["reason"].strip()
        lead.closed_at = now
        if decision == "forward":
            extra["late"] = now > lead.forward_due  # R56: forwarding within 5 working days
    return extra


ASSIGNMENT_FIELDS = {"responsible_unit": "责任单位", "handler": "经办人", "complete_by": "完成时限",
                     "standard": "完成标准"}


def check_assignment(session: Session, values: dict, now: datetime) -> None:
    """速查快办: the assignment's 完成时限 is a working day (by the State Council's schedule, the
    loaded one or the library's) and not in the past (Beijing time); its fields belong to an
    acceptance only. Raises :class:`Invalid` naming the field."""
    given = [k for k in ASSIGNMENT_FIELDS if values.get(k) not in (None, "")]
    errors: dict[str, list[str]] = {}
    if values.get("decision") != "accept":
        for key in given:
            errors[key] = [f"不予受理或转办时不填{ASSIGNMENT_FIELDS[key]}"]
    elif values.get("disposition") in ("shelve", "close"):
        for key in given:
            errors[key] = [f"暂存待查或予以了结的线索不交办，不填{ASSIGNMENT_FIELDS[key]}"]
    elif values.get("complete_by") is not None:
        day = values["complete_by"]
        today = now.astimezone(LOCAL_TZ).date()
        cal = workdays.Calendar.load(session)
        if day < today:
            errors["complete_by"] = [f"完成时限不能早于今天（{today.isoformat()}）"]
        elif not cal.is_workday(day):
            after, _ = cal.add(day, 1)
            errors["complete_by"] = [f"完成时限{day.isoformat()}不是工作日（法定节假日或周末），"
                                     f"可选{after.isoformat()}"]
    if errors:
        raise Invalid("速查快办交办填写有误：" + "；".join(f"{ASSIGNMENT_FIELDS[k]}：{v[0]}" for k, v in errors.items()),
                      errors)


def record_reopen(session: Session, lead: Lead, values: dict, now: datetime) -> dict:
    if values["decision"] == "reopen":  # R58: a shelved lead re-opens on new evidence
        lead.status = "accepted"
        lead.disposition = "preliminary_verification"
    else:
        lead.status, lead.closed_at = "closed", now
        lead.disposition = "close"
    return {}


#: 一案双查 (DOMAIN.md §5.3, R59): a substantiated lead also looks into the 主体责任 of the village Party
#: organisation and the 监督责任 of the supervision committee and the township 纪委.
DUAL_INQUIRY = (("主体责任", "party_secretary", "村党组织书记"), ("监督责任", "supervisor", "村务监督委员会"),
                ("监督责任", "discipline_inspector", "乡镇纪委"))


def dual_inquiry(session: Session, village: Village) -> list[dict]:
    """Who holds the 主体责任 and the 监督责任 for ``village`` now: the people the record links to."""
    from ..store.models import RoleAssignment

    out = []
    for duty, role, role_name in DUAL_INQUIRY:
        scope = (RoleAssignment.township == village.township) if role == "discipline_inspector" \
            else (RoleAssignment.village_id == village.id)
        people = sorted(session.scalars(select(User.name).join(RoleAssignment, RoleAssignment.user_id == User.id)
                                        .where(RoleAssignment.role == role, scope, User.active.is_(True))))
        out.append({"duty": duty, "role": role, "role_name": role_name, "people": people})
    return out


def dual_inquiry_text(links: list[dict]) -> str:
    return "；".join(f"{x['duty']}：{x['role_name']}{'、'.join(x['people']) or '（无人登记）'}" for x in links)


def record_result(session: Session, lead: Lead, values: dict, now: datetime) -> dict:
    lead.finding = values["finding"]
    lead.status = "closed"
    lead.closed_at = now
    if values["finding"] in ("substantiated", "partly"):  # R59: 一案双查
        return {"dual_inquiry": dual_inquiry(session, session.get(Village, lead.village_id))}
    return {}


def record_feedback(session: Session, lead: Lead, values: dict, now: datetime) -> dict:
    lead.feedback = values["feedback"].strip()
    lead.feedback_at = now
    if lead.objection_at is None:  # the reporter may object once, within 30 days of the feedback
        lead.objection_until = now + timedelta(days=OBJECTION_DAYS)
        return {"objection_until": iso(lead.objection_until)}
    return {"objection_until": iso(now)}  # objected already: the lead ends with this feedback


def record_review(session: Session, lead: Lead, values: dict, now: datetime) -> dict:
    lead.review = values["opinion"].strip()
    if values["decision"] == "reinvestigate":
        lead.status = "accepted"
        lead.closed_at = None
    return {}


def set_due_dates(session: Session, case: Case, lead: Lead, now: datetime) -> None:
    """Due dates of the lead's open steps, in working days where the rules count them."""
    cal = workdays.Calendar.load(session)
    rows = session.scalars(select(TaskRow).where(TaskRow.case_id == case.id, TaskRow.state == "ready"))
    for row in rows:
        if row.created_at != now and row.due_at is not None:
            continue
        if row.form == "lead_intake":
            row.due_at = lead.accept_due
        elif row.form == "lead_result":
            complete_by = (lead.assignment or {}).get("complete_by")
            if complete_by:  # 速查快办: the 完成时限 of the assignment is the deadline of the handling
                row.due_at = workdays.end_of_day(date.fromisoformat(complete_by))
            elif lead.disposition == "talk_enquiry":
                row.due_at = now + timedelta(days=TALK_DAYS)
            else:
                row.due_at, _ = cal.due(now, VERIFY_DAYS)
        elif row.form == "lead_feedback":
            row.due_at, _ = cal.due(lead.closed_at or now, FEEDBACK_DAYS)  # R57
        elif row.form == "lead_review":
            row.due_at = now + timedelta(days=REVIEW_DAYS)
        elif row.form == "lead_reopen":
            row.due_at = None
        if lead.supervision_due is not None and row.form in SUPERVISED_FORMS:  # 督办: the county's deadline
            row.due_at = min(row.due_at, lead.supervision_due) if row.due_at else lead.supervision_due
    session.flush()


# -- the engine's side ---------------------------------------------------------------------




FIELDS = {"village": "村", "text": "反映内容", "category": "问题类别", "name": "姓名", "contact": "联系方式",
          "case": "涉及事项编号", "entry": "涉及公开栏条目编号", "channel": "来源渠道",
          "township_official": "涉及乡镇干部", "file": "照片或材料"}


















