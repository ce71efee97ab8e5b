"""CONTRACT "Secrets, sessions and hostile input": bodies that used to crash the parser, integers
that were truncated, formulas in exports, village codes that name files, and timer steps
(issue 11: A4-a … A4-f, A1-a). Each attack is sent as it was found."""

from __future__ import annotations

import csv
import io
import json
import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openpyxl import load_workbook

from tests.conftest import ApiClient
from tests.flows import MEETING_OK, Walk


@pytest.fixture
def walk(app):
    app.config["PROPAGATE_EXCEPTIONS"] = False  # a bug must show as the 500 a client would get
    walk = Walk(lambda u: ApiClient(app, u))
    walk.start()
    return walk


def _post_raw(app, path, raw: bytes, token=None, content_type="application/json"):
    headers = {"Content-Type": content_type}
    if token:
        headers["Authorization"] = token
    return app.test_client().post(path, data=raw, headers=headers)


def _assert_error(r, status):
    assert r.status_code == status, (r.status_code, r.data[:300])
    body = r.get_json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "fields"}, body
    return body["error"]


# -- lone surrogates, nesting, encodings, size (A4-c, A4-d, A4-f) -------------------------------
SURROGATE = b'{"username": "zhang", "password": "\\ud800"}'


def test_a_lone_surrogate_is_400_everywhere(app, walk):
    token = walk.secretary.headers["Authorization"]
    task = walk.task("two_committees")["id"]
    for path, raw, auth in [
        ("/api/v1/auth/token", SURROGATE, None),
        ("/api/v1/instances", b'{"process": "major-decision", "village": "demo-001", "title": "\\udc00", "data": {}}',
         token),
        (f"/api/v1/tasks/{task}/complete", b'{"data": {"minutes": "\\ud83d"}}', token),
        ("/api/v1/board/1/objections", b'{"text": "\\udfff"}', None),
        (f"/api/v1/instances/{walk.case['id']}/hold", b'{"reason": "\\ud800x"}', token),
        ("/api/v1/auth/token", b'{"\\ud800": 1}', None),  # in a key, too
    ]:
        error = _assert_error(_post_raw(app, path, raw, auth), 400)
        assert "孤立代理项" in error["message"], (path, error)
    # A proper pair (an emoji) is fine.
    r = _post_raw(app, "/api/v1/auth/token", b'{"username": "zhang", "password": "\\ud83d\\ude00"}')
    assert r.status_code == 401


@pytest.mark.parametrize("depth", [65, 200, 100_000])
def test_deep_nesting_is_400(app, walk, depth):
    raw = ("[" * depth + "]" * depth).encode()
    for path in ("/api/v1/auth/token", f"/api/v1/tasks/{walk.task('two_committees')['id']}/complete"):
        error = _assert_error(_post_raw(app, path, raw, walk.secretary.headers["Authorization"]), 400)
        assert "嵌套" in error["message"]


def test_sixty_four_levels_are_fine(app):
    raw = ('{"username": "zhang", "password": "x", "extra": ' + "[" * 62 + "]" * 62 + "}").encode()
    assert _post_raw(app, "/api/v1/auth/token", raw).status_code == 401  # parsed, checked: a wrong password


def test_not_utf8_is_400(app):
    for raw in ('{"username": "张", "password": "x"}'.encode("gbk"),
                '{"username": "zhang", "password": "x"}'.encode("utf-16"),
                b'{"username": "\xff\xfe", "password": "x"}'):
        error = _assert_error(_post_raw(app, "/api/v1/auth/token", raw), 400)
        assert "UTF-8" in error["message"]


def test_not_json_is_400(app):
    error = _assert_error(_post_raw(app, "/api/v1/auth/token", b'{"username": '), 400)
    assert "JSON" in error["message"]


def test_a_body_over_the_limit_is_413_before_any_hashing(app):
    password = "x" * (10 * 1024 * 1024)  # A4-f: a 10 MB password used to be hashed
    raw = json.dumps({"username": "zhang", "password": password}).encode()
    _assert_error(_post_raw(app, "/api/v1/auth/token", raw), 413)
    r = app.test_client().post("/login", data={"username": "zhang", "password": password})
    assert r.status_code == 413


def test_the_limit_is_a_setting(tmp_path, sqlite_template, clock):
    from tests.conftest import _sqlite_app

    app = _sqlite_app(tmp_path, sqlite_template, clock, CUNWU_MAX_BODY=2000)
    ok = json.dumps({"username": "zhang", "password": "y" * 1500}).encode()
    assert _post_raw(app, "/api/v1/auth/token", ok).status_code == 401
    big = json.dumps({"username": "zhang", "password": "y" * 2500}).encode()
    _assert_error(_post_raw(app, "/api/v1/auth/token", big), 413)


# -- integers (A4-e) -----------------------------------------------------------------------------
@pytest.mark.parametrize("value", [6.5, "6", True, 7.0, "７", None, [7], {"n": 7}])
def test_integer_fields_take_integers_only(walk, value):
    r = walk.meeting("two_committees", "two_committees", status=422, attended=value)
    error = r.get_json()["error"]
    assert "attended" in error["fields"], error


def test_an_integer_still_works_and_pages_still_take_typed_digits(app, walk):
    walk.meeting("two_committees", "two_committees", attended=7)
    assert walk.case["tasks"]
    from web.views.common import form_data

    fields = [{"name": "attended", "type": "integer"}, {"name": "minutes", "type": "string"}]
    assert form_data(fields, {"attended": " 7 ", "minutes": "x"}) == {"attended": 7, "minutes": "x"}
    assert form_data(fields, {"attended": "6.5"}) == {"attended": "6.5"}  # refused by the engine


def test_notice_days_take_integers_only(walk):
    for name, body in (("two_committees", "two_committees"), ("party_members", "party_members"),
                       ("representatives", "representatives")):
        walk.meeting(name, body)
        walk.review(f"review_{'resolution' if name == 'representatives' else name}")
    r = walk.do(walk.director, "draft_resolution_disclosure", {"content": "公示", "notice_days": "7"}, status=422)
    assert "notice_days" in r.get_json()["error"]["fields"]


# -- formulas in exports (A4-a) -------------------------------------------------------------------
ATTACK = "=cmd|' /C calc'!A0"


def test_an_objection_is_no_formula_in_the_exports(app, walk):
    walk.to_resolution()
    walk.disclose("resolution")
    entry = walk.board()[0]["id"]
    app.extensions["cunwu_objection_limiter"].limit = 100
    for text in (ATTACK, "+1+1", "-2+3", "@SUM(A1)", "\tx", "\r=1"):
        r = walk.public.post(f"/board/{entry}/objections", json={"text": text, "name": "赵"})
        assert r.status_code == 201, r.get_json()
    client = app.test_client()
    assert client.post("/login", data={"username": "zhou", "password": "demo123"}).status_code == 302
    r = client.get("/township/export.csv?table=detail")
    assert r.status_code == 200
    rows = list(csv.reader(io.StringIO(r.get_data(as_text=True).lstrip("\ufeff"))))
    cells = [c for row in rows for c in row]
    assert any(c == "'" + ATTACK for c in cells), cells
    assert not any(c[:1] in ("=", "+", "-", "@", "\t", "\r") for c in cells)
    r = client.get("/township/export.xlsx")
    wb = load_workbook(io.BytesIO(r.data))
    values = [(c.value, c.data_type) for ws in wb.worksheets for row in ws.iter_rows() for c in row if c.value]
    assert (ATTACK, "s") in values, values[-10:]
    assert not any(t == "f" for _, t in values)
    assert not any("赵" in str(v) for v, _ in values)  # the objector is not named in the export


# -- village codes (A4-b) -------------------------------------------------------------------------
@pytest.mark.parametrize("code", ["../../etc", "a/b", "-x", "x" * 65, "村一", "a b", "a\nb", ".hidden"])
def test_a_village_code_that_could_name_a_path_is_refused(app, tmp_path, code):
    from engine.domain.errors import Invalid
    from web.cli import import_file

    doc = tmp_path / "v.yaml"
    doc.write_text(json.dumps({"villages": [{"code": code, "name": "坏村", "township": "示范镇", "adults": 10,
                                             "households": 5, "party_members": 3, "representatives": 5,
                                             "two_committees": 3}]}, ensure_ascii=False), encoding="utf-8")
    with app.app_context(), pytest.raises(Invalid) as info:
        import_file(doc)
    assert "villages 第1项" in info.value.message and "村编码" in info.value.message


@pytest.mark.parametrize("code", ["demo-003", "A_1", "x" * 64, "9"])
def test_good_village_codes_are_taken(app, tmp_path, code):
    from web.cli import import_file

    doc = tmp_path / "v.yaml"
    doc.write_text(json.dumps({"villages": [{"code": code, "name": "好村", "township": "示范镇", "adults": 10,
                                             "households": 5, "party_members": 3, "representatives": 5,
                                             "two_committees": 3}]}, ensure_ascii=False), encoding="utf-8")
    with app.app_context():
        assert import_file(doc)["villages_created"] == 1


def test_cunwu_import_exits_1_naming_the_entry(tmp_path):
    import os
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    doc = tmp_path / "v.yaml"
    doc.write_text("villages:\n  - {code: '../../etc', name: 坏村, township: 示范镇, adults: 10, households: 5,"
                   " party_members: 3, representatives: 5, two_committees: 3}\n", encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": str(root), "CUNWU_DATABASE_URL": f"sqlite:///{tmp_path}/c.sqlite3",
           "CUNWU_INSTANCE_PATH": str(tmp_path / "inst")}
    run = [sys.executable, "-c", "from web.cli import main; main()"]
    assert subprocess.run([*run, "init-db"], env=env, capture_output=True, timeout=300).returncode == 0
    r = subprocess.run([*run, "import", str(doc)], env=env, capture_output=True, text=True, timeout=300)
    assert r.returncode == 1 and "villages 第1项" in r.stdout + r.stderr and "Traceback" not in r.stderr


# -- timer steps (A1-a) ---------------------------------------------------------------------------
def test_completing_a_timer_step_is_409_with_a_sentence(walk):
    walk.to_resolution()
    walk.disclose("resolution")
    timers = [t for t in walk.refresh()["tasks"] if t["state"] == "waiting"]
    assert timers, walk.case["tasks"]
    r = walk.director.post(f"/tasks/{timers[0]['id']}/complete", json={"data": {}})
    error = _assert_error(r, 409)
    assert "计时环节" in error["message"] and "自动" in error["message"]


# -- any JSON, every endpoint that takes a body ---------------------------------------------------
SURROGATES = st.integers(0xD800, 0xDFFF).map(chr)
TEXT = st.one_of(st.text(max_size=20), st.lists(st.one_of(st.text(max_size=3), SURROGATES), max_size=4).map("".join))
SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-(2**70), 2**70), st.floats(allow_nan=False), TEXT)
VALUES = st.recursive(SCALARS, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                       st.dictionaries(TEXT, inner, max_size=4)), max_leaves=12)
KEYS = st.sampled_from(["username", "password", "data", "process", "village", "title", "text", "reason", "note",
                        "name", "contact", "decision", "attended", "held_on", "minutes", "amount"])
BODIES = st.one_of(VALUES, st.dictionaries(KEYS, VALUES, max_size=6),
                   st.tuples(st.dictionaries(KEYS, VALUES, max_size=3), st.integers(60, 400)).map(
                       lambda pair: {**pair[0], "data": json.loads("[" * pair[1] + "]" * pair[1])}))


def _routes(app, ids: dict) -> list[tuple[str, str]]:
    out = []
    for rule in app.url_map.iter_rules():
        for method in sorted(rule.methods - {"GET", "HEAD", "OPTIONS"}):
            path = rule.rule
            for arg in rule.arguments:
                path = re.sub(rf"<(?:[a-z]+:)?{arg}>", str(ids.get(arg, "1")), path)
            out.append((method, path))
    return out


@pytest.fixture
def body_app(app, walk):
    walk.to_resolution()
    walk.disclose("resolution")
    app.extensions["cunwu_objection_limiter"].limit = 10**6
    app.extensions["cunwu_login_throttle"].limit = 10**6
    app.extensions["cunwu_login_throttle"].address_limit = 10**6
    ids = {"case_id": walk.case["id"], "task_id": walk.refresh()["tasks"][-1]["id"], "entry_id": walk.board()[0]["id"],
           "code": "demo-001", "key": "major-decision"}
    app.routes_with_bodies = _routes(app, ids)
    app.token = walk.director.headers["Authorization"]
    return app


@settings(max_examples=40, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                 HealthCheck.data_too_large])
@given(body=BODIES)
def test_any_json_to_any_endpoint_is_never_a_500(body_app, body):
    raw = json.dumps(body, ensure_ascii=True).encode()  # lone surrogates travel as \\udXXX escapes
    client = body_app.test_client()
    for method, path in body_app.routes_with_bodies:
        if path in ("/logout", "/api/v1/auth/token") and method == "DELETE":
            continue  # would end the session the loop uses
        r = client.open(path, method=method, data=raw, headers={"Content-Type": "application/json",
                                                                 "Authorization": body_app.token})
        assert r.status_code < 500, (method, path, r.status_code, r.data[:300])
        if path.startswith("/api/") and r.status_code >= 400:
            error = r.get_json()["error"]
            assert set(error) == {"code", "message", "fields"}, (path, error)


def test_the_walk_data_is_what_the_meeting_needs():
    assert set(MEETING_OK["two_committees"]) >= {"held_on", "attended", "approve", "oppose", "abstain", "minutes"}
