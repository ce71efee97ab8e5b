"""The contracts register (R40): leases, contracting, outsourcing and transfers of the village's
assets and resources, and what each is owed (应收, 应收未收) as of a day. The receipts booked against
a contract are its ledger entries (``ledger_entries``); the daily scan for overdue amounts is in
``receivables``.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ..domain.clock import add_months
from ..domain.errors import Invalid
from ..store.models import LedgerEntry
from .ledger_chart import CENT, ENTITIES, LABELS, amount_and_entity, money, parse_date, text_field

CONTRACT_KINDS = {"lease": "租赁", "contracting": "承包", "outsourcing": "发包", "transfer": "转让"}


def due_dates(contract, until: date) -> list[date]:
    """The dates each period's amount falls due (the start of each period), up to ``until``."""
    out: list[date] = []
    k = 0
    while len(out) < 1200:
        day = add_months(contract.starts_on, k * contract.every_months)
        if day > until or day > contract.ends_on:
            break
        out.append(day)
        k += 1
    return out


def receivable(contract, received: Decimal, today: date) -> dict:
    """应收 and 应收未收 of a contract as of ``today``."""
    due = due_dates(contract, today)
    owed = (contract.amount * len(due)).quantize(CENT)
    outstanding = max(owed - received, Decimal(0)).quantize(CENT)
    upcoming = due_dates(contract, contract.ends_on)
    nxt = next((d for d in upcoming if d > today), None)
    return {"due": money(owed), "received": money(received), "outstanding": money(outstanding),
            "overdue": outstanding > 0, "periods_due": len(due), "next_due": nxt.isoformat() if nxt else None}


def validate_contract(data: dict) -> dict:
    errors: dict[str, list[str]] = {}
    values: dict[str, Any] = {}
    amount_and_entity(data, "每期金额", values, errors)
    kind = data.get("kind")
    if not isinstance(kind, str) or kind not in CONTRACT_KINDS:
        errors["kind"] = ["合同类型只能是 lease（租赁）、contracting（承包）、outsourcing（发包）或 transfer（转让）"]
    values["kind"] = kind
    for key, label in (("starts_on", "起始日期"), ("ends_on", "截止日期")):
        try:
            values[key] = parse_date(data.get(key), key, label)
        except Invalid as exc:
            errors.update(exc.fields)
    if "starts_on" in values and "ends_on" in values and values["ends_on"] < values["starts_on"]:
        errors["ends_on"] = ["截止日期不能早于起始日期"]
    every = data.get("every_months", 12)
    if isinstance(every, bool) or not isinstance(every, int) or not 1 <= every <= 120:
        errors["every_months"] = ["收款周期须为1到120之间的整数（月）"]
    values["every_months"] = every
    values["subject"] = text_field(data, "subject", "标的（资产资源）", errors, required=True, max_len=300)
    values["counterparty"] = text_field(data, "counterparty", "承包（承租）方", errors, required=True, max_len=200)
    values["account"] = text_field(data, "account", "会计科目", errors, required=False, max_len=100) or "经营收入"
    case = data.get("case")
    if case is not None and (isinstance(case, bool) or not isinstance(case, int) or not 0 < case < 2**31):
        errors["case"] = ["关联事项须为事项编号（整数）"]
    values["case"] = case
    asset = data.get("asset")
    if asset is not None and (isinstance(asset, bool) or not isinstance(asset, int) or not 0 < asset < 2**31):
        errors["asset"] = ["资产资源须为资产资源台账的编号（整数）"]
    values["asset"] = asset
    if errors:
        labels = {**LABELS, "asset": "资产资源", "kind": "合同类型", "starts_on": "起始日期", "ends_on": "截止日期",
                  "every_months": "收款周期", "subject": "标的", "counterparty": "承包（承租）方", "case": "关联事项",
                  "amount": "每期金额"}
        names = "、".join(labels.get(k, k) for k in errors)
        raise Invalid(f"合同登记有误（{names}）：{next(iter(errors.values()))[0]}", errors)
    return values


def contract_json(c, received: Decimal, today: date) -> dict:
    return {"id": c.id, "entity": c.entity, "entity_name": ENTITIES.get(c.entity, c.entity), "kind": c.kind,
            "kind_name": CONTRACT_KINDS.get(c.kind, c.kind), "subject": c.subject, "counterparty": c.counterparty,
            "starts_on": c.starts_on.isoformat(), "ends_on": c.ends_on.isoformat(), "amount": money(c.amount),
            "every_months": c.every_months, "account": c.account, "case": c.case_id, "asset": c.asset_id,
            "receivable": receivable(c, received, today)}


def received_by_contract(session: Session, ids: list[int]) -> dict[int, Decimal]:
    if not ids:
        return {}
    rows = session.execute(select(LedgerEntry.contract_id, func.sum(LedgerEntry.amount)).where(
        LedgerEntry.contract_id.in_(ids), LedgerEntry.direction == "in").group_by(LedgerEntry.contract_id))
    return {cid: (total or Decimal(0)) for cid, total in rows}
