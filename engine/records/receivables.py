"""Receivable reminders of the contracts register (应收款到期提醒, 应收未收; issue 13, R40).

Each period's amount of a contract falls due at the period's start (``engine.records.contract_register.due_dates``).
``cunwu timers run`` (and ``cunwu worker``) tell the village's 报账员 and the township's agency
(乡镇三资委托代理服务中心, 村财乡管: DOMAIN §4.2) twice per due date at most:

* ``due``: the amount has fallen due and is not yet received;
* ``overdue``: it is still unpaid ``ledger.receivable_grace_days`` days later (village setting,
  default 30 days; no national deadline was found, R38 only sets the days within which money
  received must be deposited).

Receipts that name the contract collect it, oldest due date first: a due date covered by the
receipts is told no more, and when a contract has nothing left due its reminders are marked read
(the receipt "clears" them). Each (contract, due date, stage) is claimed by a unique row
(``ledger_receivable_notice``) in the transaction that writes the notices, and the contract row is
locked ``FOR UPDATE SKIP LOCKED`` on PostgreSQL: however many workers run, each is told once.

The notice kind is ``receivable`` (应收): an extension of the contract's "Notices to people"
table, which lists no money events (documented in README and docs/DEVELOPING.md's list of kinds).
"""

from __future__ import annotations

import logging
from datetime import date, datetime, timedelta
from decimal import Decimal

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ..store.models import LedgerContract, Notification, ReceivableNotice, Village
from . import contract_register, ledger_chart, notices

KIND = "receivable"
GRACE_DAYS = 30
STAGES = {"due": "到期", "overdue": "逾期未收"}


def grace_days(village: Village) -> int:
    value = (village.settings or {}).get("ledger.receivable_grace_days")
    return value if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= 365 else GRACE_DAYS


def check_setting(value) -> list[str]:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 365:
        return ["应收款逾期天数须为0到365之间的整数（天）"]
    return []


def unpaid_dates(contract: LedgerContract, received: Decimal, today: date) -> list[tuple[int, date]]:
    """``(period number, due date)`` of every period due by ``today`` that the receipts do not
    cover (receipts collect the oldest period first)."""
    out = []
    for k, day in enumerate(contract_register.due_dates(contract, today), start=1):
        if received < (contract.amount * k).quantize(ledger_chart.CENT):
            out.append((k, day))
    return out


def path(contract: LedgerContract, village: Village) -> str:
    return f"/contracts?village={village.code}#contract-{contract.id}"


def _title(village: Village, contract: LedgerContract, stage: str, dates: list[tuple[int, date]],
           outstanding: Decimal) -> str:
    subject = notices.quote(contract.subject, 20)
    first_k, first_day = dates[0]
    when = f"第{first_k}期（{first_day.isoformat()}）" if len(dates) == 1 else \
        f"第{first_k}至{dates[-1][0]}期（{first_day.isoformat()}起）"
    amount = ledger_chart.money(contract.amount * len(dates))
    if stage == "due":
        return f"{village.name}合同{contract.id}{subject}{when}应收{amount}元已到期，请及时收取"
    return f"{village.name}合同{contract.id}{subject}{when}应收{amount}元逾期未收（应收未收合计{ledger_chart.money(outstanding)}元）"


def scan(sessions, now: datetime) -> int:
    """Tell every due date not yet told (see the module's docstring); returns the notices written."""
    today = ledger_chart.local_today(now)
    with sessions() as session:
        ids = list(session.scalars(select(LedgerContract.id).where(LedgerContract.starts_on <= today)
                                   .order_by(LedgerContract.id)))
    told = 0
    for contract_id in ids:
        try:
            with sessions() as session, session.begin():
                told += _tell(session, contract_id, now, today)
        except IntegrityError:  # another worker told it first
            continue
        except Exception:  # noqa: BLE001 - one contract must not stop the others
            logging.getLogger("cunwu.timers").exception("应收款提醒失败：合同%s", contract_id)
    return told


def _tell(session: Session, contract_id: int, now: datetime, today: date) -> int:
    stmt = select(LedgerContract).where(LedgerContract.id == contract_id)
    if session.bind.dialect.name == "postgresql":
        stmt = stmt.with_for_update(skip_locked=True)
    contract = session.scalar(stmt)
    if contract is None:  # another worker holds it (PostgreSQL): it tells
        return 0
    village = session.get(Village, contract.village_id)
    received = contract_register.received_by_contract(session, [contract.id]).get(contract.id, Decimal(0))
    unpaid = unpaid_dates(contract, received, today)
    if not unpaid:
        return 0
    done = {(d, s) for d, s in session.execute(select(ReceivableNotice.due_on, ReceivableNotice.stage)
                                               .where(ReceivableNotice.contract_id == contract.id))}
    grace = timedelta(days=grace_days(village))
    owed = (contract.amount * len(contract_register.due_dates(contract, today))).quantize(ledger_chart.CENT)
    outstanding = max(owed - received, Decimal(0))
    people = notices.holders(session, village, {"accountant", "agency_accountant"})
    written = 0
    for stage in ("due", "overdue"):
        new = [(k, d) for k, d in unpaid if (d, stage) not in done and (stage == "due" or d + grace <= today)]
        if not new:
            continue
        for _k, day in new:
            session.add(ReceivableNotice(contract_id=contract.id, due_on=day, stage=stage, at=now))
        session.flush()  # the unique (contract, due date, stage): a second worker stops here
        written += notices.write(session, people, kind=KIND, title=_title(village, contract, stage, new, outstanding),
                                 now=now, village=village.name, village_id=village.id, case_id=contract.case_id,
                                 path=path(contract, village))
    return written


def clear_if_paid(session: Session, contract: LedgerContract, village: Village, now: datetime) -> int:
    """A receipt against the contract: when nothing is left due today, its reminders are read."""
    received = contract_register.received_by_contract(session, [contract.id]).get(contract.id, Decimal(0))
    if unpaid_dates(contract, received, ledger_chart.local_today(now)):
        return 0
    done = session.execute(update(Notification).where(
        Notification.kind == KIND, Notification.path == path(contract, village), Notification.read_at.is_(None))
        .values(read_at=now))
    return done.rowcount or 0
