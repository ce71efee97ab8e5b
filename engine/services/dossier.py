"""The case file (档案): everything a case recorded, as plain data for the printable dossier.

``gather`` returns the case, every completed step with who, when and the record in words (labels
of the form, votes against who should attend, review decisions), the board entries of the case with
their notice periods, objections and replies, every bound attachment, the full audit history and
the village's board chain head at this moment. Whoever may view the case may have it; the file of a
便民服务 case (applicants' papers) only its handlers, and every such copy is audited.
"""

from __future__ import annotations

from sqlalchemy import select

from .. import forms
from ..catalogue import catalog
from ..domain import rules
from ..domain.clock import local_text
from ..domain.errors import Forbidden
from ..records import publicity
from ..store.models import BoardEntry, TaskRow, User

#: Values the engine adds to a step's record, in words.
EXTRA_LABELS = {
    "should_attend": "应到人数",
    "outcome_reason": "判定结果",
    "rules_version": "适用规则",
    "posted_at": "张榜时间",
    "notice_until": "公示截止",
    "corrects": "更正的记录",
    "open_objections": "尚未答复的异议",
}
ROUTINE = {"outcome"}  # shown through outcome_reason
#: A meeting's tally, shown as a table of its own.
VOTE_KEYS = {"should_attend", "attended", "approve", "oppose", "abstain", "outcome", "outcome_reason"}


def _value_text(field: dict | None, value) -> str:
    if value is None or value == "":
        return ""
    if isinstance(value, bool):
        return "是" if value else "否"
    if field is not None:
        for choice in field.get("choices") or []:
            if choice["value"] == value:
                return choice["label"]
        if field.get("type") == "money":
            return f"{value} 元"
        if field.get("unit") and isinstance(value, int):
            return f"{value} {field['unit']}"
    if isinstance(value, str) and len(value) >= 19 and value[4] == "-" and "T" in value:
        try:
            from datetime import datetime

            return local_text(datetime.fromisoformat(value))
        except ValueError:
            return value
    if isinstance(value, list | dict):
        return "；".join(str(v) for v in (value if isinstance(value, list) else value.values()))
    return str(value)


def record_lines(form: str, data: dict | None) -> list[tuple[str, str]]:
    """``[(label, text)]`` of a stored record, in the form's order, then the engine's additions."""
    data = dict(data or {})
    described = forms.describe(form) if form in forms.FORMS else []
    out: list[tuple[str, str]] = []
    for field in described:
        if field["name"] in data:
            text = _value_text(field, data.pop(field["name"]))
            if text:
                out.append((field["label"], text))
    for key, label in EXTRA_LABELS.items():
        if key in data:
            text = _value_text(None, data.pop(key))
            if text:
                out.append((label, text))
    for key in sorted(data):
        if key not in ROUTINE and not key.startswith("_"):
            text = _value_text(None, data[key])
            if text:
                out.append((key, text))
    return out


def gather(engine, username: str, case_id: int) -> dict:
    with engine.sessions() as session:
        actor = engine.actor(session, username)
        case = engine.case_for(session, actor, case_id)
        private = engine.private_evidence(case)
        if private and not engine.handles_evidence(session, actor, case):
            raise Forbidden("问题线索的档案只有办理线索的纪委工作人员可以调取" if case.definition.key == "complaint-lead"
                            else "便民服务事项的档案含申请人材料，只有经办人员可以调取")
        summary = engine.case_json(session, case)
        rows = list(session.scalars(select(TaskRow).where(TaskRow.case_id == case.id, TaskRow.state == "completed",
                                                          TaskRow.role != "")
                                    .order_by(TaskRow.completed_at, TaskRow.created_at)))
        people = {u.id: u.name for u in session.scalars(select(User).where(
            User.id.in_({r.completed_by for r in rows if r.completed_by})))}
        files = engine.case_attachments(session, case.id)
        from ..store.models import Attachment

        notice_photos = {(a.entry_id, a.sha256): a for a in session.scalars(
            select(Attachment).where(Attachment.case_id == case.id, Attachment.entry_id.is_not(None))
            .order_by(Attachment.id))}
        entries = list(session.scalars(select(BoardEntry).where(BoardEntry.case_id == case.id)
                                       .order_by(BoardEntry.seq)))
        objections = publicity.objections_of(session, [e.id for e in entries])
        chain = publicity.verify(session, case.village)
        archive = archive_numbers(session, case.village).get(case.id)
        if archive is not None:
            archive = {**archive, **retention_of(case.definition.meta)}
        village = {"code": case.village.code, "name": case.village.name, "township": case.village.township,
                   "county": case.village.county or ""}
        done = {h["task"]: h["summary"] for h in summary["history"] if h["action"] == "complete"}
        steps = []
        for number, row in enumerate(rows, start=1):
            data = row.data or {}
            step = {
                "number": number, "task": row.id, "name": row.name, "title": row.title, "form": row.form,
                "by": people.get(row.completed_by, ""), "at": row.completed_at,
                "summary": done.get(row.id, "").removeprefix(f"{row.title}："),
                "body_name": rules.BODIES.get(row.body, "") if row.body else "",
                "lines": record_lines(row.form, {k: v for k, v in data.items() if not (
                    row.body and "attended" in data and k in VOTE_KEYS)}),
                "attachments": [_file(a) for a in files.get(row.id, [])],
            }
            if row.body and "attended" in data:
                step["votes"] = {k: data.get(k) for k in ("should_attend", "attended", "approve", "oppose", "abstain",
                                                         "outcome", "outcome_reason")}
            if row.form == "review":
                step["decision"] = data.get("decision")
            steps.append(step)
        board = [{
            "id": e.id, "seq": e.seq, "kind": publicity.KINDS.get(e.kind, e.kind), "kind_key": e.kind, "refers_to": e.refers_to_id,
            "title": e.title,
            # 张贴照片 (R44): the originals of a photo entry, printed under it and put in the zip
            "photos": [_file(notice_photos[(e.refers_to_id, item.get("original"))]) for item in (e.evidence or [])
                       if e.kind == "photo" and (e.refers_to_id, item.get("original")) in notice_photos],
            "content": e.content, "posted_at": e.posted_at, "notice_until": e.notice_until,
            "posted_by": e.posted_by, "reviewed_by": e.reviewed_by, "hash": e.hash, "evidence": e.evidence or [],
            "objections": [{"text": o.text, "filed_at": o.filed_at, "decision": o.decision, "reply": o.reply,
                            "replied_by": o.replied_by, "replied_at": o.replied_at} for o in objections[e.id]],
        } for e in entries]
    if private:
        with engine.transaction() as session:
            engine.audit(session, action="read_personal", actor=actor, case=case,
                          summary="调取事项档案（含申请材料）", data={"dossier": case_id})
    return {"case": summary, "village": village, "category": case.definition.category, "steps": steps,
            "board": board, "chain": chain, "history": summary["history"], "private": private,
            "printed_at": engine.now(), "printed_by": actor.name, "archive": archive}


def _file(att) -> dict:
    return {"id": att.id, "sha256": att.sha256, "name": att.name, "size": att.size,
            "content_type": att.content_type, "bound_at": att.bound_at}


# -- the archive (组织法第三十四条: 村务档案) ------------------------------------------------------------
CLOSED = ("completed", "rejected", "withdrawn")
#: Retention periods (保管期限) of village records; each item states its own (catalogue ``retention``).
RETENTION = catalog.RETENTION


def _archive_rows(session, village_id: int) -> list[tuple[int, object]]:
    """``[(case id, closed at)]`` of the village's closed cases, in the order they closed."""
    from ..store.models import AuditEvent, Case

    stmt = (select(AuditEvent.case_id, AuditEvent.at).join(Case, Case.id == AuditEvent.case_id)
            .where(AuditEvent.action == "end", Case.village_id == village_id, Case.status.in_(CLOSED))
            .order_by(AuditEvent.at, AuditEvent.case_id))
    seen: set[int] = set()
    rows = []
    for case_id, at in session.execute(stmt):
        if case_id not in seen:
            seen.add(case_id)
            rows.append((case_id, at))
    return rows


def archive_numbers(session, village) -> dict[int, dict]:
    """``{case id: {archive_no, year, seq, closed_at}}``: a closed case's number is its place among
    the cases of its village closed in the same (Beijing) year, so it never changes once given:
    ``<village>-<year>-<0001>``."""
    from ..domain.clock import LOCAL_TZ

    numbers: dict[int, dict] = {}
    counters: dict[int, int] = {}
    for case_id, at in _archive_rows(session, village.id):
        year = at.astimezone(LOCAL_TZ).year
        counters[year] = counters.get(year, 0) + 1
        numbers[case_id] = {"archive_no": f"{village.code}-{year}-{counters[year]:04d}", "year": year,
                            "seq": counters[year], "closed_at": at}
    return numbers


def retention_of(meta: dict | None) -> dict:
    key = (meta or {}).get("retention") or "permanent"
    return {"retention": key, "retention_name": RETENTION.get(key, key)}


def archive_list(engine, username: str, village_code: str, year: int | None = None) -> list[dict]:
    """The archive of a village (for a year): closed cases with their numbers and retention."""
    from ..domain.clock import local_text
    from ..store.models import Case

    with engine.sessions() as session:
        actor = engine.actor(session, username)
        village = engine.village(session, village_code)
        if not actor.can_view(village):
            raise Forbidden("您无权查看其他村的档案")
        numbers = archive_numbers(session, village)
        wanted = {i: n for i, n in numbers.items() if year is None or n["year"] == year}
        cases = {c.id: c for c in session.scalars(select(Case).where(Case.id.in_(list(wanted))))}
        out = []
        for case_id, number in sorted(wanted.items(), key=lambda kv: (kv[1]["year"], kv[1]["seq"])):
            case = cases[case_id]
            out.append({**{k: v for k, v in number.items() if k != "closed_at"},
                        "closed_at": number["closed_at"].isoformat(), "closed_at_text": local_text(number["closed_at"]),
                        "case": case.id, "title": case.title, "process": case.definition.key,
                        "process_name": case.definition.name, "status": case.status,
                        **retention_of(case.definition.meta)})
        return out
