"""Disclosure periods and the 财务公开表 (issue 13, R26): the quarter (or, where the village's
setting ``ledger.monthly`` says so, the month) and the statement of one period drawn from the books.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ..domain.clock import LOCAL_TZ
from ..domain.money import fmt_amount
from ..store.models import LedgerEntry, Village
from .ledger_chart import DIRECTIONS, ENTITIES, LARGE_ITEM_FROM, local_today, money
from .ledger_months import by_account, filtered, totals

QUARTER_ZH = {1: "一", 2: "二", 3: "三", 4: "四"}


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
        large = list(session.scalars(filtered(select(LedgerEntry), village, key, period.start, period.end).where(
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
