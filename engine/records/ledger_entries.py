"""The ledger's entries (issue 13, DOMAIN §4 and R34, R62): receipts, payments, reversals and
``cunwu doctor``'s check that the books agree with the record.

* Every ``payment`` step of a power-list item writes its ``out`` entry in the transaction that
  completes the step (:func:`record_payment`): the money moves and is booked together or not at
  all (R34: no payment off the books).
* Receipts (rents, contract fees, subsidies and compensation received) are entered by the
  village's 报账员 or the township agency (村财乡管, DOMAIN §4.2) with :func:`add_receipt`.
* Entries are never edited or deleted (R62). A correction is a new entry that cancels the old
  one (红字冲销, 《会计基础工作规范》第五十一条: the same direction and account, the amount in red,
  i.e. negative); the corrected record follows as a new entry. A payment step redone after the
  supervisors returned it reverses the entry of the earlier round the same way.

The chart, the entities and the value rules are in ``ledger_chart``; every entry inserted adds
itself to its month's sum (``ledger_months``).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..domain.errors import Conflict, Invalid
from ..store.models import Case, LedgerEntry, TaskRow, Village
from .ledger_chart import (
    CENT,
    CHART,
    DEFAULT_PAYMENT_ACCOUNT,
    DIRECTIONS,
    ENTITIES,
    LABELS,
    PAYMENT_ACCOUNTS,
    account_head,
    accounts_for,
    amount_and_entity,
    local_today,
    money,
    parse_date,
    text_field,
)
from .ledger_months import count, filtered, months_problems

# ------------------------------------------------------------------------------ entries


def entry_json(entry: LedgerEntry, reversed_by: int | None = None) -> dict:
    head = account_head(entry.account)
    return {
        "id": entry.id, "date": entry.entry_date.isoformat(), "entity": entry.entity,
        "entity_name": ENTITIES.get(entry.entity, entry.entity), "direction": entry.direction,
        "amount": money(entry.amount), "account": entry.account,
        "account_class": CHART[head][1] if head in CHART else "", "summary": entry.summary,
        "counterparty": entry.counterparty, "case": entry.case_id, "voucher": entry.voucher,
        "reverses": entry.reverses_id, "reversed_by": reversed_by, "contract": entry.contract_id,
        "recorded_by": entry.created_by_name, "recorded_at": entry.created_at.astimezone(UTC).isoformat(),
    }


def validate_receipt(data: dict, village: Village, now: datetime) -> dict:
    """Every bad field at once (422), messages naming the fields in Chinese."""
    errors: dict[str, list[str]] = {}
    values: dict[str, Any] = {}
    amount_and_entity(data, "金额", values, errors)
    raw_day = data.get("received_on")
    today = local_today(now)
    if raw_day is None:
        values["received_on"] = today
    else:
        try:
            values["received_on"] = parse_date(raw_day, "received_on", "收款日期")
            if values["received_on"] > today:
                errors["received_on"] = [f"收款日期不能晚于今天（{today.isoformat()}）"]
        except Invalid as exc:
            errors.update(exc.fields)
    values["account"] = text_field(data, "account", "会计科目", errors, required=True, max_len=100)
    allowed = accounts_for(village)
    if values["account"] and allowed is not None and values["account"] not in allowed \
            and account_head(values["account"]) not in allowed:
        errors["account"] = ["会计科目不在本县的科目表中：" + "、".join(allowed[:12])]
    elif values["account"] and account_head(values["account"]) in CHART \
            and CHART[account_head(values["account"])][0] == "out":
        errors["account"] = [f"“{values['account']}”是支出科目，收款不能记入"]
    values["summary"] = text_field(data, "summary", "摘要", errors, required=True, max_len=500)
    values["counterparty"] = text_field(data, "counterparty", "付款单位（人）", errors, required=False, max_len=200)
    values["voucher"] = text_field(data, "voucher", "凭证号", errors, required=False, max_len=200)
    contract = data.get("contract")
    if contract is not None and (isinstance(contract, bool) or not isinstance(contract, int) or not 0 < contract < 2**31):
        errors["contract"] = ["合同须为合同登记的编号（整数）"]
    values["contract"] = contract
    if errors:
        names = "、".join(LABELS.get(k, k) for k in errors)
        first = next(iter(errors.values()))[0]
        raise Invalid(f"收款登记有误（{names}）：{first}", errors)
    return values


def add_receipt(session: Session, village: Village, values: dict, *, actor_id: int | None, actor_name: str,
                now: datetime) -> LedgerEntry:
    entry = LedgerEntry(village_id=village.id, entity=values["entity"], direction="in", amount=values["amount"],
                        entry_date=values["received_on"], account=values["account"], summary=values["summary"],
                        counterparty=values["counterparty"], voucher=values.get("voucher") or "",
                        contract_id=values.get("contract"), created_at=now, created_by=actor_id,
                        created_by_name=actor_name)
    session.add(entry)
    session.flush()
    return entry


def reverse(session: Session, entry: LedgerEntry, *, reason: str, on: date, actor_id: int | None,
            actor_name: str, now: datetime, task_id: str | None = None) -> LedgerEntry:
    """The red-ink entry that cancels ``entry`` (R62: appended, never an edit). Unique on
    ``reverses_id``: an entry is reversed at most once, even by two people at the same moment."""
    if entry.reverses_id is not None:
        raise Conflict("冲销分录不能再冲销；如有错误，请登记一笔新的分录")
    done = session.scalar(select(LedgerEntry.id).where(LedgerEntry.reverses_id == entry.id))
    if done is not None:
        raise Conflict(f"分录{entry.id}已于分录{done}冲销")
    red = LedgerEntry(village_id=entry.village_id, entity=entry.entity, direction=entry.direction,
                      amount=-entry.amount, entry_date=on, account=entry.account,
                      summary=f"冲销分录{entry.id}（{entry.summary}）：{reason}"[:2000],
                      counterparty=entry.counterparty, voucher=entry.voucher, case_id=entry.case_id,
                      reverses_id=entry.id, task_id=task_id, contract_id=entry.contract_id, created_at=now,
                      created_by=actor_id,
                      created_by_name=actor_name)
    session.add(red)
    session.flush()
    return red


def payment_account(village: Village, process_key: str) -> str:
    settings = village.settings or {}
    return settings.get(f"ledger.payment_account.{process_key}") or PAYMENT_ACCOUNTS.get(
        process_key, DEFAULT_PAYMENT_ACCOUNT)


def record_payment(session: Session, case: Case, row: TaskRow, values: dict, *, actor_id: int | None,
                   actor_name: str, now: datetime) -> LedgerEntry:
    """The ``out`` entry of a payment step, in the step's own transaction (R34). A step done
    again (the supervisors returned the record) first reverses the entry of the earlier round,
    so a case's payment is on the books exactly once. ``task_id`` is unique: the same step
    can never be booked twice, whatever the timing."""
    earlier = session.scalars(select(LedgerEntry).where(
        LedgerEntry.case_id == case.id, LedgerEntry.reverses_id.is_(None), LedgerEntry.task_id.is_not(None),
        LedgerEntry.task_id.in_(select(TaskRow.id).where(TaskRow.case_id == case.id, TaskRow.name == row.name))))
    for old in earlier:
        if session.scalar(select(LedgerEntry.id).where(LedgerEntry.reverses_id == old.id)) is None:
            reverse(session, old, reason=f"“{row.title}”重新办理，更正支付记录", on=values["paid_on"],
                    actor_id=actor_id, actor_name=actor_name, now=now)
    amount = Decimal(values["amount"]).quantize(CENT)
    entry = LedgerEntry(
        village_id=case.village_id, entity=values["entity"], direction="out", amount=amount,
        entry_date=values["paid_on"], account=payment_account(case.village, case.definition.key),
        summary=f"{case.title}（{row.title}）"[:500], counterparty=(values.get("payee") or "")[:200],
        voucher=(values.get("reference") or "")[:200], case_id=case.id, task_id=row.id, created_at=now,
        created_by=actor_id, created_by_name=actor_name)
    session.add(entry)
    session.flush()
    return entry


def entries(session: Session, village: Village, entity: str | None, start: date | None, end: date | None,
            limit: int, offset: int) -> tuple[list[dict], int]:
    base = filtered(select(LedgerEntry), village, entity, start, end)
    total = count(session, village, entity, start, end)
    rows = list(session.scalars(base.order_by(LedgerEntry.entry_date, LedgerEntry.id).limit(limit).offset(offset)))
    reversed_by = dict(session.execute(select(LedgerEntry.reverses_id, LedgerEntry.id).where(
        LedgerEntry.reverses_id.in_([r.id for r in rows]))).all()) if rows else {}
    return [entry_json(r, reversed_by.get(r.id)) for r in rows], total


def payments_booked(session: Session, task_ids: Iterable[str]) -> dict[str, LedgerEntry]:
    ids = list(task_ids)
    if not ids:
        return {}
    return {e.task_id: e for e in session.scalars(select(LedgerEntry).where(LedgerEntry.task_id.in_(ids)))}


# ------------------------------------------------------------------------------ cunwu doctor


def doctor(session: Session) -> list[str]:
    """The books agree with the record (``cunwu doctor``): every completed payment step has
    exactly one entry of the same amount and entity (the one its audit event names), every
    step-written entry belongs to a completed payment step, every receipt is as its audit event
    recorded it, every reversal cancels its entry exactly, and every monthly sum (``ledger_month``)
    equals the sum of its entries. A deleted or altered entry is named."""
    from ..store.models import AuditEvent

    problems: list[str] = []
    entries = {e.id: e for e in session.scalars(select(LedgerEntry))}
    by_task: dict[str, list[LedgerEntry]] = {}
    for e in entries.values():
        if e.task_id and e.reverses_id is None:
            by_task.setdefault(e.task_id, []).append(e)
    payments = list(session.scalars(select(TaskRow).where(TaskRow.form == "payment", TaskRow.state == "completed")))
    paid_ids = {r.id for r in payments}
    events = {ev.task_id: ev for ev in session.scalars(select(AuditEvent).where(
        AuditEvent.action == "complete", AuditEvent.task_id.in_(paid_ids)))} if paid_ids else {}
    for row in payments:
        label = f"事项{row.case_id}“{row.title}”"
        booked = by_task.get(row.id, [])
        if len(booked) != 1:
            problems.append(f"{label}：支付应有且只有一笔账目分录，现有{len(booked)}笔")
            continue
        entry, data = booked[0], row.data or {}
        try:
            amount = Decimal(str(data.get("amount"))).quantize(CENT)
        except ArithmeticError:
            amount = None
        if entry.amount != amount or entry.entity != data.get("entity") or entry.direction != "out" \
                or entry.case_id != row.case_id:
            problems.append(f"{label}：账目分录{entry.id}（{entry.entity} {money(entry.amount)}元）"
                            f"与支付记录（{data.get('entity')} {data.get('amount')}元）不一致")
        event = events.get(row.id)
        if event is not None and (event.data or {}).get("ledger_entry") not in (None, entry.id):
            problems.append(f"{label}：办理记录中的账目分录{(event.data or {}).get('ledger_entry')}不存在或已被替换")
    for task_id, booked in by_task.items():
        if task_id not in paid_ids:
            problems.append(f"账目分录{booked[0].id}记为步骤{task_id}的支付，但该步骤没有办结的支付记录")
    for event in session.scalars(select(AuditEvent).where(AuditEvent.action.in_(("ledger_receipt", "ledger_reversal")))):
        ident = (event.data or {}).get("entry")
        entry = entries.get(ident)
        if entry is None:
            problems.append(f"账目分录{ident}已被删除（{event.summary}）")
        elif event.action == "ledger_receipt" and (money(entry.amount) != (event.data or {}).get("amount")
                                                   or entry.entity != (event.data or {}).get("entity")):
            problems.append(f"账目分录{ident}已被改动：登记时为{(event.data or {}).get('entity')} "
                            f"{(event.data or {}).get('amount')}元，现在为{entry.entity} {money(entry.amount)}元")
    for e in entries.values():
        if e.reverses_id is not None:
            original = entries.get(e.reverses_id)
            if original is None or original.amount != -e.amount or original.entity != e.entity \
                    or original.village_id != e.village_id:
                problems.append(f"冲销分录{e.id}与被冲销的分录{e.reverses_id}不对应")
        if e.direction not in DIRECTIONS or e.entity not in ENTITIES:
            problems.append(f"账目分录{e.id}的方向或核算主体无效")
    problems.extend(months_problems(session))
    return problems
