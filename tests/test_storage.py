"""Storage on SQLite and PostgreSQL: versions, optimistic locking, all-or-nothing steps."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from sqlalchemy import func, select, text, update

from engine.records import publicity
from engine.services import Engine
from engine.store.models import AuditEvent, BoardEntry, Case, TaskRow
from tests.conftest import ApiClient
from tests.flows import MEETING_OK, Walk


def walk_on(app) -> Walk:
    return Walk(lambda u: ApiClient(app, u))


def snapshot(app) -> dict:
    engine: Engine = app.extensions["cunwu"]
    with engine.sessions() as s:
        return {
            "cases": [(c.id, c.state, c.lock_version, c.status, c.next_timer_at) for c in s.scalars(select(Case))],
            "tasks": sorted((t.id, t.state) for t in s.scalars(select(TaskRow))),
            "audit": s.scalar(select(func.count()).select_from(AuditEvent)),
            "board": s.scalar(select(func.count()).select_from(BoardEntry)),
        }


def test_a_failed_step_leaves_nothing_half_written(any_app, monkeypatch):
    walk = walk_on(any_app)
    walk.start()
    walk.to_resolution()
    walk.do(walk.director, "draft_resolution_disclosure", {"content": "决议内容", "notice_days": 7})
    before = snapshot(any_app)
    task = walk.task("review_resolution_disclosure")

    def broken_post(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(publicity, "post", broken_post)
    engine: Engine = any_app.extensions["cunwu"]
    with pytest.raises(RuntimeError):
        engine.complete_task("zhao", task["id"], {"decision": "approve"})
    assert snapshot(any_app) == before
    monkeypatch.undo()
    walk.review("review_resolution_disclosure")
    assert len(walk.board()) == 1


def test_a_stale_version_answers_409(any_app, monkeypatch):
    walk = walk_on(any_app)
    walk.start()
    original = Engine.sync

    def sync_after_someone_else(self, session, case, wf, deployed):
        session.execute(update(Case).where(Case.id == case.id).values(lock_version=Case.lock_version + 1)
                        .execution_options(synchronize_session=False))
        return original(self, session, case, wf, deployed)

    monkeypatch.setattr(Engine, "sync", sync_after_someone_else)
    task = walk.task("two_committees")
    r = walk.secretary.post(f"/tasks/{task['id']}/complete", json={"data": MEETING_OK["two_committees"]})
    assert r.status_code == 409
    monkeypatch.undo()
    assert walk.ready() == ["two_committees"]


def test_state_is_stored_without_the_spec(any_app):
    walk = walk_on(any_app)
    walk.start()
    engine: Engine = any_app.extensions["cunwu"]
    with engine.sessions() as s:
        state = s.scalar(select(Case.state))
    from engine.process.runtime import state_json

    plain = state_json(state)
    assert '"tasks"' in plain and '"spec"' not in plain and "村两委会议商议" not in plain
    assert len(state) < len(plain)


def test_a_changed_definition_is_a_new_version_and_running_cases_keep_theirs(tmp_path, clock, sqlite_template):
    from web import create_app

    procs = tmp_path / "processes"
    shutil.copytree(Path(__file__).resolve().parent.parent / "processes", procs)
    db = tmp_path / "db.sqlite3"
    shutil.copyfile(sqlite_template, db)
    config = {"TESTING": True, "SECRET_KEY": "t", "DATABASE_URL": f"sqlite:///{db}", "CUNWU_CLOCK": clock,
              "CUNWU_PROCESSES_DIR": str(procs)}
    app = create_app(config)
    runner = app.test_cli_runner()
    assert "未变" in runner.invoke(args=["init-db"]).output
    walk = walk_on(app)
    old_case = walk.start()
    assert old_case["version"] == 1
    bpmn = procs / "major-decision.bpmn"
    bpmn.write_text(bpmn.read_text(encoding="utf-8").replace("党员大会审议", "党员大会审议表决"), encoding="utf-8")
    result = runner.invoke(args=["init-db"])
    assert result.exit_code == 0 and "v2\t新部署" in result.output
    assert runner.invoke(args=["init-db"]).output.count("未变") >= 1
    new_case = walk_on(app).start()
    assert new_case["version"] == 2
    walk.meeting("two_committees", "two_committees")
    walk.review("review_two_committees")
    assert walk.task("party_members")["title"] == "党员大会审议"
    # ... and finishes under it (issue 10: running cases of old definitions keep their version).
    walk.meeting("party_members", "party_members")
    walk.review("review_party_members")
    walk.meeting("representatives", "representatives")
    walk.review("review_resolution")
    walk.disclose("resolution")
    clock.advance(days=8)
    app.extensions["cunwu"].run_timers()
    walk.do(walk.director, "implement", {"summary": "完工", "amount_spent": "170000"})
    walk.review("review_implementation")
    walk.disclose("result")
    clock.advance(days=8)
    app.extensions["cunwu"].run_timers()
    done = walk.refresh()
    assert done["status"] == "completed" and done["version"] == 1
    assert any("党员大会审议" in (h.get("summary") or "") or h.get("body") == "party_members" for h in done["history"])
    app.extensions["cunwu_db"].dispose()


@pytest.mark.parametrize("backend", ["postgresql"])
def test_postgres_schema_is_migrated(backend, pg_app):
    engine: Engine = pg_app.extensions["cunwu"]
    with engine.sessions() as s:
        assert s.scalar(text("select version_num from alembic_version")) >= "0002"
