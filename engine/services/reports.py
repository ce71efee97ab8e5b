"""Read-only queries for the people's pages: who someone is and what they may see, the
supervision desk, the township overview, the admin lists.

Nothing here changes data, and nothing here decides a rule: scope comes from
``engine.domain.authz.Actor`` (the same object the service checks with), task permissions from
``Engine.list_tasks``. These are plain SQLAlchemy queries over ``engine.store.models``.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import datetime

from sqlalchemy import or_, select

from ..domain.authz import Actor
from ..domain.errors import Forbidden
from ..domain.roles import COUNTY_ROLES, LEVEL_NAMES, ROLES, TOWNSHIP_ROLES
from ..process.runtime import task_properties
from ..records.leads import lead_definition_ids
from ..store.models import AuditEvent, BoardEntry, Case, Objection, ProcessDefinition, TaskRow, User, Village
from . import Engine
from .common import STATUS_ZH, iso

OUTCOMES_ZH = {"lapsed": "流会", "failed": "未通过"}


def _village_json(v: Village) -> dict:
    return {"code": v.code, "name": v.name, "township": v.township, "county": v.county, "adults": v.adults,
            "households": v.households, "party_members": v.party_members,
            "representatives": v.representatives, "two_committees": v.two_committees}


def _actor(engine: Engine, session, username: str) -> Actor:
    return engine.actor(session, username)


# -- who is this ----------------------------------------------------------------------------
def profile(engine: Engine, username: str) -> dict | None:
    """Name, role grants and the villages this person acts in or oversees; None if unknown."""
    with engine.sessions() as session:
        user = session.scalar(select(User).where(User.username == username, User.active.is_(True)))
        if user is None:
            return None
        actor = Actor.of(user)
        villages = list(session.scalars(select(Village).order_by(Village.township, Village.code)))
        grants = []
        for r in user.roles:
            grants.append({"role": r.role, "role_name": ROLES.get(r.role, r.role),
                           "village": r.village.code if r.village else None,
                           "village_name": r.village.name if r.village else None, "township": r.township,
                           "county": r.county})
        scoped = []
        for v in villages:
            roles = actor.roles_in(v)
            if roles:
                scoped.append({**_village_json(v), "roles": sorted(roles)})
        roles = {g["role"] for g in grants}
        return {"username": user.username, "name": user.name, "grants": grants, "roles": sorted(roles),
                "must_change_password": bool(user.must_change_password),
                "villages": scoped, "is_admin": actor.is_admin(),
                "township_roles": bool(roles & TOWNSHIP_ROLES), "county_roles": bool(roles & COUNTY_ROLES)}


def villages(engine: Engine) -> list[dict]:
    with engine.sessions() as session:
        return [_village_json(v) for v in session.scalars(select(Village).order_by(Village.township, Village.code))]


def village(engine: Engine, code: str) -> dict | None:
    with engine.sessions() as session:
        v = session.scalar(select(Village).where(Village.code == code))
        return _village_json(v) if v else None


def people(engine: Engine) -> list[dict]:
    with engine.sessions() as session:
        out = []
        for user in session.scalars(select(User).order_by(User.username)):
            out.append({"username": user.username, "name": user.name, "active": user.active,
                        "phone": user.phone, "email": user.email,
                        "roles": [{"role": r.role, "role_name": ROLES.get(r.role, r.role),
                                   "village": r.village.code if r.village else None,
                                   "village_name": r.village.name if r.village else None,
                                   "township": r.township, "county": r.county} for r in user.roles]})
        return out


# -- shared pieces --------------------------------------------------------------------------
def _scope_villages(session, actor: Actor, roles: set[str] | None, village_code: str | None) -> list[Village]:
    """Villages in which ``actor`` holds one of ``roles`` (any role when None)."""
    out = []
    for v in session.scalars(select(Village).order_by(Village.township, Village.code)):
        held = actor.roles_in(v)
        if roles is not None:
            held &= roles
        if held and (village_code is None or v.code == village_code):
            out.append(v)
    return out


def _task_line(row: TaskRow, case: Case, village: Village, now: datetime) -> dict:
    return {"id": row.id, "case": case.id, "case_title": case.title, "process_name": case.definition.name,
            "village": village.code, "village_name": village.name, "name": row.name, "title": row.title,
            "role": row.role, "role_name": ROLES.get(row.role, row.role), "state": row.state, "form": row.form,
            "created_at": iso(row.created_at), "due_at": iso(row.due_at),
            "overdue": bool(row.due_at and row.state == "ready" and row.due_at < now),
            "overdue_days": (now - row.due_at).days if row.due_at and row.due_at < now else 0}


def _overdue(session, ids: list[int], now: datetime) -> list[dict]:
    rows = session.execute(
        select(TaskRow, Case, Village).join(Case, TaskRow.case_id == Case.id)
        .join(Village, TaskRow.village_id == Village.id)
        .where(TaskRow.village_id.in_(ids or [-1]), TaskRow.state == "ready", TaskRow.due_at.is_not(None),
               TaskRow.due_at < now, Case.status.in_(("running", "on_hold")),
               Case.definition_id.not_in(lead_definition_ids()))  # leads: on the 纪检 roles' lead desk only
        .order_by(TaskRow.due_at))
    return [_task_line(t, c, v, now) for t, c, v in rows]


def _objections(session, ids: list[int], *, open_only: bool, identity: bool = False) -> list[dict]:
    """Objections on the villages' boards. ``identity``: the objector's name and contact, only for the
    supervisors who answer them (CONTRACT "What people see")."""
    stmt = (select(Objection, BoardEntry, Village).join(BoardEntry, Objection.entry_id == BoardEntry.id)
            .join(Village, BoardEntry.village_id == Village.id).where(BoardEntry.village_id.in_(ids or [-1])))
    if open_only:
        stmt = stmt.where(Objection.decision.is_(None))
    out = []
    for o, e, v in session.execute(stmt.order_by(Objection.filed_at.desc(), Objection.id.desc())):
        out.append({"id": o.id, "entry": e.id, "entry_title": e.title, "case": e.case_id, "village": v.code,
                    "village_name": v.name, **({"name": o.name or "匿名", "contact": o.contact} if identity else {}),
                    "text": o.text,
                    "filed_at": iso(o.filed_at), "decision": o.decision,
                    "decision_name": {"dismiss": "异议不成立", "uphold": "异议成立"}.get(o.decision or "", "待答复"),
                    "reply": o.reply, "replied_by": o.replied_by, "replied_at": iso(o.replied_at)})
    return out


def _case_line(case: Case, open_tasks: list[TaskRow]) -> dict:
    return {"id": case.id, "title": case.title, "process": case.definition.key, "process_name": case.definition.name,
            "village": case.village.code, "village_name": case.village.name, "status": case.status,
            "status_name": STATUS_ZH.get(case.status, case.status), "hold_reason": case.hold_reason,
            "created_at": iso(case.created_at), "updated_at": iso(case.updated_at),
            "stage": "、".join(t.title for t in open_tasks) or "—",
            "waiting": any(t.state == "waiting" for t in open_tasks)}


def _open_cases(session, ids: list[int]) -> list[dict]:
    cases = list(session.scalars(select(Case).where(Case.village_id.in_(ids or [-1]),
                                                    Case.status.in_(("running", "on_hold")),
                                                    Case.definition_id.not_in(lead_definition_ids()))
                                 .order_by(Case.updated_at.desc())))
    tasks: dict[int, list[TaskRow]] = defaultdict(list)
    for t in session.scalars(select(TaskRow).where(TaskRow.case_id.in_([c.id for c in cases] or [-1]),
                                                   TaskRow.state.in_(("ready", "waiting")))
                             .order_by(TaskRow.created_at, TaskRow.id)):
        tasks[t.case_id].append(t)
    return [_case_line(c, tasks[c.id]) for c in cases]


def _meeting_problems(session, ids: list[int]) -> list[dict]:
    """Lapsed (流会) and failed (未通过) meetings: from task data ``outcome`` and, for forms
    that record no outcome, from the audit summaries."""
    out: list[dict] = []
    seen: set[str] = set()
    rows = session.execute(
        select(TaskRow, Case, Village).join(Case, TaskRow.case_id == Case.id)
        .join(Village, TaskRow.village_id == Village.id)
        .where(TaskRow.village_id.in_(ids or [-1]), TaskRow.state == "completed")
        .order_by(TaskRow.completed_at.desc()))
    for t, c, v in rows:
        outcome = (t.data or {}).get("outcome")
        if outcome in OUTCOMES_ZH:
            seen.add(t.id)
            out.append({"task": t.id, "case": c.id, "case_title": c.title, "village": v.code, "village_name": v.name,
                        "title": t.title, "outcome": outcome, "outcome_name": OUTCOMES_ZH[outcome],
                        "held_on": (t.data or {}).get("held_on"), "at": iso(t.completed_at),
                        "reason": (t.data or {}).get("outcome_reason", "")})
    events = session.execute(
        select(AuditEvent, Case, Village).join(Case, AuditEvent.case_id == Case.id)
        .join(Village, Case.village_id == Village.id)
        .where(Case.village_id.in_(ids or [-1]), AuditEvent.action == "complete",
               or_(AuditEvent.summary.contains("流会"), AuditEvent.summary.contains("未通过")))
        .order_by(AuditEvent.at.desc()))
    for e, c, v in events:
        if e.task_id in seen:
            continue
        outcome = "lapsed" if "流会" in e.summary else "failed"
        out.append({"task": e.task_id, "case": c.id, "case_title": c.title, "village": v.code, "village_name": v.name,
                    "title": e.summary.split("：", 1)[0], "outcome": outcome, "outcome_name": OUTCOMES_ZH[outcome],
                    "held_on": None, "at": iso(e.at), "reason": e.summary})
    out.sort(key=lambda x: x["at"] or "", reverse=True)
    return out


# -- the supervision desk -------------------------------------------------------------------
def supervision(engine: Engine, username: str, village_code: str | None = None) -> dict:
    """What the village supervision committee (村务监督委员会) watches over."""
    tasks = [t for t in engine.list_tasks(username, village_code)
             if t["role"] == "supervisor" or t.get("form") == "objection_reply"]
    with engine.sessions() as session:
        actor = _actor(engine, session, username)
        scope = _scope_villages(session, actor, {"supervisor"}, village_code)
        ids = [v.id for v in scope]
        now = engine.now()
        cases = _open_cases(session, ids)
        return {
            "villages": [_village_json(v) for v in scope],
            "tasks": tasks,
            "objections": _objections(session, ids, open_only=True, identity=True),
            "on_hold": [c for c in cases if c["status"] == "on_hold"],
            "running": [c for c in cases if c["status"] == "running"],
            "overdue": _overdue(session, ids, now),
        }


# -- inspections, holds, disclosures ----------------------------------------------------------
CAUSES_ZH = {"object": "监委会审核时提出异议", "escalate": "村民异议涉及决定本身，监委会报乡镇核查"}


def _inspection_cause(session, row: TaskRow) -> dict:
    """What caused an ``inspection`` task: the supervisor's review opinion (``object``) or the
    villager's objection and the supervisor's reply (``escalate``). The objector is never named."""
    stmt = (select(TaskRow).where(TaskRow.case_id == row.case_id, TaskRow.state == "completed",
                                  TaskRow.completed_at <= row.created_at)
            .order_by(TaskRow.completed_at.desc(), TaskRow.id))
    source = None
    for t in session.scalars(stmt):
        if (t.data or {}).get("decision") in CAUSES_ZH and (
                row.name == f"inspect_{t.name}" or not row.name.startswith("inspect_")):
            source = t
            break
    if source is None:
        return {"cause": "", "cause_kind": "", "cause_kind_name": "", "cause_by": "", "cause_stage": ""}
    data = source.data or {}
    by = session.get(User, source.completed_by) if source.completed_by else None
    cause = data.get("opinion") or data.get("reply") or ""
    if data.get("decision") == "escalate" and source.objection_id:
        objection = session.get(Objection, source.objection_id)
        if objection is not None:
            cause = f"村民异议：{objection.text}；监委会答复：{data.get('reply') or ''}"
    return {"cause": cause, "cause_kind": data["decision"], "cause_kind_name": CAUSES_ZH[data["decision"]],
            "cause_by": by.name if by else "", "cause_stage": source.title}


def _inspections(session, ids: list[int], now: datetime) -> list[dict]:
    """Open ``inspection`` tasks (乡镇纪委核查) of these villages, oldest first, with their cause."""
    rows = session.execute(
        select(TaskRow, Case, Village).join(Case, TaskRow.case_id == Case.id)
        .join(Village, TaskRow.village_id == Village.id)
        .where(TaskRow.village_id.in_(ids or [-1]), TaskRow.state == "ready", TaskRow.form == "inspection",
               Case.status.in_(("running", "on_hold")))
        .order_by(TaskRow.created_at, TaskRow.id))
    return [{**_task_line(t, c, v, now), "township": v.township, **_inspection_cause(session, t)}
            for t, c, v in rows]


def _holds(session, cases: list[dict]) -> list[dict]:
    """Cases on hold: why, who placed the hold (their name), at which level, since when."""
    held = [c for c in cases if c["status"] == "on_hold"]
    if not held:
        return []
    rows = {c.id: c for c in session.scalars(select(Case).where(Case.id.in_([c["id"] for c in held])))}
    names = {u.username: u.name for u in session.scalars(
        select(User).where(User.username.in_([r.hold_by for r in rows.values() if r.hold_by] or [""])))}
    since: dict[int, datetime] = {}
    for e in session.scalars(select(AuditEvent).where(AuditEvent.case_id.in_(list(rows)),
                                                      AuditEvent.action == "hold").order_by(AuditEvent.id)):
        since[e.case_id] = e.at
    out = []
    for c in held:
        row = rows[c["id"]]
        level = row.hold_level or 1
        out.append({**c, "township": row.village.township, "hold_by_name": names.get(row.hold_by or "", ""),
                    "hold_level": level, "hold_level_name": LEVEL_NAMES.get(level, ""),
                    "held_since": iso(since.get(row.id))})
    return out


def _publishes(engine: Engine, case: Case, name: str) -> bool:
    """Whether the step ``name`` of this case's definition posts a notice (a disclosure's review)."""
    deployed = engine.catalog.deployed(case.definition)
    for spec in (deployed.spec, *(deployed.subprocess_specs or {}).values()):
        task_spec = spec.task_specs.get(name)
        if task_spec is not None:
            return bool(task_properties(task_spec).get("publishes"))
    return False


def _disclosures_overdue(engine: Engine, session, overdue: list[dict]) -> list[dict]:
    """Overdue steps of a disclosure: drafting it, or the supervisors' approval that posts it."""
    out = []
    for t in overdue:
        if t["form"] == "disclosure" or (t["form"] == "review" and _publishes(engine, session.get(Case, t["case"]),
                                                                              t["name"])):
            out.append(t)
    return out


def _overruns(session, ids: list[int]) -> list[dict]:
    """Implementations that spent more than the resolution approved (issue 15), with the reason."""
    out = []
    rows = session.execute(select(TaskRow, Case, Village).join(Case, TaskRow.case_id == Case.id)
                           .join(Village, Case.village_id == Village.id)
                           .where(Case.village_id.in_(ids or [-1]), TaskRow.state == "completed",
                                  TaskRow.form == "implementation")
                           .order_by(TaskRow.completed_at.desc()))
    for row, case, village in rows:
        data = row.data or {}
        if data.get("over_budget"):
            out.append({"case": case.id, "case_title": case.title, "village": village.code,
                        "village_name": village.name, "approved": data.get("approved_amount"),
                        "spent": data.get("amount_spent"), "reason": data.get("over_budget_reason", ""),
                        "at": iso(row.completed_at)})
    return out


# -- the township overview ------------------------------------------------------------------
COUNT_KEYS = ("open", "running", "on_hold", "overdue", "lapsed", "failed", "objections", "open_objections",
              "inspections", "inspections_overdue", "closed", "photos_missing")


def _notice_photos_missing(session, ids: list[int], now: datetime) -> list[dict]:
    """Posted notices whose item asks for a photo of the notice on the board (catalogue
    ``notice_photo``; 一码一工程, R44) and that have none past the end of the second day after
    posting (缺张贴照片); a notice replaced by a re-notice is not counted."""
    from datetime import timedelta

    from ..records import publicity
    from ..records.evidence import NOTICE_PHOTO_DAYS, notice_photo_due, notice_photo_wanted

    rows = [(e, c, v) for e, c, v in session.execute(
        select(BoardEntry, Case, Village).join(Case, BoardEntry.case_id == Case.id)
        .join(Village, BoardEntry.village_id == Village.id)
        .where(BoardEntry.village_id.in_(ids or [-1]), BoardEntry.notice_until.is_not(None),
               BoardEntry.kind.not_in(("photo", "objection_reply")),
               BoardEntry.posted_at < now - timedelta(days=NOTICE_PHOTO_DAYS),  # none later can be late
               Case.definition_id.not_in(lead_definition_ids()))
        .order_by(BoardEntry.posted_at, BoardEntry.id)) if notice_photo_wanted(c.definition.meta)]
    if not rows:
        return []
    later = set(session.execute(select(BoardEntry.refers_to_id, BoardEntry.kind).where(
        BoardEntry.refers_to_id.in_([e.id for e, _c, _v in rows]))).all())
    out = []
    for e, c, v in rows:
        due = notice_photo_due(e.posted_at)
        if now <= due or (e.id, "photo") in later or (e.id, e.kind) in later:
            continue
        out.append({"entry": e.id, "entry_title": e.title, "kind_name": publicity.KINDS.get(e.kind, e.kind),
                    "case": c.id, "case_title": c.title, "village": v.code, "village_name": v.name,
                    "township": v.township, "posted_at": iso(e.posted_at), "posted_by": e.posted_by,
                    "due_at": iso(due), "what": notice_photo_wanted(c.definition.meta),
                    "overdue_days": max(1, (now - due).days + (1 if (now - due).seconds else 0))})
    return out


def _oversight(session, scope: list[Village], now: datetime) -> dict:
    """What the township and county desks both show for a set of villages, with counts per village."""
    ids = [v.id for v in scope]
    cases = _open_cases(session, ids)
    overdue = _overdue(session, ids, now)
    meetings = _meeting_problems(session, ids)
    objections = _objections(session, ids, open_only=False)
    inspections = _inspections(session, ids, now)
    photos = _notice_photos_missing(session, ids, now)
    by_item: dict[tuple[str, str], Counter] = defaultdict(Counter)
    for c in cases:
        by_item[(c["process_name"], c["village_name"])][c["stage"]] += 1
    groups = []
    for (item, vname), stages in sorted(by_item.items()):
        groups.append({"item": item, "village_name": vname, "total": sum(stages.values()),
                       "stages": [{"stage": s, "count": n} for s, n in sorted(stages.items())]})
    finished = Counter(session.scalars(
        select(Case.village_id).where(Case.village_id.in_(ids or [-1]), Case.status.not_in(("running", "on_hold")),
                                      Case.definition_id.not_in(lead_definition_ids()))))
    counts = []
    for v in scope:
        mine = [c for c in cases if c["village"] == v.code]
        counts.append({
            "code": v.code, "name": v.name, "township": v.township, "county": v.county,
            "open": len(mine),
            "running": sum(1 for c in mine if c["status"] == "running"),
            "on_hold": sum(1 for c in mine if c["status"] == "on_hold"),
            "overdue": sum(1 for t in overdue if t["village"] == v.code),
            "lapsed": sum(1 for m in meetings if m["village"] == v.code and m["outcome"] == "lapsed"),
            "failed": sum(1 for m in meetings if m["village"] == v.code and m["outcome"] == "failed"),
            "objections": sum(1 for o in objections if o["village"] == v.code),
            "open_objections": sum(1 for o in objections if o["village"] == v.code and not o["decision"]),
            "inspections": sum(1 for t in inspections if t["village"] == v.code),
            "inspections_overdue": sum(1 for t in inspections if t["village"] == v.code and t["overdue"]),
            "closed": finished[v.id],
            "photos_missing": sum(1 for m in photos if m["village"] == v.code),
        })
    totals = {k: sum(c[k] for c in counts) for k in COUNT_KEYS}
    return {"counts": counts, "totals": totals, "cases": cases, "groups": groups, "overdue": overdue,
            "meetings": meetings, "objections": objections, "inspections": inspections, "photos_missing": photos}


def township(engine: Engine, username: str, village_code: str | None = None) -> dict:
    """All villages of the person's township(s): open cases by item and stage, overdue steps,
    lapsed and failed meetings, objections, the inspection queue, with counts per village."""
    with engine.sessions() as session:
        actor = _actor(engine, session, username)
        all_villages = _scope_villages(session, actor, set(TOWNSHIP_ROLES), None)
        scope = [v for v in all_villages if v.code == village_code] if village_code else all_villages
        now = engine.now()
        return {"townships": sorted({v.township for v in all_villages}),
                "villages": [_village_json(v) for v in all_villages], **_oversight(session, scope, now),
                "overruns": _overruns(session, [v.id for v in scope]), "generated_at": iso(now)}


# -- the county overview --------------------------------------------------------------------
NO_COUNTY = "（未填县）"
#: Short status names of a lead for the county desk's counts (engine.records.leads.STATUS has the long ones).
LEAD_STATUS_ZH = {"received": "待受理", "accepted": "办理中", "forwarded": "已转办", "not_accepted": "不予受理",
                  "closed": "已办结"}


def county(engine: Engine, username: str, village_code: str | None = None, township_name: str | None = None) -> dict:
    """县级视图 for the county inspector (县纪委; an admin sees every village): per township and
    village, cases running and on hold (why, who, which level), inspections open and overdue,
    lapsed and failed meetings, objections (never naming the objector), overdue disclosures, and
    complaint leads by status and deadline.

    Raises Forbidden for anyone who is neither a county inspector nor an administrator."""
    with engine.sessions() as session:
        actor = _actor(engine, session, username)
        if not actor.counties() and not actor.is_admin():
            raise Forbidden("县级视图仅供县纪委使用")
        all_villages = _scope_villages(session, actor, set(COUNTY_ROLES) | {"admin"}, None)
        scope = [v for v in all_villages if (not village_code or v.code == village_code)
                 and (not township_name or v.township == township_name)]
        now = engine.now()
        data = _oversight(session, scope, now)
        for o in data["objections"]:  # the county never sees who objected
            o.pop("name", None)
            o.pop("contact", None)
        holds = _holds(session, data["cases"])
        disclosures = _disclosures_overdue(engine, session, data["overdue"])
        late = Counter(t["village"] for t in disclosures)
        for c in data["counts"]:
            c["disclosures_overdue"] = late[c["code"]]
        data["totals"]["disclosures_overdue"] = len(disclosures)
        townships = []
        by_township: dict[tuple[str, str], list[dict]] = defaultdict(list)
        for c in data["counts"]:
            by_township[(c["county"] or NO_COUNTY, c["township"])].append(c)
        for (county_name, name), rows in sorted(by_township.items()):
            townships.append({"county": county_name, "name": name, "villages": rows,
                              "totals": {k: sum(r[k] for r in rows) for k in (*COUNT_KEYS, "disclosures_overdue")}})
        out = {"counties": sorted({v.county or NO_COUNTY for v in all_villages}),
               "township_names": sorted({v.township for v in all_villages}),
               "villages": [_village_json(v) for v in all_villages], "townships": townships,
               **data, "holds": holds, "disclosures_overdue": disclosures, "generated_at": iso(now)}
        codes = {v.code for v in scope}
    _add_leads(engine, username, out, codes)
    return out


LEAD_OPEN = ("received", "accepted")


def _add_leads(engine: Engine, username: str, out: dict, codes: set[str]) -> None:
    """Complaint leads (问题线索) of the scope, by status and deadline, from the lead desk's own
    query (``Engine.leads_desk``: its visibility rules, never the reporter's identity)."""
    leads = [i for i in engine.leads_desk(username)["leads"] if i["village"] in codes]
    items = [{k: i[k] for k in ("case", "title", "village", "village_name", "category_name", "status",
                                "status_name", "received_at", "accept_due", "due_at", "stage", "overdue",
                                "to_county", "assignment", "supervised", "supervision_due", "accountability")}
             for i in leads]
    keys = ("leads_open", "leads_overdue", "leads_supervised", "accountability")
    for c in out["counts"]:
        mine = [i for i in items if i["village"] == c["code"]]
        c["leads_open"] = sum(1 for i in mine if i["status"] in LEAD_OPEN)
        c["leads_overdue"] = sum(1 for i in mine if i["overdue"])
        c["leads_supervised"] = sum(1 for i in mine if i["supervised"])
        c["accountability"] = sum(i["accountability"] for i in mine)  # 一案双查: people held to account
    for t in out["townships"]:
        for key in keys:
            t["totals"][key] = sum(c[key] for c in t["villages"])
    for key in keys:
        out["totals"][key] = sum(c[key] for c in out["counts"])
    out["leads"] = sorted(items, key=lambda i: (not i["overdue"], i["status"] not in LEAD_OPEN, i["due_at"] or "~"))
    out["lead_status"] = [{"status": k, "name": n, "count": sum(1 for i in items if i["status"] == k)}
                          for k, n in LEAD_STATUS_ZH.items()]


def processes_by_name(engine: Engine) -> dict[str, str]:
    with engine.sessions() as session:
        return {r.key: r.name for r in session.scalars(select(ProcessDefinition))}
