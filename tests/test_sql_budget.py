"""SQL statements per request (issue 16): a budget that a change must not exceed without saying so.

Measured on 2026-12-04 (SQLite): completing a meeting through HTTP costs 21 statements, reading a case 11,
reading a review task with its record 10. The budget leaves a little room; issue 16's aim is fewer.
Lower it when the engine gets cheaper.
"""

from __future__ import annotations

from collections import Counter

import pytest
from sqlalchemy import event

from tests.conftest import ApiClient
from tests.flows import Walk

BUDGET = {"complete": 24, "get_case": 12, "get_task": 12}


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
