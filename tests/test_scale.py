"""Scale-out of the timer workers: several ``cunwu worker`` processes on one PostgreSQL database
fire every due timer exactly once; on SQLite several workers take turns safely.

Quick setting (CI): 1 000 due cases on PostgreSQL. ``CUNWU_FULL=1``: 10 000.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from sqlalchemy import text

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.seed import clone_cases  # noqa: E402
from tests.flows import Walk  # noqa: E402

FULL = os.environ.get("CUNWU_FULL") == "1"
CUNWU = str(Path(sys.executable).with_name("cunwu"))


def _case_waiting_for_its_notice(api) -> int:
    walk = Walk(api)
    walk.start()
    walk.to_resolution()
    walk.disclose("resolution")
    assert [t["name"] for t in walk.refresh()["tasks"]] == ["wait_resolution"]
    return walk.case["id"]


def _timer_counts(db) -> tuple[dict[int, int], int, int]:
    with db.connect() as conn:
        per_case = dict(conn.execute(text(
            "select case_id, count(*) from audit_event where action = 'timer' group by case_id")).all())
        implement = conn.scalar(text("select count(*) from task where name = 'implement' and state = 'ready'"))
        waiting = conn.scalar(text("select count(*) from task where state = 'waiting'"))
    return per_case, implement, waiting


@pytest.mark.pg
@pytest.mark.slow
def test_four_worker_processes_fire_each_due_timer_exactly_once(pg_app):
    from tests.conftest import ApiClient

    total = 10_000 if FULL else 1_000
    db = pg_app.extensions["cunwu_db"]
    source = _case_waiting_for_its_notice(lambda u: ApiClient(pg_app, u))
    ids = [source, *clone_cases(db, source, total - 1)]
    assert len(ids) == total
    # The workers run on the real clock (late 2026): the notices (posted 2026-03) are long due.
    env = {**os.environ, "CUNWU_DATABASE_URL": pg_app.config["DATABASE_URL"], "CUNWU_SECRET_KEY": "scale-test"}
    workers = [subprocess.Popen([CUNWU, "worker", "--once"], env=env, cwd=ROOT, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True) for _ in range(4)]
    outputs = [w.communicate(timeout=600) for w in workers]
    for worker, (_out, err) in zip(workers, outputs, strict=True):
        assert worker.returncode == 0, err[-3000:]
        assert "失败" not in err, err[-3000:]
    per_case, implement, waiting = _timer_counts(db)
    assert len(per_case) == total, f"missed {total - len(per_case)} cases"
    assert set(per_case) == set(ids)
    doubled = {c: n for c, n in per_case.items() if n != 1}
    assert not doubled, f"fired more than once: {list(doubled.items())[:10]}"
    assert implement == total and waiting == 0
    shares = [int(out.split("已处理 ")[1].split(" ")[0]) if "已处理" in out else 0 for out, _ in outputs]
    with db.connect() as conn:  # the real clock is past the quarters' ends: each village's 财务公开 opened too
        quarterly = conn.scalar(text("select count(*) from case_instance c join process_definition d "
                                     "on c.definition_id = d.id where d.key = 'finance-disclosure'"))
    assert quarterly <= 2 * 4  # two villages, at most four quarters
    assert sum(shares) == total + quarterly
    assert sum(1 for s in shares if s) >= 2, f"the work was not shared: {shares}"
    with db.connect() as conn:
        still_due = conn.scalar(text("select count(*) from case_instance where status = 'running' "
                                     "and next_timer_at is not null"))
    assert still_due == 0


def test_workers_on_sqlite_take_turns_and_fire_each_timer_once(app, api, clock, tmp_path):
    """Four workers (threads, each with its own app and engine) on one SQLite file."""
    from web import create_app

    source = _case_waiting_for_its_notice(api)
    db = app.extensions["cunwu_db"]
    ids = [source, *clone_cases(db, source, 119)]
    clock.advance(days=8)
    apps = [create_app({"TESTING": True, "SECRET_KEY": "t", "DATABASE_URL": app.config["DATABASE_URL"],
                        "CUNWU_CLOCK": clock}) for _ in range(4)]
    fired: list[int] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(len(apps))

    def work(worker_app):
        try:
            barrier.wait()
            fired.append(worker_app.extensions["cunwu"].run_timers(batch=10))
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(a,)) for a in apps]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    for a in apps:
        a.extensions["cunwu_db"].dispose()
    assert not errors, errors
    per_case, implement, waiting = _timer_counts(db)
    assert sorted(per_case) == sorted(ids)
    assert set(per_case.values()) == {1}
    assert sum(fired) == len(ids) and implement == len(ids) and waiting == 0


def test_a_broken_case_does_not_stop_the_sweep(app, api, clock, caplog):
    source = _case_waiting_for_its_notice(api)
    db = app.extensions["cunwu_db"]
    broken, *others = clone_cases(db, source, 5)
    with db.begin() as conn:
        conn.execute(text("update case_instance set state = 'z1:not-a-state' where id = :i"), {"i": broken})
    clock.advance(days=8)
    fired = app.extensions["cunwu"].run_timers(batch=2)
    assert fired == 5  # the source and the four good clones
    per_case, _, _ = _timer_counts(db)
    assert broken not in per_case and set(per_case) == {source, *others}
    assert "定时事件处理失败" in caplog.text
    with db.connect() as conn:  # the broken case stays due, for a person to look at
        assert conn.scalar(text("select next_timer_at is not null from case_instance where id = :i"), {"i": broken})


def test_cunwu_serve_runs_gunicorn_with_several_workers(tmp_path):
    """``cunwu serve`` execs gunicorn with the requested workers: start it for real on a free port,
    ask it for the API description, count its worker processes."""
    import socket
    import time
    import urllib.request

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "CUNWU_DATABASE_URL": f"sqlite:///{tmp_path / 'serve.sqlite3'}",
           "CUNWU_SECRET_KEY": "serve-test"}
    subprocess.run([CUNWU, "init-db"], env=env, cwd=ROOT, check=True, capture_output=True, timeout=120)
    server = subprocess.Popen([CUNWU, "serve", "--port", str(port), "--workers", "3"], env=env, cwd=ROOT,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        body = None
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/openapi.json", timeout=5) as r:
                    body = r.status
                break
            except urllib.error.HTTPError as exc:
                body = exc.code
                break
            except OSError:
                time.sleep(0.3)
        assert body == 200, "gunicorn did not answer"
        children = subprocess.run(["ps", "-o", "pid=", "--ppid", str(server.pid)], capture_output=True,
                                  text=True).stdout.split()
        assert len(children) == 3, f"expected 3 gunicorn workers, found {children}"
    finally:
        os.killpg(server.pid, 15)
        server.wait(30)
