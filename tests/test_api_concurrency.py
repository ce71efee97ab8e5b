"""100 people press "提交" on the same task at once: exactly one wins (200), everyone else is
told it was already done (409), and the audit trail records one completion.

Against a real gunicorn server on PostgreSQL (4 worker processes), and with threads against
the Flask app on SQLite and PostgreSQL."""

from __future__ import annotations

import sys
import threading
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import text

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.common import GunicornServer, HttpTransport, login  # noqa: E402
from engine.services.doctor import check  # noqa: E402
from tests.conftest import ApiClient  # noqa: E402
from tests.flows import MEETING_OK, Walk  # noqa: E402

PARALLEL = 100


def _first_task(app) -> tuple[int, str]:
    walk = Walk(lambda u: ApiClient(app, u))
    walk.start()
    task = walk.task("two_committees")
    return walk.case["id"], task["id"]


def _assert_one_winner(app, statuses: list, task_id: str, case_id: int) -> None:
    counts = Counter(statuses)
    assert counts[200] == 1, counts
    assert counts[409] == PARALLEL - 1, counts
    db = app.extensions["cunwu_db"]
    with db.connect() as conn:
        completions = conn.scalar(text("select count(*) from audit_event where action = 'complete' "
                                       "and task_id = :t"), {"t": task_id})
        row = conn.execute(text("select state, completed_by from task where id = :t"), {"t": task_id}).one()
        version = conn.scalar(text("select lock_version from case_instance where id = :c"), {"c": case_id})
    assert completions == 1
    assert row.state == "completed" and row.completed_by is not None
    assert version == 4  # inserted (1), first state saved (2), proposal by the starter (3), this meeting (4)
    report = check(app.extensions["cunwu"])
    assert report.ok, report.problems


@pytest.mark.pg
@pytest.mark.slow
def test_parallel_completions_against_a_live_gunicorn_server(pg_app, tmp_path):
    case_id, task_id = _first_task(pg_app)
    body = {"data": MEETING_OK["two_committees"]}
    with GunicornServer(pg_app.config["DATABASE_URL"], workers=4, log=tmp_path / "gunicorn.log") as server:
        token = login(HttpTransport(*server.base), "zhang")
        transports = [HttpTransport(*server.base) for _ in range(PARALLEL)]
        for t in transports:  # connect first, so the requests really leave together
            t.request("GET", "/api/v1/villages/demo-001/board/verify")
        statuses: list = []
        barrier = threading.Barrier(PARALLEL)

        def press(transport):
            barrier.wait()
            try:
                statuses.append(transport.request("POST", f"/api/v1/tasks/{task_id}/complete", body, token).status)
            except OSError as exc:
                statuses.append(repr(exc))

        threads = [threading.Thread(target=press, args=(t,)) for t in transports]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        for t in transports:
            t.close()
    log = (tmp_path / "gunicorn.log").read_text(errors="replace")
    assert "Traceback" not in log, log[-3000:]
    _assert_one_winner(pg_app, statuses, task_id, case_id)


def test_parallel_completions_with_threads_on_the_flask_app(any_app):
    case_id, task_id = _first_task(any_app)
    headers = ApiClient(any_app, "zhang").headers
    body = {"data": MEETING_OK["two_committees"]}
    clients = [any_app.test_client() for _ in range(PARALLEL)]
    statuses: list = []
    barrier = threading.Barrier(PARALLEL)

    def press(client):
        barrier.wait()
        r = client.post(f"/api/v1/tasks/{task_id}/complete", json=body, headers=headers)
        statuses.append(r.status_code)
        if r.status_code == 409:
            assert r.get_json()["error"]["code"] == "conflict"

    threads = [threading.Thread(target=press, args=(c,)) for c in clients]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    _assert_one_winner(any_app, statuses, task_id, case_id)


def test_parallel_objections_keep_the_board_chain(any_app, clock):
    """Many villagers object to the same notice at once: each objection is stored once, the case
    gets one reply task per objection (answered in turn) and the chain stays whole."""
    walk = Walk(lambda u: ApiClient(any_app, u))
    walk.start()
    walk.to_resolution()
    walk.disclose("resolution")
    entry = walk.board()[0]["id"]
    limiter = any_app.extensions["cunwu_objection_limiter"]
    limiter.limit = 10**6  # one address (the test client) for everyone here
    n = 20
    clients = [any_app.test_client() for _ in range(n)]
    statuses: list = []
    barrier = threading.Barrier(n)

    def object_(i, client):
        barrier.wait()
        try:
            r = client.post(f"/api/v1/board/{entry}/objections",
                            json={"name": f"村民{i}", "contact": "", "text": f"第{i}条异议"})
            statuses.append(r.status_code)
        except Exception as exc:  # noqa: BLE001 - the test client re-raises server errors
            statuses.append(repr(exc))

    threads = [threading.Thread(target=object_, args=(i, c)) for i, c in enumerate(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    counts = Counter(statuses)
    assert set(counts) <= {201, 409}, counts
    db = any_app.extensions["cunwu_db"]
    with db.connect() as conn:
        stored = conn.scalar(text("select count(*) from objection where entry_id = :e"), {"e": entry})
        audited = conn.scalar(text("select count(*) from audit_event where action = 'objection'"))
    assert stored == audited == counts[201] >= 1
    report = check(any_app.extensions["cunwu"])
    assert report.ok, report.problems
    assert walk.public.get("/villages/demo-001/board/verify").get_json()["ok"] is True


def test_two_disclosures_in_one_village_at_the_same_moment(any_app, monkeypatch):
    """Two supervisors approve the disclosures of two different cases of one village at once: both
    notices must be posted, one after the other on the chain."""
    from engine.records import publicity

    walks = []
    for title in ("修路", "修桥"):
        walk = Walk(lambda u: ApiClient(any_app, u))
        walk.start(title=title)
        walk.to_resolution()
        walk.do(walk.director, "draft_resolution_disclosure", {"content": f"{title}决议", "notice_days": 7})
        walks.append(walk)
    reviews = [w.task("review_resolution_disclosure")["id"] for w in walks]
    slow_hash = publicity.entry_hash

    def entry_hash(*args, **kwargs):  # widen the window between reading the chain head and committing
        import time

        time.sleep(0.3)
        return slow_hash(*args, **kwargs)

    monkeypatch.setattr(publicity, "entry_hash", entry_hash)
    clients = [ApiClient(any_app, "zhao"), ApiClient(any_app, "qian")]
    for c in clients:
        assert c.headers
    barrier = threading.Barrier(2)
    statuses: list = []

    def approve(client, task_id):
        barrier.wait()
        r = client.post(f"/tasks/{task_id}/complete", json={"data": {"decision": "approve"}})
        statuses.append(r.status_code)

    threads = [threading.Thread(target=approve, args=(c, t)) for c, t in zip(clients, reviews, strict=True)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    monkeypatch.undo()
    assert sorted(statuses) == [200, 200], statuses
    board = walks[0].board()
    assert sorted(e["seq"] for e in board) == [1, 2]
    assert walks[0].public.get("/villages/demo-001/board/verify").get_json()["ok"] is True
