"""The village ledger (三资, 村财乡管; issue 13, DOMAIN §4 and R34–R41, R62).

Every village keeps two accounting entities (R41): ``committee`` (村民委员会) and ``cooperative``
(村集体经济组织, e.g. 股份经济合作社). An entry is income (``in``) or spending (``out``) of one
entity, with its date, account, summary, counterparty and, where a case moved the money, the case.

* Money is :class:`decimal.Decimal` with two places end to end: ``NUMERIC(14, 2)`` in PostgreSQL
  (fen on SQLite, see ``engine.store.models.Money``), strings like ``"1234.56"`` in JSON. A float is
  never accepted and never produced.
* Every ``payment`` step of a power-list item writes its ``out`` entry in the transaction that
  completes the step (:func:`record_payment`): the money moves and is booked together or not at
  all (R34: no payment off the books).
* Receipts (rents, contract fees, subsidies and compensation received) are entered by the
  village's 报账员 or the township agency (村财乡管, DOMAIN §4.2) with :func:`add_receipt`.
* Entries are never edited or deleted (R62). A correction is a new entry that cancels the old
  one (红字冲销, 《会计基础工作规范》第五十一条: the same direction and account, the amount in red,
  i.e. negative); the corrected record follows as a new entry. A payment step redone after the
  supervisors returned it reverses the entry of the earlier round the same way.

Accounts follow the chart of 《农村集体经济组织会计制度》(财政部 财会〔2023〕14号, in force from
2024-01-01; it replaced the 2004 《村集体经济组织会计制度》, 财会〔2004〕12号). :data:`CHART`
lists its income, expense and the balance-sheet accounts a village's cash moves against. A
county may file its own list as the village setting ``ledger.accounts``; then only those
accounts are accepted. Without it an account outside the chart is accepted as written (a
county's sub-account such as ``经营收入/租赁收入`` maps to its head account).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import event, func, select
from sqlalchemy.orm import Session

from ..domain.clock import LOCAL_TZ
from ..domain.errors import Conflict, Invalid
from ..domain.money import fmt_amount
from ..store.models import Case, LedgerEntry, LedgerMonth, TaskRow, Village

CENT = Decimal("0.01")
MAX_AMOUNT = Decimal("999999999999.99")  # NUMERIC(14, 2)

FINANCE_PROCESS = "finance-disclosure"

#: R41: the two accounting entities of a village.
ENTITIES: dict[str, str] = {"committee": "村民委员会", "cooperative": "村集体经济组织"}
DIRECTIONS: dict[str, str] = {"in": "收入", "out": "支出"}

#: Accounts of 《农村集体经济组织会计制度》(财会〔2023〕14号) that cash moves against:
#: name → (kind, Chinese class). ``in``: receipts are booked to it; ``out``: payments; ``both``.
CHART: dict[str, tuple[str, str]] = {
    "经营收入": ("in", "损益类"),
    "投资收益": ("in", "损益类"),
    "补助收入": ("in", "损益类"),
    "其他收入": ("in", "损益类"),
    "经营支出": ("out", "损益类"),
    "税金及附加": ("out", "损益类"),
    "管理费用": ("out", "损益类"),
    "公益支出": ("out", "损益类"),
    "其他支出": ("out", "损益类"),
    "在建工程": ("out", "资产类"),
    "固定资产": ("out", "资产类"),
    "存货": ("out", "资产类"),
    "应收款": ("both", "资产类"),
    "应付款": ("both", "负债类"),
    "应付工资": ("out", "负债类"),
    "应付劳务费": ("out", "负债类"),
    "短期借款": ("both", "负债类"),
    "一事一议资金": ("both", "负债类"),
    "专项应付款": ("both", "负债类"),
    "公积公益金": ("in", "所有者权益类"),
}

#: The account a power-list item's payment step is booked to (overridable by the village
#: setting ``ledger.payment_account.<item key>``).
PAYMENT_ACCOUNTS: dict[str, str] = {
    "construction-project": "在建工程",  # a village works project (A2) until it is accepted
    "procurement": "管理费用",  # goods and services bought (A3)
    "spending-approval": "管理费用",  # a reimbursed expense (A5)
    "cadre-allowance": "应付工资",  # 村干部误工补贴 (A7)
    "requisition-distribution": "专项应付款",  # land compensation paid out to members (A10)
}
DEFAULT_PAYMENT_ACCOUNT = "管理费用"

#: Items at and above this amount are listed one by one in the disclosed statement (setting
#: ``ledger.large_item_from``); 《农村集体经济组织财务公开规定》 asks for the large items.
LARGE_ITEM_FROM = Decimal(5000)

_AMOUNT = re.compile(r"\d{1,12}(\.\d{1,2})?")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


# ------------------------------------------------------------------------------ values


def parse_amount(value: Any, field_name: str = "amount", label: str = "金额") -> Decimal:
    """The ledger's strict money rule (CONTRACT "The ledger"): a decimal string such as
    ``"1234.56"`` (or a JSON integer), more than zero, at most two decimal places. A float,
    a negative, zero, ``"1.005"``, ``"1,000"``, ``"25万"`` or ``"abc"`` is refused (422), never
    rounded or read as a different number."""
    if isinstance(value, bool) or value is None:
        raise _bad(field_name, f"请填写{label}，如 \"1234.56\"" if value is None else f"{label}必须是金额，如 \"1234.56\"")
    if isinstance(value, float):
        raise _bad(field_name, f"{label}须写成带两位小数的字符串（如 \"1234.56\"），不接受浮点数")
    if isinstance(value, int):
        number = Decimal(value)
    elif isinstance(value, str):
        if value.startswith("-") and _AMOUNT.fullmatch(value[1:]):
            raise _bad(field_name, f"{label}须大于0")
        if not _AMOUNT.fullmatch(value):
            if re.fullmatch(r"\d+\.\d{3,}", value):
                raise _bad(field_name, f"{label}最多两位小数（到分）")
            raise _bad(field_name, f"{label}必须是金额数字，如 \"1234.56\"（不带逗号和单位）")
        number = Decimal(value)
    else:
        raise _bad(field_name, f"{label}必须是金额，如 \"1234.56\"")
    if number <= 0:
        raise _bad(field_name, f"{label}须大于0")
    if number > MAX_AMOUNT:
        raise _bad(field_name, f"{label}过大")
    return number.quantize(CENT)


def money(value: Decimal | None) -> str:
    """A Decimal as the contract writes money: two places, no grouping (``"1234.50"``)."""
    return f"{(value or Decimal(0)).quantize(CENT):.2f}"


def parse_date(value: Any, field_name: str, label: str) -> date:
    if not isinstance(value, str) or not _DATE.fullmatch(value):
        raise _bad(field_name, f"{label}须为日期，如 2026-03-01")
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise _bad(field_name, f"{label}不是有效日期") from None


def _bad(field_name: str, message: str) -> Invalid:
    return Invalid(message, {field_name: [message]})


def local_today(now: datetime) -> date:
    return now.astimezone(LOCAL_TZ).date()


def account_head(account: str) -> str:
    """The chart account a written account belongs to: ``经营收入/租赁收入`` → ``经营收入``."""
    return re.split(r"[/／\-—·：:]", account, maxsplit=1)[0].strip()


def accounts_for(village: Village) -> list[str] | None:
    """The county's own list of accounts for this village, if one is filed (``ledger.accounts``)."""
    value = (village.settings or {}).get("ledger.accounts")
    return list(value) if isinstance(value, list) and value else None


def check_setting(key: str, value: Any) -> list[str] | None:
    """Problems with a ``ledger.*`` village setting (``None``: not a ledger setting)."""
    if key == "ledger.accounts":
        if not isinstance(value, list) or not value or not all(
                isinstance(x, str) and 0 < len(x.strip()) <= 100 for x in value):
            return ["会计科目表须为科目名称的列表（每个科目100字以内）"]
        return []
    if key == "ledger.monthly":
        return [] if isinstance(value, bool) else ["按月公开财务须填 true 或 false"]
    if key == "ledger.large_item_from":
        if isinstance(value, bool) or not isinstance(value, int | str):
            return ["须逐笔公开的大额收支金额须为整数金额"]
        try:
            parse_amount(value)
        except Invalid:
            return ["须逐笔公开的大额收支金额须为大于0的金额"]
        return []
    if key.startswith("ledger.payment_account."):
        return [] if isinstance(value, str) and 0 < len(value.strip()) <= 100 else ["支付入账科目须为科目名称"]
    return None


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


def _text(data: dict, key: str, label: str, errors: dict, *, required: bool, max_len: int) -> str:
    value = data.get(key)
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            errors[key] = [f"请填写{label}"]
        return ""
    if not isinstance(value, str):
        errors[key] = [f"{label}须为文字"]
        return ""
    if len(value.strip()) > max_len:
        errors[key] = [f"{label}不能超过{max_len}字"]
    return value.strip()


LABELS = {"received_on": "收款日期", "entity": "核算主体", "amount": "金额", "account": "会计科目",
          "summary": "摘要", "counterparty": "付款单位（人）", "voucher": "凭证号", "contract": "合同"}


def _amount_and_entity(data: dict, label: str, values: dict, errors: dict) -> None:
    """The two fields every money record has: a strict amount and one of the two entities (R41)."""
    try:
        values["amount"] = parse_amount(data.get("amount"), "amount", label)
    except Invalid as exc:
        errors.update(exc.fields)
    entity = data.get("entity")
    if not isinstance(entity, str) or entity not in ENTITIES:
        errors["entity"] = ["核算主体只能是 committee（村民委员会）或 cooperative（村集体经济组织）"]
    values["entity"] = entity


def validate_receipt(data: dict, village: Village, now: datetime) -> dict:
    """Every bad field at once (422), messages naming the fields in Chinese."""
    errors: dict[str, list[str]] = {}
    values: dict[str, Any] = {}
    _amount_and_entity(data, "金额", values, errors)
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
    values["account"] = _text(data, "account", "会计科目", errors, required=True, max_len=100)
    allowed = accounts_for(village)
    if values["account"] and allowed is not None and values["account"] not in allowed \
            and account_head(values["account"]) not in allowed:
        errors["account"] = ["会计科目不在本县的科目表中：" + "、".join(allowed[:12])]
    elif values["account"] and account_head(values["account"]) in CHART \
            and CHART[account_head(values["account"])][0] == "out":
        errors["account"] = [f"“{values['account']}”是支出科目，收款不能记入"]
    values["summary"] = _text(data, "summary", "摘要", errors, required=True, max_len=500)
    values["counterparty"] = _text(data, "counterparty", "付款单位（人）", errors, required=False, max_len=200)
    values["voucher"] = _text(data, "voucher", "凭证号", errors, required=False, max_len=200)
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


# ------------------------------------------------------------------------------ the monthly sums

_MONTH_KEY = ("village_id", "entity", "month", "direction", "account")


def _upsert(connection):
    if connection.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    return insert


@event.listens_for(LedgerEntry, "after_insert")
def _count_in_month(mapper, connection, target: LedgerEntry) -> None:
    """Every entry inserted through the ORM adds itself to its month's row of ``ledger_month``, in
    the same transaction (an upsert: two writers of the same month add up, never overwrite)."""
    table = LedgerMonth.__table__
    stmt = _upsert(connection)(table).values(
        village_id=target.village_id, entity=target.entity, month=target.entry_date.replace(day=1),
        direction=target.direction, account=target.account, amount=target.amount, entries=1)
    connection.execute(stmt.on_conflict_do_update(
        index_elements=list(_MONTH_KEY),
        set_={"amount": table.c.amount + stmt.excluded.amount, "entries": table.c.entries + 1}))


def _month_rows(connection, village_id: int | None = None) -> dict[tuple, tuple[Decimal, int]]:
    """The monthly sums as the entries give them (``{key: (amount, entries)}``)."""
    e = LedgerEntry.__table__
    month = func.strftime("%Y-%m-01", e.c.entry_date) if connection.dialect.name == "sqlite" \
        else func.date_trunc("month", e.c.entry_date)
    stmt = select(e.c.village_id, e.c.entity, month.label("month"), e.c.direction, e.c.account,
                  func.sum(e.c.amount), func.count()).group_by(e.c.village_id, e.c.entity, month, e.c.direction,
                                                               e.c.account)
    if village_id is not None:
        stmt = stmt.where(e.c.village_id == village_id)
    out = {}
    for vid, entity, first, direction, account, total, count in connection.execute(stmt):
        day = date.fromisoformat(first) if isinstance(first, str) else (first.date() if isinstance(first, datetime)
                                                                         else first)
        amount = total if isinstance(total, Decimal) else Decimal(str(total))  # Money: yuan on every backend
        out[(vid, entity, day, direction, account)] = (amount.quantize(CENT), int(count))
    return out


def rebuild_months(connection) -> int:
    """Fill ``ledger_month`` again from the entries (the migration that adds it; bulk loads)."""
    table = LedgerMonth.__table__
    rows = _month_rows(connection)
    connection.execute(table.delete())
    if rows:
        connection.execute(table.insert(), [dict(zip(_MONTH_KEY, key, strict=True), amount=amount, entries=count)
                                            for key, (amount, count) in rows.items()])
    return len(rows)


def months_problems(session: Session) -> list[str]:
    """``cunwu doctor``: every monthly sum equals the sum of its entries (and none is missing)."""
    connection = session.connection()
    actual = _month_rows(connection)
    kept = {tuple(getattr(r, k) for k in _MONTH_KEY): (r.amount.quantize(CENT), r.entries)
            for r in session.scalars(select(LedgerMonth))}
    problems = []
    for key in sorted(set(actual) | set(kept), key=str):
        if actual.get(key, (Decimal("0.00"), 0)) != kept.get(key, (Decimal("0.00"), 0)):
            vid, entity, month_day, direction, account = key
            have, want = kept.get(key, (Decimal(0), 0)), actual.get(key, (Decimal(0), 0))
            problems.append(f"账目月度汇总（村{vid} {ENTITIES.get(entity, entity)} {month_day:%Y-%m} "
                            f"{DIRECTIONS.get(direction, direction)} {account}）为{money(have[0])}元{have[1]}笔，"
                            f"分录合计为{money(want[0])}元{want[1]}笔")
    return problems


def _first_of_next_month(day: date) -> date:
    return date(day.year + 1, 1, 1) if day.month == 12 else date(day.year, day.month + 1, 1)


def _split(start: date | None, end: date | None) -> tuple[bool, date | None, date | None, list[tuple]]:
    """A date filter as whole months (read from ``ledger_month``: ``[lo, hi)``) and the partial
    months at its edges (read from the entries). ``(False, …, [(start, end)])``: no whole month."""
    lo = None if start is None else (start if start.day == 1 else _first_of_next_month(start))
    hi = None if end is None else (_first_of_next_month(end) if _first_of_next_month(end) - timedelta(days=1) == end
                                   else end.replace(day=1))
    if lo is not None and hi is not None and lo >= hi:
        return False, None, None, [(start, end)]
    edges = []
    if start is not None and start < lo:
        edges.append((start, lo - timedelta(days=1)))
    if end is not None and end >= hi:
        edges.append((hi, end))
    return True, lo, hi, edges


def _months(stmt, village: Village, entity: str | None, lo: date | None, hi: date | None):
    stmt = stmt.where(LedgerMonth.village_id == village.id)
    if entity:
        stmt = stmt.where(LedgerMonth.entity == entity)
    if lo is not None:
        stmt = stmt.where(LedgerMonth.month >= lo)
    if hi is not None:
        stmt = stmt.where(LedgerMonth.month < hi)
    return stmt


def count(session: Session, village: Village, entity: str | None = None, start: date | None = None,
          end: date | None = None) -> int:
    whole, lo, hi, edges = _split(start, end)
    total = 0
    if whole:
        total += session.scalar(_months(select(func.sum(LedgerMonth.entries)), village, entity, lo, hi)) or 0
    for a, b in edges:
        total += session.scalar(_filtered(select(func.count(LedgerEntry.id)), village, entity, a, b)) or 0
    return int(total)


# ------------------------------------------------------------------------------ reading


def _filtered(stmt, village: Village, entity: str | None, start: date | None, end: date | None):
    stmt = stmt.where(LedgerEntry.village_id == village.id)
    if entity:
        stmt = stmt.where(LedgerEntry.entity == entity)
    if start:
        stmt = stmt.where(LedgerEntry.entry_date >= start)
    if end:
        stmt = stmt.where(LedgerEntry.entry_date <= end)
    return stmt


def totals(session: Session, village: Village, entity: str | None = None, start: date | None = None,
           end: date | None = None) -> dict[str, Decimal]:
    """Sums in SQL, exact (NUMERIC / fen); reversals count with their negative amounts. Whole
    months come from ``ledger_month``, the partial months at the filter's edges from the entries."""
    whole, lo, hi, edges = _split(start, end)
    out = {"in": Decimal("0.00"), "out": Decimal("0.00")}
    parts = [session.execute(_filtered(select(LedgerEntry.direction, func.sum(LedgerEntry.amount))
                                       .group_by(LedgerEntry.direction), village, entity, a, b)) for a, b in edges]
    if whole:
        parts.append(session.execute(_months(select(LedgerMonth.direction, func.sum(LedgerMonth.amount))
                                             .group_by(LedgerMonth.direction), village, entity, lo, hi)))
    for rows in parts:
        for direction, total in rows:
            out[direction] = (out[direction] + (total if total is not None else Decimal(0))).quantize(CENT)
    return out


def by_account(session: Session, village: Village, entity: str, start: date | None, end: date | None
               ) -> list[tuple[str, str, Decimal]]:
    whole, lo, hi, edges = _split(start, end)
    sums: dict[tuple[str, str], Decimal] = {}
    parts = [session.execute(_filtered(select(LedgerEntry.direction, LedgerEntry.account, func.sum(LedgerEntry.amount))
                                       .group_by(LedgerEntry.direction, LedgerEntry.account), village, entity, a, b))
             for a, b in edges]
    if whole:
        parts.append(session.execute(_months(select(LedgerMonth.direction, LedgerMonth.account,
                                                    func.sum(LedgerMonth.amount))
                                             .group_by(LedgerMonth.direction, LedgerMonth.account),
                                             village, entity, lo, hi)))
    for rows in parts:
        for d, a, t in rows:
            sums[(d, a)] = sums.get((d, a), Decimal(0)) + (t or Decimal(0))
    return [(d, a, t.quantize(CENT)) for (d, a), t in sorted(sums.items())]


def entries(session: Session, village: Village, entity: str | None, start: date | None, end: date | None,
            limit: int, offset: int) -> tuple[list[dict], int]:
    base = _filtered(select(LedgerEntry), village, entity, start, end)
    total = count(session, village, entity, start, end)
    rows = list(session.scalars(base.order_by(LedgerEntry.entry_date, LedgerEntry.id).limit(limit).offset(offset)))
    reversed_by = dict(session.execute(select(LedgerEntry.reverses_id, LedgerEntry.id).where(
        LedgerEntry.reverses_id.in_([r.id for r in rows]))).all()) if rows else {}
    return [entry_json(r, reversed_by.get(r.id)) for r in rows], total


# ------------------------------------------------------------------------------ periods and the statement

QUARTER_ZH = {1: "一", 2: "二", 3: "三", 4: "四"}
MONTH_ZH = {i: n for i, n in enumerate("一 二 三 四 五 六 七 八 九 十 十一 十二".split(), start=1)}


@dataclass(frozen=True)
class Period:
    """A disclosure period: a quarter (``2026Q1``) or, for a busy village, a month (``2026-01``)."""

    key: str
    start: date
    end: date  # inclusive
    title: str  # 2026年第一季度

    @property
    def ends_at(self) -> datetime:
        """The first instant after the period (Beijing time), as UTC."""
        return datetime.combine(self.end + timedelta(days=1), time(0, 0), LOCAL_TZ).astimezone(UTC)


def quarter(year: int, q: int) -> Period:
    start = date(year, 3 * q - 2, 1)
    nxt = date(year + 1, 1, 1) if q == 4 else date(year, 3 * q + 1, 1)
    return Period(f"{year}Q{q}", start, nxt - timedelta(days=1), f"{year}年第{QUARTER_ZH[q]}季度")


def month(year: int, m: int) -> Period:
    start = date(year, m, 1)
    nxt = date(year + 1, 1, 1) if m == 12 else date(year, m + 1, 1)
    return Period(f"{year}-{m:02d}", start, nxt - timedelta(days=1), f"{year}年{m}月")


def last_closed_period(now: datetime, monthly: bool = False) -> Period:
    """The newest period that has ended by ``now`` (Beijing time); R26: at least quarterly,
    monthly where the village's setting ``ledger.monthly`` says so."""
    today = local_today(now)
    if monthly:
        y, m = (today.year, today.month - 1) if today.month > 1 else (today.year - 1, 12)
        return month(y, m)
    q = (today.month - 1) // 3  # the quarter before the current one
    return quarter(today.year, q) if q else quarter(today.year - 1, 4)


def periods_between(since: datetime, now: datetime, monthly: bool = False) -> list[Period]:
    """Every period that ended after ``since`` and by ``now``, oldest first."""
    out: list[Period] = []
    period = last_closed_period(now, monthly)
    while period.ends_at > since and len(out) < 240:
        out.append(period)
        period = last_closed_period(datetime.combine(period.start, time(12), LOCAL_TZ), monthly)
    return out[::-1]


def period_of(village: Village, day: date) -> Period:
    """The disclosure period ``day`` belongs to (the village's quarter, or month)."""
    if (village.settings or {}).get("ledger.monthly"):
        return month(day.year, day.month)
    return quarter(day.year, (day.month - 1) // 3 + 1)


def period_posted(session: Session, village: Village, day: date) -> bool:
    """Whether the 财务公开 of the period of ``day`` is already on the board: its books are
    then closed, and a late entry or a correction is dated in the current period."""
    from ..store.models import BoardEntry, LedgerPeriod

    key = period_of(village, day).key
    return session.scalar(select(func.count(BoardEntry.id)).join(
        LedgerPeriod, LedgerPeriod.case_id == BoardEntry.case_id).where(
        LedgerPeriod.village_id == village.id, LedgerPeriod.period == key, BoardEntry.kind == "finance")) > 0


def parse_period(key: str) -> Period:
    if m := re.fullmatch(r"(\d{4})Q([1-4])", key):
        return quarter(int(m[1]), int(m[2]))
    if m := re.fullmatch(r"(\d{4})-(\d{2})", key):
        return month(int(m[1]), int(m[2]))
    raise ValueError(key)


@dataclass
class Statement:
    """村级财务公开表 of one period: per entity the opening balance, income and spending by
    account, the closing balance and the large items (《农村集体经济组织财务公开规定》)."""

    village: str
    period: Period
    entities: list[dict] = field(default_factory=list)
    totals: dict[str, Decimal] = field(default_factory=dict)

    def as_data(self) -> dict:
        return {"period": self.period.key, "title": self.period.title, "village": self.village,
                "totals": {k: money(v) for k, v in self.totals.items()},
                "entities": [{**e, "opening": money(e["opening"]), "in": money(e["in"]), "out": money(e["out"]),
                              "closing": money(e["closing"]), "large_from": money(e["large_from"]),
                              "income": [[a, money(t)] for a, t in e["income"]],
                              "spending": [[a, money(t)] for a, t in e["spending"]],
                              "large": [{**x, "amount": money(x["amount"])} for x in e["large"]]}
                             for e in self.entities]}

    def text(self) -> str:

        lines = [f"{self.village}{self.period.title}财务公开（{self.period.start.isoformat()}至"
                 f"{self.period.end.isoformat()}）",
                 f"本期合计：收入{money(self.totals['in'])}元，支出{money(self.totals['out'])}元。"]
        for e in self.entities:
            lines.append("")
            lines.append(f"【{e['name']}】期初余额{money(e['opening'])}元；本期收入{money(e['in'])}元，"
                         f"支出{money(e['out'])}元；期末余额{money(e['closing'])}元。")
            if e["income"]:
                lines.append("收入：" + "；".join(f"{a}{money(t)}元" for a, t in e["income"]))
            if e["spending"]:
                lines.append("支出：" + "；".join(f"{a}{money(t)}元" for a, t in e["spending"]))
            if e["large"]:
                lines.append(f"{fmt_amount(e['large_from'])}元以上的收支：")
                lines.extend(f"  {x['date']} {DIRECTIONS[x['direction']]} {money(x['amount'])}元 "
                             f"{x['summary']}" + (f"（{x['counterparty']}）" if x["counterparty"] else "")
                             for x in e["large"])
        lines.append("")
        lines.append("以上经村务监督委员会（民主理财小组）审核。如有疑问，请在公示期内向村务监督委员会提出。")
        return "\n".join(lines)


def statement(session: Session, village: Village, period: Period) -> Statement:
    settings = village.settings or {}
    large_from = Decimal(str(settings.get("ledger.large_item_from") or LARGE_ITEM_FROM))
    out = Statement(village=village.name, period=period, totals={"in": Decimal("0.00"), "out": Decimal("0.00")})
    for key, name in ENTITIES.items():
        before = totals(session, village, key, None, period.start - timedelta(days=1))
        now = totals(session, village, key, period.start, period.end)
        rows = by_account(session, village, key, period.start, period.end)
        large = list(session.scalars(_filtered(select(LedgerEntry), village, key, period.start, period.end).where(
            LedgerEntry.amount >= large_from, LedgerEntry.reverses_id.is_(None))
            .order_by(LedgerEntry.entry_date, LedgerEntry.id).limit(200)))
        opening = before["in"] - before["out"]
        out.entities.append({
            "entity": key, "name": name, "opening": opening, "in": now["in"], "out": now["out"],
            "closing": opening + now["in"] - now["out"],
            "income": [(a, t) for d, a, t in rows if d == "in" and t],
            "spending": [(a, t) for d, a, t in rows if d == "out" and t],
            "large_from": large_from,
            "large": [{"id": e.id, "date": e.entry_date.isoformat(), "direction": e.direction, "amount": e.amount,
                       "summary": e.summary, "counterparty": e.counterparty, "case": e.case_id} for e in large],
        })
        out.totals["in"] += now["in"]
        out.totals["out"] += now["out"]
    return out


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


# ------------------------------------------------------------------------------ the contracts register (R40)

CONTRACT_KINDS = {"lease": "租赁", "contracting": "承包", "outsourcing": "发包", "transfer": "转让"}


def _add_months(d: date, months: int) -> date:
    y, m = divmod(d.month - 1 + months, 12)
    year, mon = d.year + y, m + 1
    for day in range(d.day, 27, -1):
        try:
            return date(year, mon, day)
        except ValueError:
            continue
    return date(year, mon, min(d.day, 28))


def due_dates(contract, until: date) -> list[date]:
    """The dates each period's amount falls due (the start of each period), up to ``until``."""
    out: list[date] = []
    k = 0
    while len(out) < 1200:
        day = _add_months(contract.starts_on, k * contract.every_months)
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
    _amount_and_entity(data, "每期金额", values, errors)
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
    values["subject"] = _text(data, "subject", "标的（资产资源）", errors, required=True, max_len=300)
    values["counterparty"] = _text(data, "counterparty", "承包（承租）方", errors, required=True, max_len=200)
    values["account"] = _text(data, "account", "会计科目", errors, required=False, max_len=100) or "经营收入"
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
