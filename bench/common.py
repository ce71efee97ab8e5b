"""Shared pieces of the benchmarks and the scale tests: databases, apps, clocks, clients, stats."""

from __future__ import annotations

import http.client
import json
import os
import statistics
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import create_engine, text

ROOT = Path(__file__).resolve().parent.parent
DEMO = ROOT / "web" / "demo" / "demo.yaml"
PASSWORD = "demo123"


def pg_url() -> str:
    return os.environ.get("CUNWU_BENCH_PG_URL") or os.environ.get(
        "CUNWU_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def pg_available(url: str | None = None) -> bool:
    try:
        eng = create_engine(url or pg_url())
        with eng.connect() as conn:
            conn.execute(text("select 1"))
        eng.dispose()
        return True
    except Exception:  # noqa: BLE001 - any failure means "no PostgreSQL here"
        return False


def fresh_schema(base: str | None = None, prefix: str = "b") -> tuple[str, str]:
    """A private schema in the PostgreSQL database; returns ``(url using it, schema)``."""
    base = base or pg_url()
    schema = f"{prefix}_{uuid.uuid4().hex[:12]}"
    admin = create_engine(base)
    try:
        with admin.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    finally:
        admin.dispose()
    sep = "&" if "?" in base else "?"
    return f"{base}{sep}options=-csearch_path%3D{schema}", schema


def drop_schema(schema: str, base: str | None = None) -> None:
    admin = create_engine(base or pg_url())
    try:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
    finally:
        admin.dispose()


class Clock:
    """A clock that moves only when told to."""

    def __init__(self, start: datetime | None = None):
        self.value = start or datetime(2026, 3, 2, 8, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.value

    def advance(self, **kw) -> datetime:
        self.value += timedelta(**kw)
        return self.value


def make_app(url: str, clock=None, *, init: bool = True, demo: bool = True, **config):
    """A cunwu app on ``url``; with ``init`` the schema is created, the processes deployed and the
    demo village imported."""
    from web import create_app
    from web.cli import import_file, init_db

    cfg = {"TESTING": True, "SECRET_KEY": "bench", "DATABASE_URL": url, "CUNWU_LOGIN_LIMIT": 10**6, "CUNWU_LOGIN_ADDRESS_LIMIT": 10**6, **config}
    if clock is not None:
        cfg["CUNWU_CLOCK"] = clock
    app = create_app(cfg)
    if init:
        with app.app_context():
            init_db()
            if demo:
                import_file(DEMO)
    return app


# -- clients --------------------------------------------------------------------------------
class Response:
    def __init__(self, status: int, body, elapsed: float):
        self.status = status
        self.body = body
        self.elapsed = elapsed

    def json(self):
        return self.body


class TestClientTransport:
    """Requests through the Flask test client (WSGI, no sockets)."""

    def __init__(self, app):
        self.client = app.test_client()

    def request(self, method: str, path: str, body=None, token: str | None = None) -> Response:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        t0 = time.perf_counter()
        r = self.client.open(path, method=method, json=body, headers=headers)
        elapsed = time.perf_counter() - t0
        return Response(r.status_code, r.get_json(silent=True), elapsed)


class HttpTransport:
    """Real HTTP over loopback with http.client, one kept-alive connection per transport."""

    def __init__(self, host: str, port: int, timeout: float = 30.0):
        self.host, self.port, self.timeout = host, port, timeout
        self.conn: http.client.HTTPConnection | None = None

    def _connection(self) -> http.client.HTTPConnection:
        if self.conn is None:
            self.conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
        return self.conn

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None

    def request(self, method: str, path: str, body=None, token: str | None = None) -> Response:
        headers = {"Accept": "application/json"}
        payload = None
        if body is not None:
            payload = json.dumps(body, ensure_ascii=False).encode("utf-8")
            headers["Content-Type"] = "application/json"
        if token:
            headers["Authorization"] = f"Bearer {token}"
        for attempt in (0, 1):  # a kept-alive connection the server closed: reconnect once
            conn = self._connection()
            t0 = time.perf_counter()
            try:
                conn.request(method, path, body=payload, headers=headers)
                r = conn.getresponse()
                raw = r.read()
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
                self.close()
                if attempt:
                    raise
                continue
            elapsed = time.perf_counter() - t0
            if r.getheader("Connection", "").lower() == "close":
                self.close()
            try:
                data = json.loads(raw) if raw else None
            except ValueError:
                data = raw
            return Response(r.status, data, elapsed)
        raise RuntimeError("unreachable")


def login(transport, username: str, password: str = PASSWORD) -> str:
    r = transport.request("POST", "/api/v1/auth/token", {"username": username, "password": password})
    if r.status != 200:
        raise RuntimeError(f"login {username}: {r.status} {r.body}")
    return r.body["token"]


# -- statistics -----------------------------------------------------------------------------
def median(values) -> float:
    return statistics.median(values) if values else float("nan")


def percentile(values, q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    k = (len(ordered) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def timed(fn, repeat: int) -> list[float]:
    out = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return out


# -- a real server ----------------------------------------------------------------------------
def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class GunicornServer:
    """``gunicorn -w N web.wsgi:app`` on a loopback port, in its own process group (so the
    master and its workers can be killed together, e.g. with SIGKILL in a crash test)."""

    def __init__(self, database_url: str, workers: int = 2, port: int | None = None, log: Path | None = None,
                 threads: int = 1, extra_env: dict | None = None):
        self.database_url = database_url
        self.workers = workers
        self.threads = threads
        self.port = port or free_port()
        self.log = log
        self.extra_env = extra_env or {}
        self.proc = None
        self._log_handle = None

    @property
    def base(self) -> tuple[str, int]:
        return "127.0.0.1", self.port

    def start(self, timeout: float = 60.0) -> GunicornServer:
        import shutil
        import subprocess
        import sys

        gunicorn = str(Path(sys.executable).with_name("gunicorn"))
        if not Path(gunicorn).exists():
            gunicorn = shutil.which("gunicorn") or "gunicorn"
        env = {**os.environ, "CUNWU_DATABASE_URL": self.database_url,
               "CUNWU_SECRET_KEY": os.environ.get("CUNWU_SECRET_KEY", "bench-secret"), **self.extra_env}
        cmd = [gunicorn, "--no-control-socket", "-w", str(self.workers), "-b", f"127.0.0.1:{self.port}",
               "--graceful-timeout", "2", "--timeout", "60"]
        if self.threads > 1:
            cmd += ["--threads", str(self.threads)]
        cmd.append("web.wsgi:app")
        self._log_handle = open(self.log, "ab") if self.log else subprocess.DEVNULL  # noqa: SIM115
        self.proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=self._log_handle, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"gunicorn exited with {self.proc.returncode}")
            try:
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
                conn.request("GET", "/api/v1/villages/demo-001/board/verify")
                conn.getresponse().read()
                conn.close()
                if self._all_workers_up():
                    return self
            except OSError:
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError("gunicorn did not start in time")

    def _all_workers_up(self) -> bool:
        import subprocess

        out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(self.proc.pid)], capture_output=True, text=True)
        return len(out.stdout.split()) >= self.workers

    def cpu_seconds(self) -> float:
        """CPU time (user + system) used so far by the master and its live workers."""
        import subprocess

        if self.proc is None:
            return 0.0
        out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(self.proc.pid)], capture_output=True, text=True)
        total = 0.0
        ticks = os.sysconf("SC_CLK_TCK")
        for pid in [self.proc.pid, *map(int, out.stdout.split())]:
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
                total += (int(fields[11]) + int(fields[12])) / ticks
            except (OSError, IndexError, ValueError):
                pass
        return total

    def kill(self, sig: int = 9) -> None:
        """Send ``sig`` to the master and all its workers at once (default SIGKILL)."""
        import signal

        if self.proc is not None and self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.Signals(sig))
            except ProcessLookupError:
                pass
            self.proc.wait(30)
        self._close_log()

    def stop(self) -> None:
        import signal
        import subprocess

        if self.proc is not None and self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(15)
            except ProcessLookupError:
                pass
        self._close_log()

    def _close_log(self) -> None:
        if self._log_handle not in (None,) and hasattr(self._log_handle, "close"):
            self._log_handle.close()
        self._log_handle = None

    def __enter__(self) -> GunicornServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
