"""The case file (档案): everything a case recorded, as plain data for the printable dossier.

``gather`` returns the case, every completed step with who, when and the record in words (labels
of the form, votes against who should attend, review decisions), the board entries of the case with
their notice periods, objections and replies, every bound attachment, the full audit history and
the village's board chain head at this moment. Whoever may view the case may have it; the file of a
便民服务 case (applicants' papers) only its handlers, and every such copy is audited.
"""

from __future__ import annotations

from sqlalchemy import select

from . import forms, publicity, rules
from .clock import local_text
from .errors import Forbidden
from .models import BoardEntry, TaskRow, User

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
        case = engine._case_for(session, actor, case_id)
        private = engine._private_evidence(case)
        if private and not engine._handles(session, actor, case):
            raise Forbidden("便民服务事项的档案含申请人材料，只有经办人员可以调取")
        summary = engine._case_json(session, case)
        rows = list(session.scalars(select(TaskRow).where(TaskRow.case_id == case.id, TaskRow.state == "completed",
                                                          TaskRow.role != "")
                                    .order_by(TaskRow.completed_at, TaskRow.created_at)))
        people = {u.id: u.name for u in session.scalars(select(User).where(
            User.id.in_({r.completed_by for r in rows if r.completed_by})))}
        files = engine.case_attachments(session, case.id)
        entries = list(session.scalars(select(BoardEntry).where(BoardEntry.case_id == case.id)
                                       .order_by(BoardEntry.seq)))
        objections = publicity.objections_of(session, [e.id for e in entries])
        chain = publicity.verify(session, case.village)
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
            "id": e.id, "seq": e.seq, "kind": publicity.KINDS.get(e.kind, e.kind), "title": e.title,
            "content": e.content, "posted_at": e.posted_at, "notice_until": e.notice_until,
            "posted_by": e.posted_by, "reviewed_by": e.reviewed_by, "hash": e.hash, "evidence": e.evidence or [],
            "objections": [{"text": o.text, "filed_at": o.filed_at, "decision": o.decision, "reply": o.reply,
                            "replied_by": o.replied_by, "replied_at": o.replied_at} for o in objections[e.id]],
        } for e in entries]
    if private:
        with engine.transaction() as session:
            engine._audit(session, action="read_personal", actor=actor, case=case,
                          summary="调取事项档案（含申请材料）", data={"dossier": case_id})
    return {"case": summary, "village": village, "category": case.definition.category, "steps": steps,
            "board": board, "chain": chain, "history": summary["history"], "private": private,
            "printed_at": engine.now(), "printed_by": actor.name}


def _file(att) -> dict:
    return {"id": att.id, "sha256": att.sha256, "name": att.name, "size": att.size,
            "content_type": att.content_type, "bound_at": att.bound_at}
