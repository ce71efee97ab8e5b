"""Helpers shared by the engine facade's modules: status names, ISO times, the per-transaction
cache of a case's task rows, lookups by URL id, and error messages named by Chinese labels."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import event
from sqlalchemy.orm import Session, SessionTransactionOrigin

from ..domain.clock import iso as iso  # the services import it from here
from ..forms.base import first_message as first_message  # the services import it from here
from ..records import evidence
from ..store.models import TaskRow

MAX_ROUNDS = 30  # a step may be repeated at most this often in one case (keeps the task tree shallow)
STATUS_ZH = {"running": "办理中", "completed": "已办结", "rejected": "未通过", "withdrawn": "已撤回",
             "on_hold": "已暂停"}


TASKS_KEY = "cunwu.case_tasks"
#: the cases read with their task rows (``Engine.task_with_siblings``), held for the transaction: the
#: session's identity map keeps only weak references, and ``case_for`` finds them there
CASES_KEY = "cunwu.cases"
NEVER = datetime.min.replace(tzinfo=UTC)


def done_order(row: TaskRow) -> tuple[datetime, datetime]:
    return row.completed_at or NEVER, row.created_at or NEVER


@event.listens_for(Session, "after_transaction_end")
def forget_case_tasks(session: Session, transaction) -> None:
    """The task list read by ``Engine.case_tasks`` lives as long as the transaction (or savepoint)
    it was read in: after a rollback it could hold rows that were never written. (A flush's inner
    subtransaction is not an end.) Likewise the case's attachments read by ``_bind_attachments``."""
    if transaction.origin is not SessionTransactionOrigin.SUBTRANSACTION:
        session.info.pop(TASKS_KEY, None)
        session.info.pop(CASES_KEY, None)
        session.info.pop(evidence.CASE_ATTACHMENTS_KEY, None)


def by_id(session: Session, model, ident):
    """``session.get`` for integer keys that may come from a URL: out-of-range ids (which
    SQLite cannot even bind) are simply not found."""
    if isinstance(ident, bool) or not isinstance(ident, int) or not 0 < ident < 2**63:
        return None
    return session.get(model, ident)
