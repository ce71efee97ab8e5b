"""The README's curl walk-through, run against a real `cunwu demo` server process."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_walkthrough_completes_a_case_with_two_entries(tmp_path):
    port = free_port()
    env = {**os.environ, "CUNWU_INSTANCE_PATH": str(tmp_path), "CUNWU_DATABASE_URL": f"sqlite:///{tmp_path}/demo.db"}
    cunwu = Path(sys.executable).with_name("cunwu")
    server = subprocess.Popen([str(cunwu), "demo", "--port", str(port)], cwd=ROOT, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.2)
        else:
            pytest.fail("demo server did not start")
        result = subprocess.run(["bash", str(ROOT / "docs" / "walkthrough.sh")], capture_output=True, text=True,
                                env={**env, "API": f"http://127.0.0.1:{port}/api/v1"}, timeout=120)
        assert result.returncode == 0, result.stdout + result.stderr
        out = result.stdout
        assert "status: completed" in out
        assert "verify: ok=True" in out
        line = next(x for x in out.splitlines() if x.startswith("board entries of this case: "))
        assert line.endswith("硬化村东道路（决议公开） | 硬化村东道路（实施结果公开）"), line
    finally:
        server.terminate()
        server.wait(timeout=10)


def test_demo_seed_gives_cases_at_three_stages(app):
    from web.demo_seed import seed

    engine = app.extensions["cunwu"]
    assert seed(engine) == 3
    assert seed(engine) == 0, "seeding twice adds nothing"
    statuses = sorted(c["status"] for c in engine.list_cases("zhang"))
    assert statuses == ["completed", "running", "running"]
    board = engine.board("demo-001")
    assert [e["kind"] for e in board] == ["resolution", "result", "resolution"]
    assert board[0]["in_notice"] is True and board[1]["in_notice"] is False
    assert engine.verify_board("demo-001")["ok"] is True
    assert [t["name"] for t in engine.list_tasks("zhang")] == ["party_members"]


def test_the_demo_shows_its_date_and_resets(tmp_path, monkeypatch):
    """Issue 15: the demo says which day it believes it is, and `cunwu demo --reset` starts afresh."""
    from datetime import timedelta

    from web import create_app
    from web.cli import import_file, init_db, reset_demo
    from web.demo_clock import install

    monkeypatch.setenv("CUNWU_INSTANCE_PATH", str(tmp_path))
    monkeypatch.delenv("CUNWU_DATABASE_URL", raising=False)
    app = create_app({"TESTING": True, "SECRET_KEY": "t", "WTF_CSRF_ENABLED": False})  # the demo's own database
    with app.app_context():
        demo_clock = install(app)
        init_db()
        import_file(ROOT / "web" / "demo" / "demo.yaml")
        demo_clock.advance(timedelta(days=9))
    page = app.test_client().get("/").get_data(as_text=True)
    assert "演示日期" in page and "演示时钟已拨快9天" in page
    (tmp_path / "attachments").mkdir()
    with app.app_context():
        reset_demo()
    assert not (tmp_path / "cunwu.sqlite3").exists() and not (tmp_path / "demo-clock.json").exists()
    assert not (tmp_path / "attachments").exists()


@pytest.mark.parametrize("hour, minute", [(16, 30), (23, 59)])
def test_demo_seed_works_in_the_beijing_small_hours(tmp_path, hour, minute):
    """From 16:00 UTC on it is already the next day in Beijing: the seeded meetings are dated by the
    Beijing day, never the day before the case began (`cunwu demo` failed at 00:05 北京时间)."""
    from datetime import UTC, datetime

    from tests.conftest import TestClock, _make_app
    from web.demo_seed import seed

    app = _make_app(f"sqlite:///{tmp_path / 'demo.sqlite3'}", TestClock(datetime(2026, 3, 2, hour, minute, tzinfo=UTC)))
    engine = app.extensions["cunwu"]
    assert seed(engine) == 3
    assert sorted(c["status"] for c in engine.list_cases("zhang")) == ["completed", "running", "running"]
