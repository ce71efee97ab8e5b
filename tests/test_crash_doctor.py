"""``cunwu doctor`` finds every kind of half-written or tampered record, in Chinese, exit 1."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text

from engine.services.doctor import check
from tests.conftest import ApiClient, TestClock, _sqlite_app
from tests.flows import Walk


def _db_file(app) -> Path:
    return Path(app.config["DATABASE_URL"].removeprefix("sqlite:///"))


@pytest.fixture(scope="module")
def pristine(tmp_path_factory, sqlite_template) -> Path:
    """A case with a resolution on the board, an objection answered, waiting for its notice
    (walked once per module; each test gets a copy)."""
    app = _sqlite_app(tmp_path_factory.mktemp("doctor"), sqlite_template, TestClock())
    walk = Walk(lambda u: ApiClient(app, u))
    walk.start()
    walk.to_resolution()
    walk.disclose("resolution")
    entry = walk.board()[0]["id"]
    r = walk.public.post(f"/board/{entry}/objections", json={"name": "村民甲", "contact": "", "text": "预算偏高"})
    assert r.status_code == 201
    walk.do(walk.supervisor, "reply_resolution_objection", {"decision": "dismiss", "reply": "预算经评审"})
    assert [t["name"] for t in walk.refresh()["tasks"]] == ["wait_resolution"]
    app.extensions["cunwu_db"].dispose()
    return _db_file(app)


@pytest.fixture
def walked(pristine, tmp_path):
    app = _sqlite_app(tmp_path, pristine, TestClock())
    yield app, 1, pristine
    app.extensions["cunwu_db"].dispose()


def test_a_consistent_database_passes(walked):
    app, _, _ = walked
    result = app.test_cli_runner().invoke(args=["doctor"])
    assert result.exit_code == 0, result.output
    assert "一致：共检查1个事项、2个村的公开栏" in result.output


TAMPERS = {
    "waiting timer row lost": ("update task set state = 'cancelled' where state = 'waiting'",
                               "在任务表中没有记为等待中的定时"),
    "completion not audited": ("delete from audit_event where id = (select min(id) from audit_event "
                               "where action = 'complete')", "在审计记录中没有办理记录"),
    "completion audited twice": ("insert into audit_event (case_id, village_id, actor_id, actor_name, action, "
                                 "task_id, summary, data, at) select case_id, village_id, actor_id, actor_name, "
                                 "action, task_id, summary, data, at from audit_event where action = 'complete' "
                                 "order by id limit 1", "被记录了2次"),
    "status without an end event": ("update case_instance set status = 'completed'", "但流程并未到达结束事件"),
    "timer moved": ("update case_instance set next_timer_at = datetime(next_timer_at, '+1 day')", "下次定时"),
    "timer cleared": ("update case_instance set next_timer_at = null", "下次定时（无）"),
    "notice edited": ("update board_entry set content = content || '（已改）' where kind = 'resolution'",
                      "公开栏哈希链已断"),
    "post not audited": ("delete from audit_event where action = 'post'", "没有张榜记录"),
    "reply entry lost": ("update task set form = 'review' where form = 'objection_reply'", "异议答复"),
    "completed task reopened": ("update task set state = 'ready' where name = 'review_resolution'",
                                "在流程中并非待办"),
    "phantom task": ("insert into task (id, case_id, village_id, name, title, role, extra_roles, form, state, "
                     "created_at) values ('00000000-0000-4000-8000-000000000000', 1, 1, 'implement', '组织实施', "
                     "'village_director', '', 'implementation', 'ready', '2026-03-02 08:00:00')",
                     "任务表中的待办任务“组织实施”"),
    "state unreadable": ("update case_instance set state = 'z1:broken'", "流程状态无法读取"),
    "no start record": ("delete from audit_event where action = 'start'", "发起记录有0条"),
}


@pytest.mark.parametrize("name", list(TAMPERS))
def test_doctor_names_the_problem(walked, name):
    app, case_id, pristine = walked
    sql, expected = TAMPERS[name]
    db = app.extensions["cunwu_db"]
    with db.begin() as conn:
        conn.execute(text(sql))
    report = check(app.extensions["cunwu"])
    assert not report.ok
    assert any(expected in p for p in report.problems), report.problems
    result = app.test_cli_runner().invoke(args=["doctor"])
    assert result.exit_code == 1
    assert expected in result.output and "发现" in result.output
    assert "Traceback" not in result.output


def test_the_seeded_demo_is_consistent(app):
    """Every kind of case the demo seeds (items started by cadres, leads filed by reporters,
    registers, the ledger) passes ``cunwu doctor``: a demo a county tries is never 'inconsistent'."""
    from web.demo_seed import seed

    seed(app.extensions["cunwu"])
    report = check(app.extensions["cunwu"])
    assert report.cases >= 5 and report.problems == []
    result = app.test_cli_runner().invoke(args=["doctor"])
    assert result.exit_code == 0, result.output
