"""The monthly sums of the books (``ledger_month``, issue 13 bench): totals, counts and statements
read whole months from them and only the partial months at a filter's edges from the entries, so
they must always equal the plain sums of the entries — on SQLite and PostgreSQL, with reversals,
odd date filters, two writers of the same month at once, and ``cunwu doctor`` finding a monthly sum
that no longer matches its entries."""

from __future__ import annotations

import random
import threading
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from sqlalchemy import select, text

from engine.records import ledger_entries, ledger_months
from engine.store.models import LedgerEntry, LedgerMonth, Village


def _fill(app, n: int = 120, seed: int = 3) -> None:
    """``n`` entries written the way the app writes them (ORM, the insert hook), some reversed."""
    rng = random.Random(seed)
    now = datetime(2026, 3, 2, tzinfo=UTC)
    with app.extensions["cunwu"].transaction() as session:
        village = session.scalar(select(Village).where(Village.code == "demo-001"))
        written = []
        for i in range(n):
            values = {"entity": rng.choice(("committee", "cooperative")), "amount": Decimal(rng.randrange(1, 10**7)) / 100,
                      "received_on": date(2025, 1, 1) + timedelta(days=rng.randrange(420)),
                      "account": rng.choice(("经营收入", "补助收入", "其他收入")), "summary": f"分录{i}",
                      "counterparty": "", "voucher": ""}
            if rng.random() < 0.4:  # spending, as a payment step writes it
                entry = LedgerEntry(village_id=village.id, entity=values["entity"], direction="out",
                                    amount=values["amount"], entry_date=values["received_on"],
                                    account=rng.choice(("管理费用", "公益支出")), summary=f"支出{i}", created_at=now)
                session.add(entry)
                session.flush()
            else:
                entry = ledger_entries.add_receipt(session, village, values, actor_id=None, actor_name="测试", now=now)
            written.append(entry)
        for entry in written[::9]:  # red-ink reversals, dated later than their entries
            ledger_entries.reverse(session, entry, reason="更正", on=entry.entry_date + timedelta(days=40), actor_id=None,
                           actor_name="测试", now=now)


def _plain(app, entity, start, end):
    """Totals, per-account sums and the count straight from the entries, in Python."""
    with app.extensions["cunwu"].sessions() as session:
        rows = [e for e in session.scalars(select(LedgerEntry))
                if (entity is None or e.entity == entity) and (start is None or e.entry_date >= start)
                and (end is None or e.entry_date <= end)]
    totals = {"in": Decimal("0.00"), "out": Decimal("0.00")}
    accounts: dict = {}
    for e in rows:
        totals[e.direction] += e.amount
        accounts[(e.direction, e.account)] = accounts.get((e.direction, e.account), Decimal(0)) + e.amount
    return totals, sorted((d, a, t.quantize(Decimal("0.01"))) for (d, a), t in accounts.items()), len(rows)


FILTERS = [(None, None, None), ("committee", None, None), (None, date(2025, 3, 1), date(2025, 5, 31)),
           ("cooperative", date(2025, 3, 15), date(2025, 9, 2)), (None, date(2025, 2, 10), date(2025, 2, 20)),
           (None, date(2025, 6, 30), None), ("committee", None, date(2025, 12, 31)),
           (None, date(2025, 1, 31), date(2025, 3, 1)), (None, date(2025, 12, 1), date(2025, 12, 31)),
           (None, date(2026, 2, 1), date(2026, 2, 28))]


def test_sums_from_the_months_equal_the_entries(any_app):
    _fill(any_app)
    expected = {f: _plain(any_app, *f) for f in FILTERS}
    with any_app.extensions["cunwu"].sessions() as session:
        village = session.scalar(select(Village).where(Village.code == "demo-001"))
        for entity, start, end in FILTERS:
            totals, accounts, count = expected[(entity, start, end)]
            assert ledger_months.totals(session, village, entity, start, end) == totals, (entity, start, end)
            assert ledger_months.count(session, village, entity, start, end) == count, (entity, start, end)
            if entity:
                assert ledger_months.by_account(session, village, entity, start, end) == accounts, (entity, start, end)
        assert ledger_months.months_problems(session) == []


def test_rebuild_gives_the_rows_the_hook_kept(any_app):
    _fill(any_app, n=60, seed=5)
    db = any_app.extensions["cunwu_db"]

    def rows():
        with db.connect() as conn:
            return sorted(tuple(r) for r in conn.execute(select(LedgerMonth.__table__)))

    kept = rows()
    assert kept and sum(r[-1] for r in kept) == 60 + len(range(0, 60, 9))
    with db.begin() as conn:
        ledger_months.rebuild_months(conn)
    assert rows() == kept


def test_doctor_finds_a_monthly_sum_that_no_longer_matches(app):
    from engine.services.doctor import check

    _fill(app, n=30)
    engine = app.extensions["cunwu"]
    assert check(engine).ok, check(engine).problems
    db = app.extensions["cunwu_db"]
    with db.begin() as conn:
        conn.execute(text("update ledger_month set amount = amount + 1 where month = "
                          "(select min(month) from ledger_month)"))
    problems = check(engine).problems
    assert any("账目月度汇总" in p and "分录合计" in p for p in problems), problems
    with db.begin() as conn:
        ledger_months.rebuild_months(conn)
        conn.execute(text("delete from ledger_month where month = (select max(month) from ledger_month)"))
    assert any("为0.00元0笔" in p for p in check(engine).problems)


def test_two_writers_of_the_same_month_add_up_on_postgresql(pg_app):
    """The upsert adds, never overwrites: 2 × 10 receipts of the same month and account at once."""
    engine = pg_app.extensions["cunwu"]
    errors: list = []

    def writer(k: int) -> None:
        try:
            for i in range(10):
                engine.add_receipt("sun", "demo-001", {"received_on": "2026-03-01", "entity": "committee",
                                                       "amount": "0.10", "account": "经营收入",
                                                       "summary": f"并发{k}-{i}"})
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(k,)) for k in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors
    view = engine.ledger("sun", "demo-001")
    assert view["count"] == 20 and view["totals"]["in"] == "2.00"
    with engine.sessions() as session:
        assert ledger_months.months_problems(session) == []
