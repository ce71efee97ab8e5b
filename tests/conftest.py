"""Fixtures: an app per test over a fresh database, a movable clock, logged-in API clients."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bench.common import drop_schema, fresh_schema
from web import create_app
from web.cli import import_file, init_db

PG_URL = os.environ.get("CUNWU_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
DEMO = Path(__file__).resolve().parent.parent / "web" / "demo" / "demo.yaml"


class TestClock:
    """A clock that only moves when a test moves it."""

    __test__ = False

    def __init__(self, start: datetime | None = None):
        self.value = start or datetime(2026, 3, 2, 8, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.value

    def advance(self, **kw) -> datetime:
        self.value = self.value + timedelta(**kw)
        return self.value


@pytest.fixture
def clock() -> TestClock:
    return TestClock()


def _make_app(url: str, clock: TestClock, **extra):
    app = create_app({"TESTING": True, "SECRET_KEY": "test", "DATABASE_URL": url, "CUNWU_CLOCK": clock,
                      "WTF_CSRF_ENABLED": False, **extra})
    with app.app_context():
        init_db()
        import_file(DEMO)
    return app


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory) -> Path:
    """A migrated SQLite database with the demo village, made once and copied per test
    (hashing the demo passwords with scrypt is the slow part)."""
    path = tmp_path_factory.mktemp("template") / "cunwu.sqlite3"
    app = _make_app(f"sqlite:///{path}", TestClock())
    app.extensions["cunwu_db"].dispose()
    return path


def _sqlite_app(tmp_path: Path, template: Path, clock: TestClock, **extra):
    import shutil

    target = tmp_path / "cunwu.sqlite3"
    shutil.copyfile(template, target)
    app = create_app({"TESTING": True, "SECRET_KEY": "test", "DATABASE_URL": f"sqlite:///{target}",
                      "CUNWU_CLOCK": clock, "WTF_CSRF_ENABLED": False,
                      "CUNWU_ATTACHMENTS_DIR": str(tmp_path / "attachments"), **extra})
    return app


@pytest.fixture
def app(tmp_path, clock, sqlite_template):
    app = _sqlite_app(tmp_path, sqlite_template, clock)
    yield app
    app.extensions["cunwu_db"].dispose()


def _fresh_pg_schema() -> tuple[str, str]:
    """A private schema in the test database; returns ``(URL that uses it, schema)``."""
    return fresh_schema(PG_URL, prefix="t")


def _drop_pg_schema(schema: str) -> None:
    drop_schema(schema, PG_URL)


@pytest.fixture
def pg_app(clock, tmp_path):
    url, schema = _fresh_pg_schema()
    app = _make_app(url, clock, CUNWU_ATTACHMENTS_DIR=str(tmp_path / "attachments"))
    yield app
    app.extensions["cunwu_db"].dispose()
    _drop_pg_schema(schema)


@pytest.fixture(params=["sqlite", "postgresql"])
def any_app(request):
    """The same test on the embedded SQLite and on the local PostgreSQL server."""
    return request.getfixturevalue("app" if request.param == "sqlite" else "pg_app")


class ApiClient:
    """A test client that logs in through the API and sends JSON with the bearer token."""

    def __init__(self, app, username: str | None):
        self.client = app.test_client()
        self.username = username
        self._headers = None

    @property
    def headers(self) -> dict:
        if self._headers is None:  # log in on first use: password checks are deliberately slow
            self._headers = {}
            if self.username:
                r = self.client.post("/api/v1/auth/token", json={"username": self.username, "password": "demo123"})
                assert r.status_code == 200, r.get_json()
                self._headers = {"Authorization": f"Bearer {r.get_json()['token']}"}
        return self._headers

    def get(self, path, **kw):
        return self.client.get(f"/api/v1{path}", headers=self.headers, **kw)

    def post(self, path, json=None, **kw):
        return self.client.post(f"/api/v1{path}", json=json, headers=self.headers, **kw)


@pytest.fixture
def api(app):
    def login(username: str | None = None) -> ApiClient:
        return ApiClient(app, username)

    return login
