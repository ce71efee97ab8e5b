"""Login limits, sessions and the key are shared by every gunicorn worker (issue 11, A2-b):
a real ``cunwu serve --workers 2`` on PostgreSQL, with no key configured, attacked in parallel."""

from __future__ import annotations

import http.cookiejar
import json
import os
import socket
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CUNWU = str(Path(os.environ.get("VIRTUAL_ENV", ROOT / ".venv")) / "bin" / "cunwu")


@pytest.fixture
def served(pg_app, tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if not k.startswith("CUNWU_")}
    env.update(CUNWU_DATABASE_URL=pg_app.config["DATABASE_URL"], CUNWU_INSTANCE_PATH=str(tmp_path / "inst"),
               PYTHONPATH=str(ROOT))  # this checkout's code, whatever the venv was installed from
    server = subprocess.Popen([CUNWU, "serve", "--port", str(port), "--workers", "2"], env=env, cwd=ROOT,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                urllib.request.urlopen(f"{base}/api/v1/openapi.json", timeout=5).close()
                break
            except OSError:
                time.sleep(0.3)
        else:
            pytest.fail("gunicorn did not answer")
        workers = subprocess.run(["ps", "-o", "pid=", "--ppid", str(server.pid)], capture_output=True,
                                 text=True).stdout.split()
        assert len(workers) == 2, workers
        yield base, tmp_path / "inst"
    finally:
        os.killpg(server.pid, 15)
        out = server.communicate(timeout=30)[0]
        assert "Traceback" not in out, out[-2000:]


def _token(base, username, password):
    request = urllib.request.Request(f"{base}/api/v1/auth/token", method="POST",
                                     data=json.dumps({"username": username, "password": password}).encode(),
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=60) as r:
            return r.status
    except urllib.error.HTTPError as exc:
        return exc.code


def test_parallel_guesses_against_two_workers_get_five_checks(served):
    base, instance = served
    with ThreadPoolExecutor(max_workers=20) as pool:
        statuses = list(pool.map(lambda i: _token(base, "zhang", f"guess-{i}"), range(40)))
    assert statuses.count(401) == 5, statuses  # exactly the limit, not 5 per worker
    assert statuses.count(429) == 35, statuses
    assert _token(base, "zhang", "demo123") == 429  # the right password waits too
    assert _token(base, "wang", "demo123") == 200
    key = (instance / "secret_key").read_text().strip()
    assert len(key) >= 32


def test_a_page_session_holds_across_workers_and_logout_ends_it_everywhere(served):
    base, _ = served
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):
            return None

    strict = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar), NoRedirect())
    page = opener.open(f"{base}/login").read().decode()
    csrf = page.split('name="csrf_token" value="')[1].split('"')[0]
    form = urllib.parse.urlencode({"username": "zhao", "password": "demo123", "csrf_token": csrf}).encode()
    opener.open(f"{base}/login", data=form)
    cookie = next(c.value for c in jar if c.name == "session")
    for _ in range(6):  # both workers know the key and the session
        assert strict.open(f"{base}/supervision").status == 200
    desk = opener.open(f"{base}/supervision").read().decode()
    csrf = desk.split('name="csrf_token" value="')[1].split('"')[0]
    opener.open(f"{base}/logout", data=urllib.parse.urlencode({"csrf_token": csrf}).encode())
    for _ in range(4):
        request = urllib.request.Request(f"{base}/supervision", headers={"Cookie": f"session={cookie}"})
        with pytest.raises(urllib.error.HTTPError) as info:
            urllib.request.build_opener(NoRedirect()).open(request)
        assert info.value.code == 302 and "/login" in info.value.headers["Location"]
