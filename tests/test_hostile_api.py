"""Schemathesis over /api/v1/openapi.json (WSGI, no sockets): valid and invalid requests for every
operation, logged in as the village secretary; no answer may be a server error.

Quick setting (CI): a few examples per operation. ``CUNWU_FULL=1``: many more."""

from __future__ import annotations

import os

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error

from tests.conftest import ApiClient
from tests.flows import Walk

FULL = os.environ.get("CUNWU_FULL") == "1"
EXAMPLES = 150 if FULL else 12


@pytest.fixture
def api_app(app):
    """The demo village with a case on the board (so ids in the schema can exist)."""
    walk = Walk(lambda u: ApiClient(app, u))
    walk.start()
    walk.to_resolution()
    walk.disclose("resolution")
    app.config["PROPAGATE_EXCEPTIONS"] = False  # a bug must show as the 500 a client would get
    app.extensions["cunwu_objection_limiter"].limit = 10**6
    app.extensions["cunwu_login_throttle"].limit = 10**6
    app.extensions["cunwu_login_throttle"].address_limit = 10**6
    app.token = ApiClient(app, "zhang").headers["Authorization"]
    return app


def _schema():
    """The OpenAPI document of an app (reading it touches no database)."""
    import tempfile

    from web import create_app

    folder = tempfile.mkdtemp(prefix="cunwu-openapi-")
    return schemathesis.openapi.from_wsgi("/api/v1/openapi.json", create_app({
        "TESTING": True, "SECRET_KEY": "test", "DATABASE_URL": f"sqlite:///{folder}/unused.sqlite3"}))


schema = _schema()


@schema.parametrize()
@settings(max_examples=EXAMPLES, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much,
                                 HealthCheck.function_scoped_fixture, HealthCheck.data_too_large])
def test_no_input_makes_the_server_fail(case, api_app):
    from werkzeug.test import Client

    response = case.call_and_validate(session=Client(api_app), headers={"Authorization": api_app.token},
                                      checks=[not_a_server_error])
    if response.status_code >= 400 and response.headers.get("Content-Type", "").startswith("application/json"):
        body = response.json()
        assert set(body) == {"error"} and {"code", "message", "fields"} <= set(body["error"]), body
