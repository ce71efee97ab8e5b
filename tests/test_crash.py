"""Crash safety: kill the gunicorn server (master and workers, SIGKILL) in the middle of task
completions, start it again, and prove with ``cunwu doctor`` that every step landed whole or not
at all, and that every completion the server acknowledged (200) is stored.

Quick setting (CI): 5 kill/restart rounds. ``CUNWU_FULL=1``: 20 rounds.
"""

from __future__ import annotations

import http.client
import os
import random
import sys
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import text

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.common import GunicornServer, HttpTransport  # noqa: E402
from bench.walk import Tokens, complete, ready_tasks, start_case  # noqa: E402
from engine.services.doctor import check  # noqa: E402

FULL = os.environ.get("CUNWU_FULL") == "1"
ROUNDS = 20 if FULL else 5
CLIENTS = 4


class Client(threading.Thread):
    """Walks its own cases through completions as fast as the server answers, until told to stop
    (or the server is gone); starts a new case whenever its current one waits for a notice."""

    def __init__(self, base, tokens: dict, stop: threading.Event, acknowledged: list, case_id: int | None):
        super().__init__(daemon=True)
        self.transport = HttpTransport(*base, timeout=10)
        self.tokens = Tokens(self.transport)
        self.tokens.tokens.update(tokens)
        self.stop = stop
        self.acknowledged = acknowledged
        self.case_id = case_id
        self.requests = 0
        self.in_flight: str | None = None  # the completion being sent when the server died

    def run(self):
        try:
            while not self.stop.is_set():
                case = None
                if self.case_id is not None:
                    r = self.transport.request("GET", f"/api/v1/instances/{self.case_id}", None, self.tokens["zhang"])
                    case = r.body if r.status == 200 else None
                if case is None or not ready_tasks(case):
                    case = start_case(self.transport, self.tokens, title=f"崩溃测试{random.randint(1, 10**6)}")
                    self.case_id = case["id"]
                    self.acknowledged.append(("start", case["id"]))
                    continue
                task = ready_tasks(case)[0]
                self.in_flight = task["id"]
                r = complete(self.transport, self.tokens, task)
                self.in_flight = None
                self.requests += 1
                if r.status == 200:
                    self.acknowledged.append(("complete", task["id"]))
                elif r.status != 409:
                    self.acknowledged.append(("unexpected", r.status, r.body))
        except (OSError, RuntimeError, ValueError, http.client.HTTPException):
            pass  # the server was killed under us (even mid-answer): that is the point
        finally:
            self.transport.close()


@pytest.mark.pg
@pytest.mark.slow
def test_sigkill_in_the_middle_of_completions_leaves_every_case_whole(pg_app, tmp_path):
    url = pg_app.config["DATABASE_URL"]
    engine = pg_app.extensions["cunwu"]
    db = pg_app.extensions["cunwu_db"]
    rng = random.Random(20260302)
    acknowledged: list = []
    tokens: dict = {}
    case_ids: list[int | None] = [None] * CLIENTS
    total_requests = 0
    cut: list[str] = []  # completions whose answer never came: landed whole or not at all
    log = tmp_path / "gunicorn.log"
    for round_ in range(ROUNDS):
        server = GunicornServer(url, workers=2, log=log).start()
        try:
            if not tokens:
                login = Tokens(HttpTransport(*server.base))
                tokens = {u: login[u] for u in ("zhang", "wang", "zhao")}
            stop = threading.Event()
            clients = [Client(server.base, tokens, stop, acknowledged, case_ids[i]) for i in range(CLIENTS)]
            for c in clients:
                c.start()
            before = len(acknowledged)
            deadline = time.monotonic() + 20
            while len(acknowledged) < before + 6 and time.monotonic() < deadline:
                time.sleep(0.05)  # let the load get going ...
            time.sleep(rng.uniform(0.0, 0.5))  # ... then pull the plug at a random moment
            server.kill()
        finally:
            server.stop()
        stop.set()
        for i, c in enumerate(clients):
            c.join(30)
            case_ids[i] = c.case_id
            total_requests += c.requests
            if c.in_flight:
                cut.append(c.in_flight)
        report = check(engine)
        assert report.ok, f"round {round_ + 1}: " + "\n".join(report.problems[:20])
    print(f"crash test: {ROUNDS} rounds, {total_requests} completions answered, "
          f"{sum(1 for a in acknowledged if a[0] == 'complete')} acknowledged, {len(cut)} cut off by the kill")
    unexpected = [a for a in acknowledged if a[0] == "unexpected"]
    assert not unexpected, unexpected[:5]
    done = [a[1] for a in acknowledged if a[0] == "complete"]
    assert total_requests >= ROUNDS and len(done) >= ROUNDS, "the load never got going"
    with db.connect() as conn:
        stored = {r[0] for r in conn.execute(text("select id from task where state = 'completed'"))}
        started = {r[0] for r in conn.execute(text("select id from case_instance"))}
    lost = [t for t in done if t not in stored]
    assert not lost, f"acknowledged completions that are not stored: {lost[:5]}"
    assert {a[1] for a in acknowledged if a[0] == "start"} <= started
    # And the command line agrees.
    result = pg_app.test_cli_runner().invoke(args=["doctor"])
    assert result.exit_code == 0, result.output
    assert "一致" in result.output
    result = pg_app.test_cli_runner().invoke(args=["board", "verify"])
    assert result.exit_code == 0, result.output
