"""SQL statements per request (issue 16): a budget that a change must not exceed without saying so.

Measured on 2026-12-04 (SQLite): completing a meeting through HTTP cost 21 statements, reading a case 11,
reading a review task with its record 10. Since then (issue 16): the token, the person and the roles are
read in one statement of the request's own transaction (engine/services/accounts.py ``Accounts.actor``), and a
case's task rows once per transaction, with the task itself (``Engine.case_tasks``), for the checks,
the projection and the answer; the attachments the step binds are read with the ones the answer lists:
11, 7 and 7. The answer's history and board are one statement (``cases._HISTORY_AND_BOARD``), and the case and its
attachments come with its task rows (``engine._TASK_WITH_SIBLINGS``, joins): 8, 6 and 6.
The budget is what the engine reaches; lower it when the engine gets cheaper.
"""

from __future__ import annotations

from collections import Counter

import pytest
from sqlalchemy import event

from tests.conftest import ApiClient
from tests.flows import Walk

BUDGET = {"complete": 8, "get_case": 6, "get_task": 6}


@pytest.fixture
def counted(app):
    engine = app.extensions["cunwu_db"]
    seen: list[str] = []

    def before(conn, cursor, statement, parameters, context, executemany):
        seen.append(statement.split()[0].upper())

    event.listen(engine, "before_cursor_execute", before)
    yield seen
    event.remove(engine, "before_cursor_execute", before)


def test_statements_per_request_stay_within_budget(app, counted):
    walk = Walk(lambda u: ApiClient(app, u))
    walk.start()
    assert walk.secretary.headers  # log in before counting
    task = walk.task("two_committees")
    counted.clear()
    walk.meeting("two_committees", "two_committees")
    complete = Counter(counted)
    counted.clear()
    walk.secretary.get(f"/instances/{walk.case['id']}")
    get_case = len(counted)
    counted.clear()
    assert walk.supervisor.headers
    counted.clear()
    walk.supervisor.get(f"/tasks/{walk.task('review_two_committees')['id']}")
    get_task = len(counted)
    # walk.task() itself reads the case once before the completion: take it off.
    used = {"complete": sum(complete.values()) - get_case, "get_case": get_case, "get_task": get_task - get_case}
    print("statements:", used, dict(complete))
    assert task["id"]
    for name, count in used.items():
        assert count <= BUDGET[name], f"{name}: {count} statements, budget {BUDGET[name]}"


def test_a_token_that_is_not_live_is_refused_before_anything_is_written(app):
    """The token is checked inside the completion's own transaction (one query with the person and
    the roles): a revoked, unknown or deactivated person's token answers 401 and changes nothing."""
    from sqlalchemy import func, select

    from engine.store.models import AuditEvent, TaskRow, User

    walk = Walk(lambda u: ApiClient(app, u))
    walk.start()
    task = walk.task("two_committees")
    secretary = walk.secretary
    db = app.extensions["cunwu_db"]

    def audit_count():
        with db.connect() as conn:
            return conn.scalar(select(func.count()).select_from(AuditEvent))

    before = audit_count()
    body = {"data": {"held_on": "2026-03-03", "attended": 7, "approve": 6, "oppose": 1, "abstain": 0}}
    client = app.test_client()
    for token in ("x" * 43, "", "a" * 201):
        r = client.post(f"/api/v1/tasks/{task['id']}/complete", json=body, headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 401, (token, r.get_json())
        assert r.get_json()["error"]["code"] == "not_authenticated"
    token = secretary.headers["Authorization"]
    assert client.get(f"/api/v1/tasks/{task['id']}", headers={"Authorization": token}).status_code in (200, 403)
    with app.app_context():
        with app.extensions["cunwu"].sessions() as session, session.begin():
            session.scalar(select(User).where(User.username == "zhang")).active = False
    r = client.post(f"/api/v1/tasks/{task['id']}/complete", json=body, headers={"Authorization": token})
    assert r.status_code == 401, r.get_json()
    assert client.get(f"/api/v1/instances/{walk.case['id']}", headers={"Authorization": token}).status_code == 401
    assert client.get("/api/v1/tasks", headers={"Authorization": token}).status_code == 401
    assert audit_count() == before
    with db.connect() as conn:
        assert conn.scalar(select(TaskRow.state).where(TaskRow.id == task["id"])) == "ready"


def test_a_plain_completion_leaves_nothing_to_the_unit_of_work(app):
    """issue 16: the completed row and the case are stored by Core UPDATEs and the new task rows and the
    audit event by Core INSERTs (engine/services/writes.py), so neither an autoflush nor the commit
    runs the unit of work for a plain step; what it wrote is all there."""
    from sqlalchemy import select
    from sqlalchemy.orm import Session

    from engine.store.models import AuditEvent, TaskRow

    walk = Walk(lambda u: ApiClient(app, u))
    walk.start()
    assert walk.secretary.headers
    task = walk.task("two_committees")
    flushes: list[int] = []

    def before_flush(session, context, instances):
        flushes.append(len(session.new) + len(session.dirty))

    event.listen(Session, "before_flush", before_flush)
    try:
        walk.meeting("two_committees", "two_committees")
    finally:
        event.remove(Session, "before_flush", before_flush)
    assert flushes == []
    with app.extensions["cunwu"].sessions() as s:
        done = s.get(TaskRow, task["id"])
        assert (done.state, done.completed_by is not None, done.data["approve"]) == ("completed", True, 6)
        opened = s.scalars(select(TaskRow).where(TaskRow.case_id == walk.case["id"], TaskRow.state == "ready")).all()
        assert [r.name for r in opened] == ["review_two_committees"]
        assert opened[0].extra_roles == "" and opened[0].data is None
        events = s.scalars(select(AuditEvent).where(AuditEvent.case_id == walk.case["id"]).order_by(AuditEvent.id)).all()
        assert [e.action for e in events][-1] == "complete" and events[-1].task_id == task["id"]
