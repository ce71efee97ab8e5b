"""Read-only queries for the people's pages: who someone is and what they may see, the
supervision desk, the township overview, the admin lists.

Nothing here changes data, and nothing here decides a rule: scope comes from
``engine.authz.Actor`` (the same object the service checks with), task permissions from
``Engine.list_tasks``. These are plain SQLAlchemy queries over ``engine.models``.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import datetime

from sqlalchemy import or_, select

from .authz import Actor
from .models import AuditEvent, BoardEntry, Case, Objection, ProcessDefinition, TaskRow, User, Village
from .roles import ROLES, TOWNSHIP_ROLES
from .service import STATUS_ZH, Engine, iso

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
                "villages": scoped, "is_admin": actor.is_admin(),
                "township_roles": bool(roles & TOWNSHIP_ROLES)}


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
            "role": row.role, "role_name": ROLES.get(row.role, row.role), "state": row.state,
            "created_at": iso(row.created_at), "due_at": iso(row.due_at),
            "overdue": bool(row.due_at and row.state == "ready" and row.due_at < now),
            "overdue_days": (now - row.due_at).days if row.due_at and row.due_at < now else 0}


def _overdue(session, ids: list[int], now: datetime) -> list[dict]:
    rows = session.execute(
        select(TaskRow, Case, Village).join(Case, TaskRow.case_id == Case.id)
        .join(Village, TaskRow.village_id == Village.id)
        .where(TaskRow.village_id.in_(ids or [-1]), TaskRow.state == "ready", TaskRow.due_at.is_not(None),
               TaskRow.due_at < now, Case.status.in_(("running", "on_hold")))
        .order_by(TaskRow.due_at))
    return [_task_line(t, c, v, now) for t, c, v in rows]


def _objections(session, ids: list[int], *, open_only: bool) -> list[dict]:
    stmt = (select(Objection, BoardEntry, Village).join(BoardEntry, Objection.entry_id == BoardEntry.id)
            .join(Village, BoardEntry.village_id == Village.id).where(BoardEntry.village_id.in_(ids or [-1])))
    if open_only:
        stmt = stmt.where(Objection.decision.is_(None))
    out = []
    for o, e, v in session.execute(stmt.order_by(Objection.filed_at.desc(), Objection.id.desc())):
        out.append({"id": o.id, "entry": e.id, "entry_title": e.title, "case": e.case_id, "village": v.code,
                    "village_name": v.name, "name": o.name, "contact": o.contact, "text": o.text,
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
                                                    Case.status.in_(("running", "on_hold")))
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
            "objections": _objections(session, ids, open_only=True),
            "on_hold": [c for c in cases if c["status"] == "on_hold"],
            "running": [c for c in cases if c["status"] == "running"],
            "overdue": _overdue(session, ids, now),
        }


# -- the township overview ------------------------------------------------------------------
def township(engine: Engine, username: str, village_code: str | None = None) -> dict:
    """All villages of the person's township(s): open cases by item and stage, overdue steps,
    lapsed and failed meetings, objections, with counts per village."""
    with engine.sessions() as session:
        actor = _actor(engine, session, username)
        scope = _scope_villages(session, actor, set(TOWNSHIP_ROLES), None)
        all_villages = scope
        if village_code:
            scope = [v for v in scope if v.code == village_code]
        ids = [v.id for v in scope]
        now = engine.now()
        cases = _open_cases(session, ids)
        overdue = _overdue(session, ids, now)
        meetings = _meeting_problems(session, ids)
        objections = _objections(session, ids, open_only=False)
        by_item: dict[tuple[str, str], Counter] = defaultdict(Counter)
        for c in cases:
            by_item[(c["process_name"], c["village_name"])][c["stage"]] += 1
        groups = []
        for (item, vname), stages in sorted(by_item.items()):
            groups.append({"item": item, "village_name": vname, "total": sum(stages.values()),
                           "stages": [{"stage": s, "count": n} for s, n in sorted(stages.items())]})
        finished = Counter(session.scalars(
            select(Case.village_id).where(Case.village_id.in_(ids or [-1]),
                                          Case.status.not_in(("running", "on_hold")))))
        counts = []
        for v in scope:
            counts.append({
                "code": v.code, "name": v.name, "township": v.township,
                "open": sum(1 for c in cases if c["village"] == v.code),
                "on_hold": sum(1 for c in cases if c["village"] == v.code and c["status"] == "on_hold"),
                "overdue": sum(1 for t in overdue if t["village"] == v.code),
                "lapsed": sum(1 for m in meetings if m["village"] == v.code and m["outcome"] == "lapsed"),
                "failed": sum(1 for m in meetings if m["village"] == v.code and m["outcome"] == "failed"),
                "objections": sum(1 for o in objections if o["village"] == v.code),
                "open_objections": sum(1 for o in objections if o["village"] == v.code and not o["decision"]),
                "closed": finished[v.id],
            })
        totals = {k: sum(c[k] for c in counts) for k in
                  ("open", "on_hold", "overdue", "lapsed", "failed", "objections", "open_objections")}
        return {"townships": sorted({v.township for v in all_villages}),
                "villages": [_village_json(v) for v in all_villages], "counts": counts, "totals": totals,
                "cases": cases, "groups": groups, "overdue": overdue, "meetings": meetings,
                "objections": objections, "generated_at": iso(now)}


def processes_by_name(engine: Engine) -> dict[str, str]:
    with engine.sessions() as session:
        return {r.key: r.name for r in session.scalars(select(ProcessDefinition))}
