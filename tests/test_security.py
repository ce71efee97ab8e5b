"""Security: the script sandbox, password hashing, login throttling, cookies and headers, the
objection rate limit, and who may see an objector's contact (and that every such read is audited)."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
from SpiffWorkflow.exceptions import SpiffWorkflowException
from SpiffWorkflow.spiff.parser.process import SpiffBpmnParser
from sqlalchemy import select, text

from engine.catalogue.catalog import parse_source
from engine.domain.errors import DefinitionError
from engine.process import runtime
from engine.process.scripting import RestrictedEnvironment
from engine.store.models import AuditEvent, User
from tests.conftest import ApiClient, _sqlite_app
from tests.flows import Walk

MARKER = Path("/tmp/cunwu-sandbox-escaped")

# -- the script sandbox -----------------------------------------------------------------------------
ESCAPES = {  # expression -> why it must fail
    "subclasses": '[c for c in ().__class__.__base__.__subclasses__() if c.__name__ == "catch_warnings"][0]()'
                  '._module.__builtins__["__import__"]("os").system("touch /tmp/cunwu-sandbox-escaped")',
    "import": '__import__("os").system("touch /tmp/cunwu-sandbox-escaped")',
    "format": '"{0.__class__.__base__.__subclasses__}".format(())',
    "format_map": '"{x.__class__}".format_map({"x": 1})',
    "generator frame": "(x for x in ()).gi_frame.f_back.f_globals",
    "open": 'open("/tmp/cunwu-sandbox-escaped", "w").write("x")',
    "getattr": 'getattr((), "__class__")',
    "eval": 'eval("1")',
    "globals": "globals()",
    "type": "type(())",
    "function globals": "more_than_half.__globals__",
    "traceback": "[e for e in ()][0].__traceback__",
}
SCRIPT_ESCAPES = {
    "import": 'import os\nos.system("touch /tmp/cunwu-sandbox-escaped")',
    "from import": 'from os import system\nsystem("touch /tmp/cunwu-sandbox-escaped")',
    "builtins": 'b = __builtins__\nb["__import__"]("os")',
    "exception frame": "try:\n    1 / 0\nexcept Exception as e:\n    f = e.__traceback__.tb_frame",
}


@pytest.fixture(autouse=True)
def _no_marker():
    MARKER.unlink(missing_ok=True)
    yield
    assert not MARKER.exists(), "a script escaped the sandbox"


@pytest.mark.parametrize("name", list(ESCAPES))
def test_expression_escapes_fail_directly(name):
    with pytest.raises((SyntaxError, NameError, NotImplementedError, AttributeError, TypeError)):
        RestrictedEnvironment().evaluate(ESCAPES[name], {"approve": 3})


@pytest.mark.parametrize("name", list(SCRIPT_ESCAPES))
def test_script_escapes_fail_directly(name):
    with pytest.raises((SyntaxError, ImportError, NameError)):
        RestrictedEnvironment().execute(SCRIPT_ESCAPES[name], {})


def test_what_conditions_may_do_still_works():
    env = RestrictedEnvironment()
    assert env.evaluate("more_than_half(approve, 7) and outcome != 'lapsed'", {"approve": 4, "outcome": "passed"})
    assert env.evaluate("sum([a, b]) >= max(a, b)", {"a": 1, "b": 2})
    ctx = {"votes": [1, 2]}
    env.execute("total = 0\nfor v in votes:\n    total += v\nlabel = f'{total}票'", ctx)
    assert ctx["total"] == 3 and ctx["label"] == "3票"


def _bpmn(condition: str = "", script: str = "") -> bytes:
    """A tiny item: 提议 (party secretary) → [script] → gateway(condition) → end."""
    from xml.sax.saxutils import escape

    script_task = (f'<bpmn:scriptTask id="calc" name="计算"><bpmn:script>{escape(script)}</bpmn:script>'
                   "</bpmn:scriptTask>") if script else ""
    after = "calc" if script else "gw"
    flows = [("f1", "start", "propose", ""), ("f2", "propose", after, "")]
    if script:
        flows.append(("f3", "calc", "gw", ""))
    flows += [("f_cond", "gw", "end_rejected", condition or "approve == 1"), ("f_default", "gw", "end_completed", "")]
    flow_xml = "".join(
        f'<bpmn:sequenceFlow id="{i}" sourceRef="{s}" targetRef="{t}">'
        + (f'<bpmn:conditionExpression xsi:type="bpmn:tFormalExpression">{escape(c)}</bpmn:conditionExpression>'
           if c else "") + "</bpmn:sequenceFlow>" for i, s, t, c in flows)
    nodes = ["start", "propose", *(["calc"] if script else []), "gw", "end_rejected", "end_completed"]
    refs = "".join(f"<bpmn:flowNodeRef>{n}</bpmn:flowNodeRef>" for n in nodes)
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
  xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core"
  xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" id="defs" targetNamespace="http://cunwu.example/escape">
  <bpmn:process id="escape-test" isExecutable="true">
    <bpmn:laneSet id="lanes"><bpmn:lane id="lane_ps" name="村党组织书记">{refs}</bpmn:lane></bpmn:laneSet>
    <bpmn:startEvent id="start" />
    <bpmn:userTask id="propose" name="村党组织提议"><bpmn:extensionElements><spiffworkflow:properties>
      <spiffworkflow:property name="form" value="proposal" /></spiffworkflow:properties></bpmn:extensionElements>
    </bpmn:userTask>
    {script_task}
    <bpmn:exclusiveGateway id="gw" default="f_default" />
    <bpmn:endEvent id="end_rejected" />
    <bpmn:endEvent id="end_completed" />
    {flow_xml}
  </bpmn:process>
</bpmn:definitions>""".encode()


def _spec(source: bytes):
    """Parse without the catalogue's static checks (they would refuse most of these files)."""
    from lxml import etree

    parser = SpiffBpmnParser()
    parser.add_bpmn_xml(etree.ElementTree(etree.fromstring(source)), filename="escape.bpmn")
    return parser.get_spec("escape-test"), parser.get_subprocess_specs("escape-test")


def _run_to_gateway(source: bytes, reload: bool):
    spec, subs = _spec(source)
    clock = lambda: datetime(2026, 3, 2, tzinfo=UTC)  # noqa: E731
    wf = runtime.new_workflow(spec, subs, {"case_title": "t", "village": "v"})
    runtime.run(wf, clock)
    if reload:  # the engine must be re-attached after every load
        wf = runtime.loads(runtime.dumps(wf), spec, subs)
    (task,) = runtime.open_tasks(wf)
    runtime.complete(wf, task.id, {"title": "x", "summary": "y", "approve": 1}, clock)


@pytest.mark.parametrize("reload", [False, True], ids=["fresh", "reloaded"])
@pytest.mark.parametrize("name", list(ESCAPES))
def test_escapes_as_gateway_conditions_fail_in_the_runtime(name, reload):
    with pytest.raises(SpiffWorkflowException):
        _run_to_gateway(_bpmn(condition=ESCAPES[name]), reload)


@pytest.mark.parametrize("reload", [False, True], ids=["fresh", "reloaded"])
@pytest.mark.parametrize("name", list(SCRIPT_ESCAPES))
def test_escapes_in_script_tasks_fail_in_the_runtime(name, reload):
    with pytest.raises(SpiffWorkflowException):
        _run_to_gateway(_bpmn(script=SCRIPT_ESCAPES[name]), reload)


def test_a_harmless_condition_runs(tmp_path):
    _run_to_gateway(_bpmn(condition="more_than_half(approve, 1)"), reload=True)


@pytest.mark.parametrize("name", ["subclasses", "import", "generator frame", "function globals"])
def test_the_catalogue_refuses_to_deploy_escapes(name):
    with pytest.raises(DefinitionError) as err:
        parse_source(_bpmn(condition=ESCAPES[name]), "escape.bpmn")
    assert all(re.match(r"escape\.bpmn:\d+: 条件表达式不能执行", p) for p in err.value.problems), err.value.problems


def _item_app(tmp_path, sqlite_template, clock, source: bytes):
    folder = tmp_path / "processes"
    folder.mkdir()
    (folder / "escape.bpmn").write_bytes(source)
    (folder / "catalogue.yaml").write_text(
        "items:\n  - {key: escape-test, file: escape.bpmn, name: 沙箱测试, category: A, starters: [party_secretary]}\n",
        encoding="utf-8")
    return _sqlite_app(tmp_path, sqlite_template, clock, CUNWU_PROCESSES_DIR=str(folder))


@pytest.mark.parametrize("condition,script", [
    (ESCAPES["open"], ""), (ESCAPES["format"], ""), (ESCAPES["getattr"], ""), ("approve == 1", SCRIPT_ESCAPES["import"]),
], ids=["open", "format", "getattr", "script-import"])
def test_escapes_through_the_whole_engine_answer_422_and_store_nothing(tmp_path, sqlite_template, clock,
                                                                       condition, script):
    app = _item_app(tmp_path, sqlite_template, clock, _bpmn(condition=condition, script=script))
    try:
        result = app.test_cli_runner().invoke(args=["init-db"])
        assert result.exit_code == 0, result.output
        r = ApiClient(app, "zhang").post("/instances", json={
            "process": "escape-test", "village": "demo-001", "title": "沙箱",
            "data": {"title": "沙箱", "summary": "试图逃逸"}})
        assert r.status_code == 422, r.get_json()
        assert "流程无法继续" in r.get_json()["error"]["message"]
        with app.extensions["cunwu_db"].connect() as conn:
            assert conn.scalar(text("select count(*) from case_instance")) == 0
    finally:
        app.extensions["cunwu_db"].dispose()


def test_init_db_refuses_an_item_with_a_compile_time_escape(tmp_path, sqlite_template, clock):
    app = _item_app(tmp_path, sqlite_template, clock, _bpmn(condition=ESCAPES["subclasses"]))
    try:
        result = app.test_cli_runner().invoke(args=["init-db"])
        assert result.exit_code == 1
        assert re.search(r"escape\.bpmn:\d+: 条件表达式不能执行", result.output)
    finally:
        app.extensions["cunwu_db"].dispose()


# -- passwords ------------------------------------------------------------------------------------
def test_passwords_are_hashed_with_scrypt(app):
    with app.extensions["cunwu"].sessions() as session:
        hashes = list(session.scalars(select(User.password_hash)))
    assert hashes and all(h.startswith("scrypt:") for h in hashes), hashes[:2]
    assert all("demo123" not in h for h in hashes)
    n = int(hashes[0].split(":")[1])
    assert n >= 2**15  # werkzeug's default work factor


# -- login throttling ------------------------------------------------------------------------------
@pytest.fixture
def wall(app):
    """The accounts' wall clock, movable (sessions and login windows run on real time, not on
    the engine's clock, so a demo clock moved forward logs nobody out)."""
    from datetime import UTC, datetime, timedelta

    now = [datetime.now(UTC)]
    app.extensions["cunwu"].accounts.now = lambda: now[0]

    def advance(**kw):
        now[0] += timedelta(**kw)
    return advance


def _token(client, username, password, ip="10.0.0.1"):
    return client.post("/api/v1/auth/token", json={"username": username, "password": password},
                       environ_base={"REMOTE_ADDR": ip})


def test_login_is_throttled_per_account(app, wall):
    """CONTRACT "Secrets, sessions and hostile input": at most 5 password checks per account
    per 15 minutes, then 429 with Retry-After, even for the right password and another address."""
    client = app.test_client()
    for _ in range(5):
        assert _token(client, "zhang", "wrong").status_code == 401
    r = _token(client, "zhang", "demo123")  # even the right password waits now
    assert r.status_code == 429
    body = r.get_json()
    assert body["error"]["code"] == "too_many_requests" and "登录失败次数过多" in body["error"]["message"]
    assert set(body["error"]) == {"code", "message", "fields"}
    assert 0 < int(r.headers["Retry-After"]) <= 900
    assert _token(client, "ZHANG ", "wrong").status_code == 429  # same account, however it is typed
    assert _token(client, "zhang", "demo123", ip="10.0.0.2").status_code == 429  # per account, any address
    assert _token(client, "wang", "demo123").status_code == 200  # another account
    wall(seconds=901)
    assert _token(client, "zhang", "demo123").status_code == 200


def test_failed_logins_from_one_address_are_limited(app, wall):
    """More than 20 failed logins from one address in 15 minutes: 429 for that address, whatever
    the user name (each new name would otherwise cost a full scrypt for free)."""
    client = app.test_client()
    for i in range(20):
        assert _token(client, f"nobody{i}", "wrong").status_code == 401
    r = _token(client, "nobody-else", "wrong")
    assert r.status_code == 429 and "同一网络" in r.get_json()["error"]["message"]
    assert _token(client, "zhang", "demo123").status_code == 429  # the address waits
    assert _token(client, "zhang", "demo123", ip="10.0.0.9").status_code == 200
    wall(seconds=901)
    assert _token(client, "zhang", "demo123").status_code == 200


def test_successful_logins_do_not_use_up_the_address(app):
    client = app.test_client()
    for _ in range(25):
        assert _token(client, "zhang", "demo123").status_code == 200


def test_a_successful_login_forgets_earlier_failures(app):
    client = app.test_client()
    for _ in range(4):
        assert _token(client, "zhang", "wrong").status_code == 401
    assert _token(client, "zhang", "demo123").status_code == 200
    for _ in range(4):
        assert _token(client, "zhang", "wrong").status_code == 401
    assert _token(client, "zhang", "demo123").status_code == 200


def test_the_html_login_shares_the_account_limit(app):
    client = app.test_client()
    for _ in range(3):
        assert _token(client, "zhang", "wrong").status_code == 401
    for _ in range(2):
        r = client.post("/login", data={"username": "zhang", "password": "wrong"},
                        environ_base={"REMOTE_ADDR": "10.0.0.1"})
        assert r.status_code == 401
    r = client.post("/login", data={"username": "zhang", "password": "demo123"},
                    environ_base={"REMOTE_ADDR": "10.0.0.1"})
    assert r.status_code == 429 and "登录失败次数过多" in r.get_data(as_text=True)


# -- cookies and headers -------------------------------------------------------------------------
def _login_page_cookie(app) -> str:
    client = app.test_client()
    r = client.post("/login", data={"username": "zhang", "password": "demo123"})
    assert r.status_code == 302, r.data[:300]
    return r.headers["Set-Cookie"]


def test_session_cookie_flags(app):
    cookie = _login_page_cookie(app)
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" not in cookie


def test_secure_cookies_when_asked(tmp_path, sqlite_template, clock, monkeypatch):
    monkeypatch.setenv("CUNWU_SECURE_COOKIES", "1")
    app = _sqlite_app(tmp_path, sqlite_template, clock)
    try:
        assert app.config["SESSION_COOKIE_SECURE"] is True
        r = app.test_client().get("/api/v1/villages/demo-001/board")
        assert r.headers["Strict-Transport-Security"].startswith("max-age=")
        if "web.login" in app.view_functions:
            assert "Secure" in _login_page_cookie(app)
    finally:
        app.extensions["cunwu_db"].dispose()


PAGES = ["/api/v1/villages/demo-001/board", "/api/v1/openapi.json", "/api/v1/nowhere", "/", "/login",
         "/villages/demo-001/board", "/static/cunwu.css"]


@pytest.mark.parametrize("path", PAGES)
def test_security_headers_everywhere(app, path):
    r = app.test_client().get(path)
    csp = r.headers["Content-Security-Policy"]
    directives = dict(d.strip().split(" ", 1) for d in csp.split(";"))
    assert "'unsafe-inline'" not in directives["script-src"] and "'unsafe-eval'" not in directives["script-src"]
    assert directives["frame-ancestors"] == "'none'" and directives["object-src"] == "'none'"
    assert directives["default-src"] == "'self'"
    assert r.headers["X-Frame-Options"] == "DENY"
    assert r.headers["X-Content-Type-Options"] == "nosniff"
    assert r.headers["Referrer-Policy"] == "same-origin"


def test_personal_answers_are_not_cached(api):
    r = api("zhang").get("/tasks")
    assert r.headers["Cache-Control"] == "no-store"


def test_pages_do_not_need_inline_scripts(app):
    """The CSP forbids inline <script> and allows only the exact inline handlers the templates
    contain (by hash); any other inline script would be blocked by the browser."""
    from web.security import inline_handlers

    folder = Path(app.root_path) / "templates"
    for path in folder.rglob("*.html"):
        html = path.read_text(encoding="utf-8")
        for tag in re.findall(r"<script\b[^>]*>", html, flags=re.I):
            assert "src=" in tag, f"{path.name}: inline <script> is blocked by the CSP"
        assert "javascript:" not in html, path.name
    csp = app.test_client().get("/").headers["Content-Security-Policy"]
    for handler in inline_handlers(app):  # allowed one by one, by hash
        import base64
        import hashlib

        digest = base64.b64encode(hashlib.sha256(handler.encode()).digest()).decode()
        assert f"'sha256-{digest}'" in csp
    for page in ("/", "/login", "/villages/demo-001/board"):
        if app.test_client().get(page).status_code == 404:
            continue
        assert app.test_client().get(page).status_code == 200, page


# -- the public objection endpoint --------------------------------------------------------------
@pytest.fixture
def on_notice(api):
    walk = Walk(api)
    walk.start()
    walk.to_resolution()
    walk.disclose("resolution")
    return walk


def test_objections_are_rate_limited_per_address(app, on_notice):
    entry = on_notice.board()[0]["id"]
    client = app.test_client()
    statuses = []
    for i in range(7):
        r = client.post(f"/api/v1/board/{entry}/objections", json={"name": f"村民{i}", "text": "异议"},
                        environ_base={"REMOTE_ADDR": "10.1.1.1"})
        statuses.append(r.status_code)
    limit = app.extensions["cunwu_objection_limiter"].limit
    assert statuses[:limit] == [201] * limit and set(statuses[limit:]) == {429}
    body = r.get_json()
    assert body["error"]["code"] == "too_many_requests" and set(body["error"]) == {"code", "message", "fields"}
    r = client.post(f"/api/v1/board/{entry}/objections", json={"name": "邻村村民", "text": "异议"},
                    environ_base={"REMOTE_ADDR": "10.1.1.2"})
    assert r.status_code == 201


# -- an objector's contact ---------------------------------------------------------------------
def _keys(value) -> set[str]:
    if isinstance(value, dict):
        return set(value) | set().union(*(_keys(v) for v in value.values())) if value else set()
    if isinstance(value, list):
        return set().union(*(_keys(v) for v in value)) if value else set()
    return set()


def test_contact_is_for_the_supervisors_only_and_every_read_is_audited(app, api, on_notice):
    walk = on_notice
    entry = walk.board()[0]["id"]
    r = walk.public.post(f"/board/{entry}/objections", json={"name": "村民甲", "contact": "13800001111",
                                                              "text": "预算偏高"})
    assert r.status_code == 201
    board = walk.public.get("/villages/demo-001/board").get_json()
    assert "contact" not in _keys(board) and "13800001111" not in str(board)
    assert "13800001111" not in str(walk.public.get("/villages/demo-001/board/verify").get_json())
    task = walk.task("reply_resolution_objection")
    for who in ("zhang", "wang", "li", "zhou", "wu", "admin"):  # may see the case, not the contact
        got = api(who).get(f"/tasks/{task['id']}")
        if got.status_code == 200:
            assert got.get_json()["objection"]["name"] == "村民甲", who
            assert "contact" not in got.get_json()["objection"] and "13800001111" not in got.data.decode(), who
    assert "13800001111" not in str(walk.refresh())
    with app.extensions["cunwu"].sessions() as session:
        assert not session.scalars(select(AuditEvent).where(AuditEvent.action == "read_personal")).all()
    got = api("zhao").get(f"/tasks/{task['id']}").get_json()
    assert got["objection"]["contact"] == "13800001111"
    with app.extensions["cunwu"].sessions() as session:
        reads = session.scalars(select(AuditEvent).where(AuditEvent.action == "read_personal")).all()
    assert len(reads) == 1 and reads[0].actor_name == "赵监委" and reads[0].task_id == task["id"]
    if "web.task" in app.view_functions:  # the HTML task page follows the same rule
        from tests.test_security_matrix import web_client

        html = web_client(app, "li").get(f"/tasks/{task['id']}").data.decode()
        assert "13800001111" not in html
        html = web_client(app, "zhao").get(f"/tasks/{task['id']}").data.decode()
        assert "13800001111" in html
        with app.extensions["cunwu"].sessions() as session:
            assert session.scalar(select(text("count(*)")).select_from(AuditEvent).where(
                AuditEvent.action == "read_personal")) == 2


def test_the_html_login_is_throttled_too(app):
    client = app.test_client()
    for _ in range(5):
        r = client.post("/login", data={"username": "wang", "password": "wrong"},
                        environ_base={"REMOTE_ADDR": "10.9.9.9"})
        assert r.status_code == 401
    r = client.post("/login", data={"username": "wang", "password": "demo123"}, environ_base={"REMOTE_ADDR": "10.9.9.9"})
    assert r.status_code == 429 and "登录失败次数过多" in r.data.decode()


def test_reading_an_applicants_id_number_is_audited(app, api):
    from tests.test_items_services import SUBSISTENCE

    r = api("wang").post("/instances", json={"process": "subsistence-allowance", "village": "demo-001",
                                             "title": "低保申请", "data": SUBSISTENCE})
    assert r.status_code == 201, r.get_json()
    task_id = next(h["task"] for h in r.get_json()["history"] if h["action"] == "complete")
    assert api("chen").get(f"/tasks/{task_id}").status_code == 403  # another village: nothing read
    got = api("zhou").get(f"/tasks/{task_id}").get_json()
    assert got["data"]["applicant_id_number"] == SUBSISTENCE["applicant_id_number"]
    with app.extensions["cunwu"].sessions() as session:
        reads = session.scalars(select(AuditEvent).where(AuditEvent.action == "read_personal")).all()
    assert len(reads) == 1 and reads[0].actor_name == "周镇长" and "applicant_id_number" in reads[0].data["fields"]
