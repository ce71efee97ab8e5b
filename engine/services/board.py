"""The public board: objections, entries, and the verification of each village's hash chain.

Mixed into :class:`engine.services.Engine`."""

from __future__ import annotations

from sqlalchemy import select, update

from ..domain.clock import local_text
from ..domain.errors import Conflict, Invalid, NotFound
from ..process import runtime
from ..records import notices, publicity
from ..store.models import BoardEntry, Case, Objection, TaskRow, Village
from .common import (
    by_id,
    first_message,
    iso,
)


class BoardMixin:
    # -- objections and the board ---------------------------------------------------------
    def file_objection(self, entry_id: int, name: str, contact: str, text: str) -> dict:
        errors: dict[str, list[str]] = {}
        name = "" if name is None else name  # optional: people will not object under their name on a village wall
        if not isinstance(name, str):
            errors["name"] = ["姓名格式不正确"]
        elif len(name) > 100:
            errors["name"] = ["姓名不能超过100字"]
        if contact is not None and not isinstance(contact, str):
            errors["contact"] = ["联系方式格式不正确"]
        elif contact and len(contact) > 200:
            errors["contact"] = ["联系方式不能超过200字"]
        if not isinstance(text, str) or not text.strip():
            errors["text"] = ["请填写异议内容"]
        elif len(text) > 5000:
            errors["text"] = ["异议内容不能超过5000字"]
        if errors:
            raise Invalid("异议填写有误：" + first_message(errors), errors)
        with self.transaction() as session:
            entry = by_id(session, BoardEntry, entry_id)
            if entry is None:
                raise NotFound(f"公开栏没有编号为{entry_id}的条目")
            now = self.now()
            if entry.notice_until is None or entry.kind == "objection_reply":
                raise Conflict("该条目不在公示期内，不接受异议；如有意见请向村务监督委员会或乡镇反映")
            if now >= entry.notice_until:
                raise Conflict(f"该条目已于{local_text(entry.notice_until)}公示期满，不再接受异议；"
                               "如有意见请向村务监督委员会或乡镇反映")
            # Lock the case first: objections filed at the same moment are taken one after another.
            lock = {"of": Case, "key_share": True} if session.bind.dialect.name == "postgresql" else None
            case = session.get(Case, entry.case_id, with_for_update=lock, populate_existing=True) \
                if entry.case_id else None
            if case is not None and (current := self.current_entry(session, case)) is not None \
                    and current.id != entry.id:
                raise Conflict("该公示已被新的公示取代，请对最新公示提出异议")
            objection = Objection(entry_id=entry.id, name=name.strip(), contact=(contact or "").strip(),
                                  text=text.strip(), filed_at=now)
            session.add(objection)
            session.flush()
            self.audit(session, action="objection", actor=None, actor_name="村民", case=case,
                        village_id=entry.village_id, summary=f"对“{entry.title}”提出异议",
                        data={"objection": objection.id, "entry": entry.id})
            if case is not None and case.status in ("running", "on_hold"):
                deployed = self.catalog.deployed(case.definition)
                wf = runtime.loads(case.state, deployed.spec, deployed.subprocess_specs)
                if runtime.waiting_for_signal(wf, "objection"):
                    runtime.send_signal(wf, "objection", self.now)
                    self.sync(session, case, wf, deployed)
                else:  # a reply task is already open; it will loop until none is left
                    session.execute(update(Case).where(Case.id == case.id).values(updated_at=now))
            # Told: whoever answers the objection (the 监委会; the 党支部 for a 发展对象公示) and the 纪委.
            answering = {r for r in session.scalars(select(TaskRow.role).where(
                TaskRow.case_id == case.id, TaskRow.state == "ready", TaskRow.form == "objection_reply"))
                if r} if case is not None else set()
            notices.objection_filed(session, case, case.village if case else session.get(Village, entry.village_id),
                                    entry.title, now, answering=answering or None)
            return {"id": objection.id, "entry": entry.id, "filed_at": iso(now), "status": "received"}

    def board(self, village_code: str, limit: int = 200) -> list[dict]:
        with self.sessions() as session:
            village = self.village(session, village_code)
            entries = list(session.scalars(select(BoardEntry).where(BoardEntry.village_id == village.id)
                                           .order_by(BoardEntry.seq.desc()).limit(limit)))
            objections = publicity.objections_of(session, [e.id for e in entries])
            return [self._entry_json(e, village, objections[e.id]) for e in entries]

    def board_entry(self, entry_id: int) -> dict:
        with self.sessions() as session:
            entry = by_id(session, BoardEntry, entry_id)
            if entry is None:
                raise NotFound(f"公开栏没有编号为{entry_id}的条目")
            village = session.get(Village, entry.village_id)
            return self._entry_json(entry, village, publicity.objections_of(session, [entry.id])[entry.id])

    def verify_board(self, village_code: str) -> dict:
        with self.sessions() as session:
            return publicity.verify(session, self.village(session, village_code))

    def verify_all_boards(self) -> list[tuple[str, dict]]:
        with self.sessions() as session:
            return [(v.code, publicity.verify(session, v)) for v in session.scalars(select(Village).order_by(Village.code))]

    def _entry_json(self, entry: BoardEntry, village: Village, objections: list[Objection]) -> dict:
        now = self.now()
        return {
            "id": entry.id, "seq": entry.seq, "village": village.code, "case": entry.case_id, "kind": entry.kind,
            "kind_name": publicity.KINDS.get(entry.kind, entry.kind), "title": entry.title,
            "content": entry.content, "posted_at": iso(entry.posted_at), "notice_until": iso(entry.notice_until),
            "in_notice": bool(entry.notice_until and now < entry.notice_until and entry.kind != "objection_reply"),
            "posted_by": entry.posted_by, "reviewed_by": entry.reviewed_by, "refers_to": entry.refers_to_id,
            "hash": entry.hash, "evidence": entry.evidence or [],
            "objections": [{"id": o.id, "text": o.text, "filed_at": iso(o.filed_at),
                            "decision": o.decision, "reply": o.reply, "replied_at": iso(o.replied_at)}
                           for o in objections],
        }
