"""Notices to people (issue 17, the 纪委书记手机平台; CONTRACT.md "Notices to people").

Every notice is written to the inbox of each person it is for and to the outbox (one message per
channel the person can be reached on, and one for the chat webhook) in the transaction of the event
itself: a step that rolls back tells nobody, a committed one is never lost. ``cunwu worker`` sends
the outbox (engine.records.delivery); nothing is sent inside a request.

A notice never names an objector or a reporter: its title says what happened to which case of
which village, nothing more.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.orm import Session

from ..domain.clock import LOCAL_TZ
from ..domain.errors import NotFound
from ..store.models import Case, Notification, OutboxMessage, RoleAssignment, TaskRow, User, Village

LEAD_PROCESS = "complaint-lead"  # engine.records.leads.LEAD_PROCESS (not imported: leads imports the engine's pieces)
#: ``receivable`` (a contract's amount fell due, or is overdue and unpaid: engine/records/receivables.py)
#: extends the contract's table, which has no money events.
KINDS = ("objection", "hold", "overdue", "lead", "receivable")
KIND_NAMES = {"objection": "异议", "hold": "暂停", "overdue": "超期", "lead": "线索", "receivable": "应收",
              "digest": "每日汇总"}
#: No SMS between 22:00 and 07:00 Beijing time, except for a hold.
QUIET_FROM, QUIET_TO = 22, 7


def _iso(value: datetime | None) -> str | None:
    from datetime import UTC

    return value.astimezone(UTC).isoformat() if value else None


def holders(session: Session, village: Village, roles: Iterable[str], *,
            county_roles: Iterable[str] = ()) -> list[User]:
    """Active people holding one of ``roles`` for ``village``: in the village itself, over its
    township, or (``county_roles``) over its county."""
    roles, county_roles = set(roles), set(county_roles)
    scope = [and_(RoleAssignment.role.in_(roles),
                  or_(RoleAssignment.village_id == village.id, RoleAssignment.township == village.township))]
    if county_roles and village.county:
        scope.append(and_(RoleAssignment.role.in_(county_roles), RoleAssignment.county == village.county))
    ids = select(RoleAssignment.user_id).where(or_(*scope))
    return list(session.scalars(select(User).where(User.id.in_(ids), User.active.is_(True)).order_by(User.id)))


#: A person's notice preferences when they chose nothing (issue 17): SMS and email on, no digest,
#: no SMS 22:00–07:00 Beijing time.
DEFAULT_PREFS = {"sms": True, "email": True, "digest_hour": None, "quiet_from": QUIET_FROM, "quiet_to": QUIET_TO}
PREF_LABELS = {"sms": "短信", "email": "邮件", "digest_hour": "每日汇总时间", "quiet_from": "免打扰开始时间",
               "quiet_to": "免打扰结束时间"}


def preferences(user: User) -> dict:
    """The person's preferences, the defaults filled in."""
    prefs = dict(DEFAULT_PREFS)
    if isinstance(user.notice_prefs, dict):
        prefs.update({k: v for k, v in user.notice_prefs.items() if k in DEFAULT_PREFS})
    return prefs


def preferences_json(user: User) -> dict:
    return {**preferences(user), "summary": describe(preferences(user), user)}


def describe(prefs: dict, user: User | None = None) -> str:
    """One line of Chinese: 站内、短信、邮件；每日8点汇总；22:00–07:00免打扰 (with ``user``, only the
    channels the person can be reached on)."""
    parts = ["站内"]
    for key, label, contact in (("sms", "短信", "phone"), ("email", "邮件", "email")):
        if prefs[key] and (user is None or getattr(user, contact)):
            parts.append(label)
    parts.append(f"每日{prefs['digest_hour']}点汇总" if prefs["digest_hour"] is not None else "逐条发送")
    if prefs["quiet_from"] == prefs["quiet_to"]:
        parts.append("不设免打扰")
    else:
        parts.append(f"{prefs['quiet_from']:02d}:00–{prefs['quiet_to']:02d}:00免打扰")
    return "、".join(parts[:-2]) + "；" + "；".join(parts[-2:])


def check_preferences(raw: dict) -> dict:
    """Preferences as sent (page or API), checked: ``sms``/``email`` true or false, ``digest_hour``
    an hour 0–23 or null (single messages), ``quiet_from``/``quiet_to`` hours 0–23 (equal: no quiet
    hours). Raises ``Invalid`` naming every bad field; keys not given keep their default."""
    from ..domain.errors import Invalid

    if not isinstance(raw, dict):
        raise Invalid("请提交通知设置（JSON 对象）")
    out, problems = {}, {}
    for key in ("sms", "email"):
        if key in raw:
            if not isinstance(raw[key], bool):
                problems[key] = [f"{PREF_LABELS[key]}（{key}）必须是 true 或 false"]
            else:
                out[key] = raw[key]
    for key in ("digest_hour", "quiet_from", "quiet_to"):
        if key not in raw:
            continue
        value = raw[key]
        if value is None and key == "digest_hour":
            out[key] = None
        elif isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 23:
            problems[key] = [f"{PREF_LABELS[key]}（{key}）必须是0到23之间的整点（北京时间）"]
        else:
            out[key] = value
    if problems:
        raise Invalid("通知设置有误：" + "；".join(m for ms in problems.values() for m in ms), problems)
    return out


def quiet_until(now: datetime, start: int = QUIET_FROM, end: int = QUIET_TO) -> datetime | None:
    """The end of the quiet hours ``start``–``end`` (Beijing time; they may run past midnight) if
    ``now`` is inside them, else None. ``start == end``: no quiet hours."""
    local = now.astimezone(LOCAL_TZ)
    if start == end:
        return None
    if start > end:  # 22–7: past midnight
        if local.hour >= start:
            local = local + timedelta(days=1)
        elif local.hour >= end:
            return None
    elif not start <= local.hour < end:  # 13–15: within one day
        return None
    return local.replace(hour=end, minute=0, second=0, microsecond=0)


def next_digest(now: datetime, hour: int) -> datetime:
    """The next ``hour``:00 Beijing time after ``now``: when the daily digest goes out."""
    local = now.astimezone(LOCAL_TZ)
    at = local.replace(hour=hour, minute=0, second=0, microsecond=0)
    if at <= local:
        at += timedelta(days=1)
    return at


def write(session: Session, people: Iterable[User], *, kind: str, title: str, now: datetime,
          village: str = "", case_id: int | None = None, lead: int | None = None, path: str = "",
          village_id: int | None = None) -> int:
    """Put one notice in each person's inbox and its messages in the outbox (this transaction),
    as each person chose: channels off send nothing there; with a daily digest the messages wait
    for it (``status="digest"``); SMS waits for the end of their quiet hours. A hold is always
    sent at once, digest or quiet hours."""
    assert kind in KINDS
    seen: set[int] = set()
    for person in people:
        if person.id in seen:
            continue
        seen.add(person.id)
        notice = Notification(user_id=person.id, kind=kind, title=title, path=path, case_id=case_id,
                              lead_id=lead, at=now)
        session.add(notice)
        session.flush()
        prefs = preferences(person)
        common = {"notification_id": notice.id, "user_id": person.id, "village_id": village_id, "kind": kind,
                  "village": village, "subject": title, "path": path, "status": "pending", "attempts": 0,
                  "created_at": now}
        if kind != "hold" and prefs["digest_hour"] is not None:
            common.update(status="digest", next_at=next_digest(now, prefs["digest_hour"]))
            sms_at = email_at = None
        else:
            email_at = now
            sms_at = now if kind == "hold" else (quiet_until(now, prefs["quiet_from"], prefs["quiet_to"]) or now)
        if person.email and prefs["email"]:
            session.add(OutboxMessage(channel="email", address=person.email,
                                      **({"next_at": email_at} if email_at else {}), **common))
        if person.phone and prefs["sms"]:
            session.add(OutboxMessage(channel="sms", address=person.phone,
                                      **({"next_at": sms_at} if sms_at else {}), **common))
    if seen:  # the chat group hears of the event once, not once per person
        session.add(OutboxMessage(notification_id=None, channel="webhook", address="", kind=kind, village=village,
                                  village_id=village_id, subject=title, path=path, status="pending", attempts=0,
                                  created_at=now, next_at=now))
    return len(seen)


def quote(title: str, limit: int = 40) -> str:
    title = " ".join(title.split())
    return f"“{title if len(title) <= limit else title[:limit - 1] + '…'}”"


# -- the events of the contract's table -------------------------------------------------------------
def objection_filed(session: Session, case: Case | None, village: Village, entry_title: str, now: datetime,
                    answering: set[str] | None = None) -> int:
    """An objection on a board entry: whoever answers it (``answering``: the roles of its reply task;
    the village's supervisors by default, the 党支部 for a 发展对象公示), the township's 纪委."""
    people = holders(session, village, (answering or {"supervisor"}) | {"discipline_inspector"})
    if case is not None:
        people = without_excluded(people, case)
    title = f"{village.name}{quote(case.title if case else entry_title)}公示收到村民异议，请关注答复"
    return write(session, people, kind="objection", title=title, now=now, village=village.name, village_id=village.id,
                 case_id=case.id if case else None, path=f"/cases/{case.id}" if case else f"/villages/{village.code}/board")


def hold_changed(session: Session, case: Case, *, released: bool, now: datetime) -> int:
    """A case put on hold or released: the village's party secretary and supervisors, the township's 纪委.
    A complaint lead's case is for the 纪检 roles only (R60): the village is never told of it."""
    village = case.village
    if _is_lead(case):
        people = _lead_people(session, case, county=True)
    else:
        people = holders(session, village, {"party_secretary", "supervisor", "discipline_inspector"})
    what = "已恢复办理" if released else "已暂停办理"
    title = f"{village.name}{quote(case.title)}{what}"
    return write(session, without_excluded(people, case), kind="hold", title=title, now=now, village=village.name,
                 village_id=village.id,
                 case_id=case.id, path=f"/cases/{case.id}")


def task_overdue(session: Session, row: TaskRow, case: Case, now: datetime) -> int:
    """A ready task past its due date: whoever holds its role in its village, the township's 纪委.
    A lead's intake past its ``accept_due`` is told as a ``lead`` notice instead."""
    village = case.village
    if _is_lead(case) and row.form == "lead_intake":
        return lead_event(session, case, _lead_id(session, case), overdue=True, now=now)
    people = holders(session, village, {row.role}, county_roles={row.role})
    people += holders(session, village, {"discipline_inspector"})
    title = f"{village.name}{quote(case.title, 30)}的“{row.title}”已超过办理期限"
    return write(session, without_excluded(people, case), kind="overdue", title=title, now=now,
                 village=village.name, village_id=village.id, case_id=case.id, path=f"/cases/{case.id}")


def lead_event(session: Session, case: Case, lead_id: int | None, *, overdue: bool, now: datetime) -> int:
    """A lead received, or past its ``accept_due`` unaccepted: the township's 纪委 (overdue: also the
    county inspector). A lead that names a township official is kept from that township (its
    inspectors are the case's excluded users): the county inspector hears of it instead. The title
    names neither the reporter nor what the lead says, nor the reporter's query code."""
    people = _lead_people(session, case, county=overdue)
    village = case.village
    title = (f"{village.township}{quote(case.title)}超过受理期限仍未受理" if overdue
             else f"{village.township}收到{quote(case.title)}，请及时受理")
    return write(session, people, kind="lead", title=title, now=now, village=village.name, village_id=village.id,
                 case_id=case.id,
                 lead=lead_id, path=f"/cases/{case.id}")


def _lead_people(session: Session, case: Case, *, county: bool) -> list[User]:
    people = without_excluded(holders(session, case.village, {"discipline_inspector"}), case)
    if county or not people:  # nobody left in the township (R60): the county inspector
        people += holders(session, case.village, set(), county_roles={"county_inspector"})
    return people


def _is_lead(case: Case) -> bool:
    return case.definition.key == LEAD_PROCESS


def _lead_id(session: Session, case: Case) -> int | None:
    from ..store.models import Lead

    return session.scalar(select(Lead.id).where(Lead.case_id == case.id))


def without_excluded(people: list[User], case: Case) -> list[User]:
    excluded = set(case.excluded_users or [])
    return [p for p in people if p.username not in excluded]


# -- the overdue scan (run with the timers) ---------------------------------------------------------
def scan_overdue(sessions, now: datetime, batch: int = 200) -> int:
    """Tell of every ready task past its due date, once per task. Rows are claimed with
    ``FOR UPDATE SKIP LOCKED`` on PostgreSQL, so two workers never tell twice."""
    told = 0
    while True:
        with sessions() as session, session.begin():
            stmt = (select(TaskRow).where(TaskRow.state == "ready", TaskRow.due_at.is_not(None),
                                          TaskRow.due_at < now, TaskRow.overdue_noticed_at.is_(None))
                    .order_by(TaskRow.due_at, TaskRow.id).limit(batch))
            if session.bind.dialect.name == "postgresql":
                stmt = stmt.with_for_update(skip_locked=True, of=TaskRow)
            rows = list(session.scalars(stmt))
            for row in rows:
                # On SQLite the conditional update takes the write lock: a second worker waits, then
                # finds the task already told.
                done = session.execute(update(TaskRow).where(TaskRow.id == row.id,
                                                             TaskRow.overdue_noticed_at.is_(None))
                                       .values(overdue_noticed_at=now))
                if done.rowcount != 1:
                    continue
                case = session.get(Case, row.case_id)
                if case is None or case.status not in ("running", "on_hold"):
                    continue
                task_overdue(session, row, case, now)
                told += 1
        if len(rows) < batch:
            return told


# -- the inbox ---------------------------------------------------------------------------------------
def inbox(session: Session, user_id: int, limit: int = 200) -> list[dict]:
    rows = session.scalars(select(Notification).where(Notification.user_id == user_id)
                           .order_by(Notification.at.desc(), Notification.id.desc()).limit(limit))
    return [notice_json(n) for n in rows]


def notice_json(n: Notification) -> dict:
    out = {"id": n.id, "at": _iso(n.at), "kind": n.kind, "title": n.title}
    if n.case_id is not None:
        out["case"] = n.case_id
    if n.lead_id is not None:
        out["lead"] = n.lead_id
    out["read"] = n.read_at is not None
    return out


def unread(session: Session, user_id: int) -> int:
    return session.scalar(select(func.count()).select_from(Notification).where(
        Notification.user_id == user_id, Notification.read_at.is_(None))) or 0


def read_notice(session: Session, user_id: int, notice_id: int, now: datetime) -> Notification:
    """One's own notice, marked read (someone else's notice does not exist for you: 404)."""
    notice = session.get(Notification, notice_id) if isinstance(notice_id, int) and 0 < notice_id < 2**31 else None
    if notice is None or notice.user_id != user_id:
        raise NotFound(f"没有编号为{notice_id}的通知")
    if notice.read_at is None:
        notice.read_at = now
    return notice


def mark_read(session: Session, user_id: int, notice_id: int, now: datetime) -> dict:
    return notice_json(read_notice(session, user_id, notice_id, now))


# -- the township desk: what was sent ---------------------------------------------------------------
DESK_ROLES = {"township_official", "discipline_inspector"}
CHANNEL_NAMES = {"email": "邮件", "sms": "短信", "webhook": "工作群"}
DESK_STATUSES = {"sent": "已发出", "failed": "失败待重试", "dead": "发送失败", "waiting": "待发送", "skipped": "未发"}


def _desk_status(m: OutboxMessage, digest: OutboxMessage | None) -> tuple[str, str]:
    """(filter key, Chinese words) of a message's state on the township desk."""
    if m.status == "digested" and digest is not None:
        key, words = _desk_status(digest, None)
        return key, f"{words}（每日汇总）"
    if m.status == "digest":
        return "waiting", "待每日汇总"
    if m.status == "pending":
        return ("failed", f"失败待重试（已试{m.attempts}次）") if m.attempts else ("waiting", "待发送")
    if m.status == "skipped":
        return "skipped", f"未发：{m.last_error or '渠道未配置'}"
    return m.status, DESK_STATUSES.get(m.status, m.status)


def sent_desk(session: Session, viewer, villages: list[Village], *, village: str | None = None,
              kind: str | None = None, channel: str | None = None, status: str | None = None,
              limit: int = 200) -> dict:
    """The notices sent about the villages of ``viewer``'s township (``villages``, where they hold a
    township official's or discipline inspector's role): kind, to whom (the cadre's role there and
    name; the chat group), channel, state and time, newest first. A lead's notices (and a lead
    case's) are for the 纪检 roles only, and never for one the lead keeps out (R60). A notice never
    names an objector or a reporter; neither does this desk (no addresses either)."""
    from ..domain.roles import ROLES
    from ..store.models import ProcessDefinition

    scope = {v.id: v for v in villages if not village or v.code == village}
    inspector_of = {v.id for v in villages if "discipline_inspector" in viewer.roles_in(v)}
    stmt = (select(OutboxMessage, User, Case, ProcessDefinition.key)
            .outerjoin(User, User.id == OutboxMessage.user_id)
            .outerjoin(Notification, Notification.id == OutboxMessage.notification_id)
            .outerjoin(Case, Case.id == Notification.case_id)
            .outerjoin(ProcessDefinition, ProcessDefinition.id == Case.definition_id)
            .where(OutboxMessage.village_id.in_(list(scope) or [-1]))
            .order_by(OutboxMessage.created_at.desc(), OutboxMessage.id.desc()))
    if kind in KINDS:
        stmt = stmt.where(OutboxMessage.kind == kind)
    if channel in CHANNEL_NAMES:
        stmt = stmt.where(OutboxMessage.channel == channel)
    rows, digests = [], {}
    for m, user, case, process in session.execute(stmt.limit(limit * 5)):
        lead_like = m.kind == "lead" or process == LEAD_PROCESS
        if lead_like and (m.village_id not in inspector_of or viewer.username in (case.excluded_users or [] if case else [])):
            continue
        if m.digest_id is not None and m.digest_id not in digests:
            digests[m.digest_id] = session.get(OutboxMessage, m.digest_id)
        key, words = _desk_status(m, digests.get(m.digest_id))
        if status in DESK_STATUSES and key != status:
            continue
        v = scope[m.village_id]
        if user is None:
            to = "乡镇工作群"
        else:
            held = sorted({ROLES.get(r.role, r.role) for r in user.roles
                           if r.village_id == v.id or (r.township and r.township == v.township)
                           or (r.county and r.county == v.county)})
            to = f"{'、'.join(held) or '（已无此村角色）'} {user.name}"
        rows.append({"id": m.id, "kind": m.kind, "kind_name": KIND_NAMES.get(m.kind, m.kind), "village": v.code,
                     "village_name": v.name, "to": to, "channel": m.channel,
                     "channel_name": CHANNEL_NAMES.get(m.channel, m.channel), "status": key, "status_name": words,
                     "subject": m.subject, "at": m.sent_at or (digests[m.digest_id].sent_at if m.digest_id and
                                                               digests.get(m.digest_id) else None) or m.created_at,
                     "created_at": m.created_at})
        if len(rows) >= limit:
            break
    counts: dict[str, int] = {}
    for r in rows:
        counts[r["status"]] = counts.get(r["status"], 0) + 1
    return {"rows": rows, "counts": counts}
