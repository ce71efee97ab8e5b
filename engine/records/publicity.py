"""The publicity log (两公开): append-only, hash-chained board entries per village.

Each entry stores the hash of the previous entry of its village; the village row anchors the
chain with the entry count and the newest hash. Any edit, deletion, insertion or reordering
of entries breaks ``verify``. Corrections are new entries that refer to the old one.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..store.models import BoardEntry, Objection, Village

GENESIS = "0" * 64

KINDS = {
    "resolution": "决议公开",
    "result": "实施结果公开",
    "milestone": "进展公开",
    "objection_reply": "异议答复",
    "notice": "公示",
    "correction": "更正",
    "finance": "财务公开",
    "photo": "张贴照片",  # the photo of a posted notice (R44), refers to the notice
}


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def entry_hash(entry: BoardEntry, village_code: str) -> str:
    payload = {
        "village": village_code,
        "seq": entry.seq,
        "case": entry.case_id,
        "kind": entry.kind,
        "title": entry.title,
        "content": entry.content,
        "posted_at": _iso(entry.posted_at),
        "notice_until": _iso(entry.notice_until),
        "posted_by": entry.posted_by,
        "reviewed_by": entry.reviewed_by,
        "refers_to": entry.refers_to_id,
        "prev": entry.prev_hash,
    }
    if entry.evidence:  # the public photos' hashes (issue 14); absent from older entries
        payload["evidence"] = entry.evidence
    raw = json.dumps(payload, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()


def post(
    session: Session,
    village: Village,
    *,
    kind: str,
    title: str,
    content: str,
    posted_at: datetime,
    posted_by: str,
    reviewed_by: str = "",
    notice_until: datetime | None = None,
    case_id: int | None = None,
    refers_to_id: int | None = None,
    evidence: list | None = None,
) -> BoardEntry:
    """Append an entry to the village's chain (inside the caller's transaction)."""
    # Lock the village row and re-read the chain head from the database: the object in the
    # session may have been loaded before another transaction appended an entry.
    # FOR NO KEY UPDATE (key_share): posts serialise, but rows that merely reference the village
    # (task rows, audit events inserted earlier in this transaction) do not deadlock with it.
    locked = session.scalar(select(Village).where(Village.id == village.id).with_for_update(key_share=True)
                            .execution_options(populate_existing=True))
    entry = BoardEntry(
        village_id=locked.id, seq=locked.board_count + 1, case_id=case_id, kind=kind, title=title,
        content=content, posted_at=posted_at, notice_until=notice_until, posted_by=posted_by,
        reviewed_by=reviewed_by, refers_to_id=refers_to_id, prev_hash=locked.board_head or GENESIS,
        evidence=evidence or None,
    )
    # Hash what the database will give back (UTC, microseconds kept).
    entry.hash = entry_hash(entry, locked.code)
    session.add(entry)
    locked.board_count = entry.seq
    locked.board_head = entry.hash
    session.flush()
    return entry


def verify(session: Session, village: Village) -> dict:
    """Check the whole chain; ``broken`` names the first entry that does not hold."""
    entries = list(session.scalars(
        select(BoardEntry).where(BoardEntry.village_id == village.id).order_by(BoardEntry.seq, BoardEntry.id)))
    prev = GENESIS
    for expected_seq, entry in enumerate(entries, start=1):
        problem = None
        if entry.seq != expected_seq:
            problem = f"序号应为{expected_seq}，实为{entry.seq}（有条目被删除、插入或调换）"
        elif entry.prev_hash != prev:
            problem = "前一条目的哈希不符（有条目被删除、插入或调换）"
        elif entry_hash(entry, village.code) != entry.hash:
            problem = "内容与哈希不符（条目被改动）"
        if problem:
            return {"ok": False, "entries": len(entries), "head": village.board_head or GENESIS,
                    "broken": {"id": entry.id, "seq": entry.seq, "reason": problem}}
        prev = entry.hash
    if len(entries) != village.board_count or prev != (village.board_head or GENESIS):
        last = entries[-1] if entries else None
        return {"ok": False, "entries": len(entries), "head": village.board_head or GENESIS,
                "broken": {"id": last.id if last else None, "seq": village.board_count,
                           "reason": f"公开栏应有{village.board_count}条，实有{len(entries)}条，或最新条目被改动/删除"}}
    return {"ok": True, "entries": len(entries), "head": prev}


def objections_of(session: Session, entry_ids: list[int]) -> dict[int, list[Objection]]:
    found: dict[int, list[Objection]] = {i: [] for i in entry_ids}
    if not entry_ids:
        return found
    for obj in session.scalars(select(Objection).where(Objection.entry_id.in_(entry_ids)).order_by(Objection.id)):
        found[obj.entry_id].append(obj)
    return found
