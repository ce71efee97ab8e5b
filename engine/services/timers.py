"""Timers: run the due ones, and the daily scans (receivables, overdue steps).

Mixed into :class:`engine.services.Engine`."""

from __future__ import annotations

from collections.abc import Collection

from sqlalchemy import select
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.orm import Session

from ..process import runtime
from ..records import notices
from ..store.models import Case


class TimersMixin:
    # -- timers ---------------------------------------------------------------------------
    def due_case_ids(self, session: Session, limit: int, *, lock: bool = False,
                     exclude: Collection[int] = ()) -> list[int]:
        """Running cases whose next timer is due by the clock, earliest first. With ``lock`` on
        PostgreSQL the rows are claimed ``FOR UPDATE SKIP LOCKED``: rows another worker holds are
        passed over, and a row it has just fired is no longer due when re-checked."""
        stmt = (select(Case.id).where(Case.next_timer_at.is_not(None), Case.next_timer_at < self.now(),
                                      Case.status == "running").order_by(Case.next_timer_at, Case.id).limit(limit))
        if exclude:
            stmt = stmt.where(Case.id.not_in(list(exclude)))
        if lock and session.bind.dialect.name == "postgresql":
            stmt = stmt.with_for_update(skip_locked=True)
        return list(session.scalars(stmt))

    def run_timers(self, batch: int = 50) -> int:
        """Fire every timer that is due by the clock, once. Returns the number of cases moved.

        Due cases are claimed in small batches, one transaction per batch (on PostgreSQL with
        ``FOR UPDATE SKIP LOCKED``, so several workers share the work and never fire a case
        twice; on SQLite the write lock makes workers take turns). Each case runs in its own
        savepoint: a case that fails is logged and left due, and does not hold up the others."""
        import logging

        fired = 0
        skip: set[int] = set()  # failed, or still due after firing: not again in this sweep
        while True:
            with self.transaction() as session:
                ids = self.due_case_ids(session, batch, lock=True, exclude=skip)
                for case_id in ids:
                    try:
                        with session.begin_nested():
                            moved, still_due = self._fire_timers(session, case_id)
                            fired += moved
                            if still_due:
                                skip.add(case_id)
                    except (OperationalError, InterfaceError):
                        raise  # the connection or the transaction is gone: not this case's fault
                    except Exception:  # noqa: BLE001 - one broken case must not stop the sweep
                        skip.add(case_id)
                        logging.getLogger("cunwu.timers").exception("定时事件处理失败：事项%s", case_id)
            if len(ids) < batch:
                break
        # A period of the books has ended: open its 财务公开 in every village (R26).
        fired += self.open_finance_disclosures()
        self.scan_overdue()
        self.scan_receivables()
        return fired

    def _fire_timers(self, session: Session, case_id: int) -> tuple[int, bool]:
        """Run one due case's timers; ``(1 if it moved else 0, still due)``."""
        lock = {"of": Case, "key_share": True} if session.bind.dialect.name == "postgresql" else None  # not the joined rows
        case = session.get(Case, case_id, with_for_update=lock, populate_existing=True)
        now = self.now()
        if case is None or case.status != "running" or case.next_timer_at is None or case.next_timer_at >= now:
            return 0, False
        deployed = self.catalog.deployed(case.definition)
        wf = runtime.loads(case.state, deployed.spec, deployed.subprocess_specs)
        before = {t.id: t for t in runtime.open_tasks(wf)}
        runtime.run(wf, self.now)
        after = {t.id for t in runtime.open_tasks(wf)}
        moved = set(before) != after
        if moved:
            ended = "、".join(t.title for i, t in before.items() if i not in after and t.state == "waiting")
            self.audit(session, action="timer", actor=None, case=case,
                        summary=f"{ended or '定时'}：时间已到，流程继续")
        self.sync(session, case, wf, deployed)
        return (1 if moved else 0), case.next_timer_at is not None and case.next_timer_at < now

    def scan_receivables(self) -> int:
        """Tell of contract amounts fallen due and overdue unpaid (once per due date and stage;
        engine/records/receivables.py, notice kind ``receivable``)."""
        from ..records import receivables

        return receivables.scan(self.sessions, self.now())

    def scan_overdue(self) -> int:
        """Tell of ready tasks past their due date (once per task; CONTRACT.md, kind ``overdue``)."""
        return notices.scan_overdue(self.sessions, self.now())
