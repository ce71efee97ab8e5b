"""The engine's ledger calls (三资, 村财乡管; CONTRACT "The ledger"): read a village's books,
enter a receipt, reverse an entry. Mixed into :class:`engine.service.Engine`; the rules and
the statement live in :mod:`engine.ledger`."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select

from . import ledger
from .errors import Conflict, Forbidden, Invalid, NotFound
from .models import LedgerEntry

#: Who enters receipts and corrections: the village's 报账员 and the township agency (DOMAIN §4.2).
BOOKKEEPERS = {"accountant", "agency_accountant"}


class LedgerMixin:
    def _ledger_village(self, session, username: str, code: str, *, write: bool = False):
        actor = self.actor(session, username)
        village = self._village(session, code)
        roles = actor.roles_in(village)
        if not roles:
            raise Forbidden("您无权查看其他村的账目")
        if write and not roles & BOOKKEEPERS:
            raise Forbidden("只有本村报账员或乡镇三资委托代理服务中心可以登记账目")
        return actor, village

    def ledger(self, username: str, code: str, *, entity: str | None = None, start: str | None = None,
               end: str | None = None, limit: int = 1000, offset: int = 0) -> dict:
        """``{entries, totals: {in, out}}`` of a village (CONTRACT), filtered by entity and dates
        (inclusive). Entries oldest first, ``limit`` at a time; the totals cover the whole filter."""
        errors: dict[str, list[str]] = {}
        if entity not in (None, "") and entity not in ledger.ENTITIES:
            errors["entity"] = ["核算主体只能是 committee（村民委员会）或 cooperative（村集体经济组织）"]
        dates: dict[str, date | None] = {"from": None, "to": None}
        for key, raw, label in (("from", start, "起始日期"), ("to", end, "截止日期")):
            if raw not in (None, ""):
                try:
                    dates[key] = ledger.parse_date(raw, key, label)
                except Invalid as exc:
                    errors.update(exc.fields)
        if dates["from"] and dates["to"] and dates["from"] > dates["to"]:
            errors["to"] = ["截止日期不能早于起始日期"]
        if errors:
            raise Invalid("查询条件有误：" + next(iter(errors.values()))[0], errors)
        with self.sessions() as session:
            _, village = self._ledger_village(session, username, code)
            rows, count = ledger.entries(session, village, entity or None, dates["from"], dates["to"], limit, offset)
            totals = ledger.totals(session, village, entity or None, dates["from"], dates["to"])
            return {"village": village.code, "village_name": village.name, "entity": entity or None,
                    "from": start or None, "to": end or None, "entries": rows, "count": count,
                    "limit": limit, "offset": offset,
                    "totals": {"in": ledger.money(totals["in"]), "out": ledger.money(totals["out"])}}

    def add_receipt(self, username: str, code: str, data: dict) -> dict:
        if not isinstance(data, dict):
            raise Invalid("请求正文必须是对象", {"data": ["请求正文必须是 JSON 对象"]})
        with self.transaction() as session:
            actor, village = self._ledger_village(session, username, code, write=True)
            now = self.now()
            values = ledger.validate_receipt(data, village, now)
            entry = ledger.add_receipt(session, village, values, actor_id=actor.id, actor_name=actor.name, now=now)
            self._audit(session, action="ledger_receipt", actor=actor, village_id=village.id,
                        summary=f"登记收入：{ledger.ENTITIES[entry.entity]} {entry.account} "
                                f"{ledger.money(entry.amount)}元（{entry.summary}）",
                        data={"entry": entry.id, "amount": ledger.money(entry.amount), "entity": entry.entity})
            return ledger.entry_json(entry)

    def reverse_entry(self, username: str, code: str, entry_id: int, reason: str) -> dict:
        """冲销 a receipt entered by mistake (R62: a new red entry, the old one stays as it was).
        A payment's entry is corrected through its case (the payment step done again)."""
        with self.transaction() as session:
            actor, village = self._ledger_village(session, username, code, write=True)
            if not isinstance(reason, str) or not reason.strip():
                raise Invalid("请填写冲销原因", {"reason": ["请填写冲销原因"]})
            if len(reason) > 500:
                raise Invalid("冲销原因不能超过500字", {"reason": ["冲销原因不能超过500字"]})
            entry = session.get(LedgerEntry, entry_id) if 0 < entry_id < 2**31 else None
            if entry is None or entry.village_id != village.id:
                raise NotFound(f"本村账目中没有编号为{entry_id}的分录")
            if entry.task_id is not None:
                raise Conflict(f"分录{entry.id}是事项{entry.case_id}的支付记录，须在该事项中更正支付环节")
            now = self.now()
            red = ledger.reverse(session, entry, reason=reason.strip(), on=ledger.local_today(now),
                                 actor_id=actor.id, actor_name=actor.name, now=now)
            self._audit(session, action="ledger_reversal", actor=actor, village_id=village.id,
                        summary=f"冲销分录{entry.id}：{reason.strip()}", data={"entry": red.id, "reverses": entry.id})
            return ledger.entry_json(red)

    def ledger_entry(self, username: str, code: str, entry_id: int) -> dict:
        with self.sessions() as session:
            _, village = self._ledger_village(session, username, code)
            entry = session.get(LedgerEntry, entry_id) if 0 < entry_id < 2**31 else None
            if entry is None or entry.village_id != village.id:
                raise NotFound(f"本村账目中没有编号为{entry_id}的分录")
            by = session.scalar(select(LedgerEntry.id).where(LedgerEntry.reverses_id == entry.id))
            return ledger.entry_json(entry, by)
