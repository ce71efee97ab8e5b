"""The ledger's monthly sums (``ledger_month``) and the sums read from them (issue 13).

Every entry inserted through the ORM adds itself to its month's row in the same transaction; the
totals and counts of a date range read whole months from ``ledger_month`` and only the partial
months at the range's edges from the entries. ``cunwu doctor`` checks every sum against its entries.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal

from sqlalchemy import event, func, select
from sqlalchemy.orm import Session

from ..store.models import LedgerEntry, LedgerMonth, Village
from .ledger_chart import CENT, DIRECTIONS, ENTITIES, money

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
        total += session.scalar(filtered(select(func.count(LedgerEntry.id)), village, entity, a, b)) or 0
    return int(total)

# ------------------------------------------------------------------------------ reading


def filtered(stmt, village: Village, entity: str | None, start: date | None, end: date | None):
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
    parts = [session.execute(filtered(select(LedgerEntry.direction, func.sum(LedgerEntry.amount))
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
    parts = [session.execute(filtered(select(LedgerEntry.direction, LedgerEntry.account, func.sum(LedgerEntry.amount))
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
