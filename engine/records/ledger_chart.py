"""The ledger's chart and value rules (三资, 村财乡管; issue 13, DOMAIN §4 and R34–R41, R62).

Every village keeps two accounting entities (R41): ``committee`` (村民委员会) and ``cooperative``
(村集体经济组织, e.g. 股份经济合作社). An entry is income (``in``) or spending (``out``) of one
entity, with its date, account, summary, counterparty and, where a case moved the money, the case.

* Money is :class:`decimal.Decimal` with two places end to end: ``NUMERIC(14, 2)`` in PostgreSQL
  (fen on SQLite, see ``engine.store.models.Money``), strings like ``"1234.56"`` in JSON. A float is
  never accepted and never produced (:func:`parse_amount`, :func:`money`).

Accounts follow the chart of 《农村集体经济组织会计制度》(财政部 财会〔2023〕14号, in force from
2024-01-01; it replaced the 2004 《村集体经济组织会计制度》, 财会〔2004〕12号). :data:`CHART`
lists its income, expense and the balance-sheet accounts a village's cash moves against. A
county may file its own list as the village setting ``ledger.accounts``; then only those
accounts are accepted. Without it an account outside the chart is accepted as written (a
county's sub-account such as ``经营收入/租赁收入`` maps to its head account).

The books are kept by these modules of ``engine.records``: ``ledger_chart`` (this one: the chart,
the entities, amounts, dates and the ``ledger.*`` settings), ``ledger_entries`` (entries, receipts,
payments, reversals, ``cunwu doctor``'s check of the books), ``ledger_months`` (the monthly sums and
the sums read from them), ``ledger_statement`` (disclosure periods and the 财务公开表) and
``contract_register`` (the contracts register and what is owed on it).
"""

from __future__ import annotations

import re
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from ..domain.clock import LOCAL_TZ
from ..domain.errors import Invalid
from ..store.models import Village

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


# ------------------------------------------------------------------------------ form fields


def text_field(data: dict, key: str, label: str, errors: dict, *, required: bool, max_len: int) -> str:
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


def amount_and_entity(data: dict, label: str, values: dict, errors: dict) -> None:
    """The two fields every money record has: a strict amount and one of the two entities (R41)."""
    try:
        values["amount"] = parse_amount(data.get("amount"), "amount", label)
    except Invalid as exc:
        errors.update(exc.fields)
    entity = data.get("entity")
    if not isinstance(entity, str) or entity not in ENTITIES:
        errors["entity"] = ["核算主体只能是 committee（村民委员会）或 cooperative（村集体经济组织）"]
    values["entity"] = entity
