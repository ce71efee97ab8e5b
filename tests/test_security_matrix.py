"""Role × action × village: every JSON endpoint (and the HTML pages that act on a case or task)
tried by every kind of person of the demo township, of a neighbouring township, and anonymously.
Nobody gets a 2xx for something they may not do (0 escalations); everybody who may gets through.

The test fails when a new /api route appears that the matrix does not classify."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from tests.conftest import ApiClient, TestClock, _sqlite_app
from tests.flows import MEETING_OK, PROPOSAL, Walk

EXTRA = """
villages:
  - {code: far-001, name: 远山村, township: 远山镇, county: 远山县, adults: 500, households: 150, party_members: 20,
     representatives: 25, two_committees: 5}
people:
  - username: liu
    name: 刘镇长
    password: "demo123"
    roles: [{township: 远山镇, role: township_official}]
  - username: ma
    name: 马书记
    password: "demo123"
    roles: [{village: far-001, role: party_secretary}]
  - username: ye
    name: 叶纪委
    password: "demo123"
    roles: [{county: 远山县, role: county_inspector}]
"""

ANON = None
PEOPLE = ["zhang", "wang", "li", "zhao", "qian", "sun", "zhou", "wu", "chen", "admin", "liu", "ma",
          "xu", "he", "ye"]
EVERYONE = [ANON, *PEOPLE]
LOGGED_IN = set(PEOPLE)
#: who may look at a case of each village (a role there, a township role over it, the county
#: inspector of its county (xu: 示范县; ye: 远山县 sees nothing here), or admin)
VIEW = {
    "demo-001": {"zhang", "wang", "li", "zhao", "qian", "sun", "zhou", "wu", "he", "xu", "admin"},
    "demo-002": {"chen", "zhou", "wu", "he", "xu", "admin"},
}
#: who may hold (issue 10: village supervisor, township official or discipline inspector, county inspector)
HOLD = {"demo-001": {"zhao", "qian", "zhou", "wu", "xu"}, "demo-002": {"zhou", "wu", "xu"}}
START = {"demo-001": {"zhang"}, "demo-002": {"chen"}}
#: who may complete the first meeting (two_committees: party secretary, or a committee member)
MEET = {"demo-001": {"zhang", "li"}, "demo-002": {"chen"}}
REVIEW = {"demo-001": {"zhao", "qian"}, "demo-002": set()}


@pytest.fixture(scope="module")
def matrix_app(tmp_path_factory, sqlite_template):
    app = _sqlite_app(tmp_path_factory.mktemp("matrix"), sqlite_template, TestClock())
    yield app
    app.extensions["cunwu_db"].dispose()


@pytest.fixture(scope="module")
def world(matrix_app):
    """Built once per module (logging in a dozen people costs a dozen scrypt checks); every test
    leaves it as it found it, except the last one."""
    from engine.services.importer import import_data, parse_yaml

    app = matrix_app

    with app.extensions["cunwu"].transaction() as session:
        import_data(session, parse_yaml(EXTRA, "extra.yaml"))
    clients = {u: ApiClient(app, u) for u in EVERYONE}
    cases = {}
    for village, starter in (("demo-001", "zhang"), ("demo-002", "chen")):
        r = clients[starter].post("/instances", json={"process": "major-decision", "village": village,
                                                      "title": f"{village}修路", "data": PROPOSAL})
        assert r.status_code == 201, r.get_json()
        cases[village] = r.get_json()
    meeting = {v: next(t for t in c["tasks"] if t["name"] == "two_committees") for v, c in cases.items()}
    walk = Walk(lambda u: clients[u])  # a second demo-001 case waiting for the supervisors' review
    walk.start()
    walk.meeting("two_committees", "two_committees")
    review = walk.task("review_two_committees")
    entry = None
    return {"app": app, "clients": clients, "cases": cases, "meeting": meeting, "review": review,
            "review_case": walk.case, "entry": entry}


def _version(app, case_id: int) -> int:
    with app.extensions["cunwu_db"].connect() as conn:
        return conn.scalar(text("select lock_version from case_instance where id = :i"), {"i": case_id})


def _check(who, r, allowed: bool, ok=(200, 201), what=""):
    if allowed:
        assert r.status_code in ok, f"{who} should be able to {what}: {r.status_code} {r.get_data(as_text=True)[:200]}"
    else:
        assert not 200 <= r.status_code < 300, f"ESCALATION: {who} may not {what} but got {r.status_code}"
        assert r.status_code in ((401,) if who is None else (403, 404)), f"{who} {what}: {r.status_code}"
        body = r.get_json()
        assert set(body["error"]) == {"code", "message", "fields"}


COVERED = {
    ("POST", "/api/v1/auth/token"), ("DELETE", "/api/v1/auth/token"), ("GET", "/api/v1/processes"), ("GET", "/api/v1/processes/<string:key>"),
    ("GET", "/api/v1/processes/<string:key>/diagram"), ("POST", "/api/v1/instances"),
    ("GET", "/api/v1/instances/<int:case_id>"), ("GET", "/api/v1/instances/<int:case_id>/diagram"),
    ("POST", "/api/v1/instances/<int:case_id>/hold"), ("POST", "/api/v1/instances/<int:case_id>/release"),
    ("GET", "/api/v1/tasks"), ("GET", "/api/v1/tasks/<string:task_id>"),
    ("POST", "/api/v1/tasks/<string:task_id>/complete"), ("GET", "/api/v1/villages/<string:code>/board"),
    ("POST", "/api/v1/board/<int:entry_id>/objections"), ("GET", "/api/v1/villages/<string:code>/board/verify"),
    ("GET", "/api/v1/openapi.json"), ("GET", "/api/v1/docs"),
    ("POST", "/api/v1/tasks/<string:task_id>/attachments"), ("GET", "/api/v1/tasks/<string:task_id>/attachments"),
    ("GET", "/api/v1/attachments/<int:attachment_id>"), ("DELETE", "/api/v1/attachments/<int:attachment_id>"),
    ("GET", "/api/v1/instances/<int:case_id>/dossier"), ("GET", "/api/v1/villages/<string:code>/archive"), ("GET", "/api/v1/county"),
    ("POST", "/api/v1/leads"), ("GET", "/api/v1/leads"), ("GET", "/api/v1/leads/<string:code>"),
    ("POST", "/api/v1/leads/<string:code>/rating"), ("POST", "/api/v1/leads/<string:code>/objection"),
    ("GET", "/api/v1/villages/<string:code>/ledger"), ("POST", "/api/v1/villages/<string:code>/ledger/receipts"),
    ("GET", "/api/v1/villages/<string:code>/ledger/entries/<int:entry_id>"),
    ("POST", "/api/v1/villages/<string:code>/ledger/entries/<int:entry_id>/reversal"),
    ("GET", "/api/v1/villages/<string:code>/contracts"), ("POST", "/api/v1/villages/<string:code>/contracts"),
    ("GET", "/api/v1/notifications"), ("POST", "/api/v1/notifications/<int:notice_id>/read"),
    ("GET", "/api/v1/notifications/preferences"), ("PUT", "/api/v1/notifications/preferences"),
    ("GET", "/api/v1/people"), ("POST", "/api/v1/people"), ("GET", "/api/v1/people/<string:target>"),
    ("PATCH", "/api/v1/people/<string:target>"), ("POST", "/api/v1/people/<string:target>/password"),
    ("GET", "/api/v1/villages/<string:code>/assets"), ("POST", "/api/v1/villages/<string:code>/assets"),
    ("GET", "/api/v1/villages/<string:code>/assets/<int:asset_id>"),
    ("POST", "/api/v1/villages/<string:code>/assets/<int:asset_id>/status"),
    ("POST", "/api/v1/board/<int:entry_id>/photos"),
    ("POST", "/api/v1/leads/<string:code>/attachments"), ("POST", "/api/v1/instances/<int:case_id>/lead/supervision"),
    ("GET", "/api/v1/instances/<int:case_id>/lead/accountability"),
    ("POST", "/api/v1/instances/<int:case_id>/lead/accountability"),
}
#: who may enter receipts and reversals in each village's books (报账员, the township agency)
BOOKKEEP = {"demo-001": {"sun", "he"}, "demo-002": {"he"}}
#: A complaint lead of demo-001 (R60): only the 纪检 roles of its jurisdiction (and the admin, without
#: the reporter's identity) see it; the reporter's name and contact only wu and xu.
LEAD_VIEW = {"wu", "xu", "admin"}
LEAD_IDENTITY = {"wu", "xu"}
LEAD_DESK = {"wu", "xu", "ye", "admin"}  # ye (远山县) gets an empty desk
#: 督办 of a 示范县 lead: its county inspector alone (issue 12).
LEAD_SUPERVISE = {"xu"}


def test_every_api_route_is_in_the_matrix(matrix_app):
    app = matrix_app
    routes = {(m, r.rule) for r in app.url_map.iter_rules() if r.rule.startswith("/api/")
              for m in r.methods - {"HEAD", "OPTIONS"}}
    missing = routes - COVERED
    assert not missing, f"classify these routes in the security matrix: {sorted(missing)}"


def _png() -> bytes:
    import io

    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (8, 8), (200, 30, 30)).save(out, "PNG")
    return out.getvalue()


def test_attachments(world):
    """Upload: whoever may complete the task; list and download: whoever may view the case."""
    clients, meeting = world["clients"], world["meeting"]
    uploaded = {}
    for village, task in meeting.items():
        for who in EVERYONE:
            c = clients[who]
            r = c.client.post(f"/api/v1/tasks/{task['id']}/attachments", headers=c.headers,
                              data={"file": (__import__("io").BytesIO(_png()), "签到表.png")},
                              content_type="multipart/form-data")
            _check(who, r, who in MEET[village], ok=(201,), what=f"attach to {village}'s meeting")
            if r.status_code == 201:
                uploaded[village] = r.get_json()["id"]
        for who in EVERYONE:
            c = clients[who]
            _check(who, c.get(f"/tasks/{task['id']}/attachments"), who in VIEW[village],
                   what=f"list {village}'s attachments")
            r = c.get(f"/attachments/{uploaded[village]}")
            if who in VIEW[village]:
                assert r.status_code == 200 and r.data == _png(), (who, r.status_code)
            else:
                _check(who, r, False, what=f"download {village}'s attachment")
    # The dossier (档案): whoever may view the case.
    for village, case in world["cases"].items():
        for who in EVERYONE:
            _check(who, clients[who].get(f"/instances/{case['id']}/dossier?format=zip"), who in VIEW[village],
                   what=f"take {village}'s dossier")
    # The village archive: whoever may view the village's cases.
    for village in world["cases"]:
        for who in EVERYONE:
            _check(who, clients[who].get(f"/villages/{village}/archive"), who in VIEW[village],
                   what=f"read {village}'s archive")
    # Taking back an attachment not yet submitted: whoever may complete the task.
    for village, task in meeting.items():
        for who in EVERYONE:
            c = clients[who]
            r = c.client.delete(f"/api/v1/attachments/{uploaded[village]}", headers=c.headers)
            _check(who, r, who in MEET[village], what=f"take back {village}'s attachment")
            if r.status_code == 200:  # put one back for the next person
                again = clients[who].client.post(
                    f"/api/v1/tasks/{task['id']}/attachments", headers=c.headers,
                    data={"file": (__import__("io").BytesIO(_png()), "签到表.png")}, content_type="multipart/form-data")
                uploaded[village] = again.get_json()["id"]


def test_reading(world):
    clients, cases = world["clients"], world["cases"]
    for who in EVERYONE:
        c = clients[who]
        for path in ("/processes", "/processes/major-decision"):
            _check(who, c.get(path), who in LOGGED_IN, what=f"GET {path}")
        for village, case in cases.items():
            _check(who, c.get(f"/instances/{case['id']}"), who in VIEW[village], what=f"see {village}'s case")
            _check(who, c.get(f"/instances/{case['id']}/diagram"), who in VIEW[village],
                   what=f"see {village}'s case chart")
            task = world["meeting"][village]
            _check(who, c.get(f"/tasks/{task['id']}"), who in VIEW[village], what=f"see a task of {village}")
            # public: the board, its verification, the process chart
            assert c.get(f"/villages/{village}/board").status_code == 200
            assert c.get(f"/villages/{village}/board/verify").status_code == 200
        assert c.get("/processes/major-decision/diagram").status_code == 200


def test_the_ledger(world):
    """Read: whoever may see the village's cases; write: its 报账员 and the township agency.
    Bad data from those who may write answers 422, so nothing is written here."""
    clients = world["clients"]
    for village in ("demo-001", "demo-002"):
        for who in EVERYONE:
            c = clients[who]
            _check(who, c.get(f"/villages/{village}/ledger"), who in VIEW[village], what=f"read {village}'s ledger")
            r = c.post(f"/villages/{village}/ledger/receipts", json={"entity": "committee", "amount": "-1"})
            _check(who, r, who in BOOKKEEP[village], ok=(422,), what=f"write {village}'s ledger")
            r = c.post(f"/villages/{village}/ledger/entries/1/reversal", json={"reason": ""})
            _check(who, r, who in BOOKKEEP[village], ok=(422,), what=f"reverse in {village}'s ledger")
            _check(who, c.get(f"/villages/{village}/contracts"), who in VIEW[village], what=f"read {village}'s contracts")
            r = c.post(f"/villages/{village}/contracts", json={"entity": "committee", "amount": "0"})
            _check(who, r, who in BOOKKEEP[village], ok=(422,), what=f"register {village}'s contracts")
            r = c.get(f"/villages/{village}/ledger/entries/1")
            if who in VIEW[village]:
                assert r.status_code == 404, (who, r.status_code)  # no entry yet
            else:
                _check(who, r, False, what=f"read {village}'s entry")


def test_the_assets_register(world):
    """资产资源台账 (issue 13): read as the ledger; register and change status: the 报账员 and the
    township agency. Bad data from those who may write answers 422, so nothing is written; the
    pages and exports answer the same people."""
    clients = world["clients"]
    for village in ("demo-001", "demo-002"):
        for who in EVERYONE:
            c = clients[who]
            _check(who, c.get(f"/villages/{village}/assets"), who in VIEW[village], what=f"read {village}'s assets")
            r = c.post(f"/villages/{village}/assets", json={"entity": "committee", "quantity": "-1"})
            _check(who, r, who in BOOKKEEP[village], ok=(422,), what=f"register {village}'s assets")
            r = c.get(f"/villages/{village}/assets/1")
            if who in VIEW[village]:
                assert r.status_code == 404, (who, r.status_code)  # none registered
            else:
                _check(who, r, False, what=f"read {village}'s asset")
            r = c.post(f"/villages/{village}/assets/1/status", json={"status": "idle", "reason": "x"})
            if who in BOOKKEEP[village]:
                assert r.status_code == 404, (who, r.status_code)
            else:
                _check(who, r, False, what=f"change {village}'s asset")
    for who in PEOPLE:
        web = web_client(world["app"], who)
        for village in ("demo-001", "demo-002"):
            for path in (f"/assets?village={village}", f"/assets/export.csv?village={village}",
                         f"/assets/export.xlsx?village={village}", f"/contracts?village={village}"):
                r = web.get(path)
                if who in VIEW[village]:
                    assert r.status_code == 200, (who, path, r.status_code)
                else:
                    assert r.status_code in (403, 404), (who, path, r.status_code)
            r = web.post("/assets", data={"village": village, "entity": "committee", "quantity": "-1"})
            assert r.status_code == (422 if who in BOOKKEEP[village] else 403), (who, village, r.status_code)


def test_worklists_show_only_what_one_may_do(world):
    clients = world["clients"]
    may_do = {"demo-001": {"zhang", "li"} | {"zhao", "qian"}, "demo-002": {"chen"}}
    for who in EVERYONE:
        r = clients[who].get("/tasks")
        _check(who, r, who in LOGGED_IN, what="list tasks")
        if who is None:
            continue
        for task in r.get_json():
            assert who in may_do[task["village"]], f"ESCALATION: {who} sees {task['village']}'s {task['name']}"
            if task["name"] == "review_two_committees":
                assert who in REVIEW[task["village"]]
            if task["name"] == "two_committees":
                assert who in MEET[task["village"]]


def test_completing(world):
    app, clients = world["app"], world["clients"]
    for village, task in [*world["meeting"].items(), ("demo-001", world["review"])]:
        allowed = MEET[village] if task["name"] == "two_committees" else REVIEW[village]
        case_id = task["case"]
        before = _version(app, case_id)
        for who in EVERYONE:  # empty data: the allowed get 422 (form errors), the others 403 / 401
            r = clients[who].post(f"/tasks/{task['id']}/complete", json={"data": {}})
            _check(who, r, who in allowed, ok=(422,), what=f"complete {village}'s {task['name']}")
        assert _version(app, case_id) == before


def test_self_review_is_refused(world):
    """zhang recorded the meeting of the review case; as secretary he may not review it anyway, and
    a supervisor who recorded it could not either (no self-review), which the engine enforces."""
    r = world["clients"]["zhang"].post(f"/tasks/{world['review']['id']}/complete",
                                       json={"data": {"decision": "approve"}})
    assert r.status_code == 403


def test_starting(world):
    clients = world["clients"]
    for village in ("demo-001", "demo-002", "far-001"):
        for who in EVERYONE:  # bad proposal data: the allowed get 422, the others 403 / 401
            r = clients[who].post("/instances", json={"process": "major-decision", "village": village,
                                                      "title": "试探", "data": {"amount": "很多"}})
            allowed = START.get(village, {"ma"} if village == "far-001" else set())
            _check(who, r, who in allowed, ok=(422,), what=f"start a case in {village}")
    with world["app"].extensions["cunwu_db"].connect() as conn:
        assert conn.scalar(text("select count(*) from case_instance where title = '试探'")) == 0


def test_holding_and_releasing(world):
    app, clients = world["app"], world["clients"]
    for village, case in world["cases"].items():
        for who in EVERYONE:
            before = _version(app, case["id"])
            r = clients[who].post(f"/instances/{case['id']}/hold", json={"reason": "核查"})
            _check(who, r, who in HOLD[village], what=f"hold {village}'s case")
            if r.status_code == 200:
                # now everybody tries to release it
                for other in EVERYONE:
                    if other in HOLD[village]:
                        continue
                    r2 = clients[other].post(f"/instances/{case['id']}/release", json={"reason": ""})
                    _check(other, r2, False, what=f"release {village}'s case")
                assert clients[who].post(f"/instances/{case['id']}/release", json={"reason": "核查完毕"}).status_code == 200
            else:
                assert _version(app, case["id"]) == before


def test_a_hold_is_released_only_at_its_level_or_higher(world):
    """Village (zhao) < township (zhou, wu) < county (xu): a lower level gets 403 with a Chinese sentence."""
    clients, case = world["clients"], world["cases"]["demo-001"]
    url = f"/instances/{case['id']}"
    for holder, lower, higher in (("zhou", "zhao", "wu"), ("xu", "wu", "xu"), ("zhao", None, "zhou")):
        assert clients[holder].post(f"{url}/hold", json={"reason": "核查"}).status_code == 200
        if lower:
            r = clients[lower].post(f"{url}/release", json={"note": "越级"})
            assert r.status_code == 403
            assert "暂停" in r.get_json()["error"]["message"]
        assert clients[higher].post(f"{url}/release", json={"note": "核查完毕"}).status_code == 200
    history = clients["xu"].get(url).get_json()["history"]
    assert any(h["action"] == "hold" and "县级" in h["summary"] for h in history)
    assert any(h["action"] == "release" and "乡镇级" in h["summary"] for h in history)


#: who may read the county desk (县级视图): the county inspectors (each of their own county) and admin
COUNTY = {"xu": {"demo-001", "demo-002"}, "ye": {"far-001"}, "admin": {"demo-001", "demo-002", "far-001"}}


def test_county_desk(world):
    clients = world["clients"]
    for who in EVERYONE:
        for query in ("", "?village=demo-001", "?township=示范镇"):
            r = clients[who].get(f"/county{query}")
            _check(who, r, who in COUNTY, what=f"read the county desk{query}")
            if r.status_code == 200:
                seen = {c["code"] for c in r.get_json()["counts"]}
                assert seen <= COUNTY[who], f"ESCALATION: {who} sees {seen - COUNTY[who]} on the county desk"
                if not query:
                    assert seen == COUNTY[who], (who, seen)
                held = {h["village"] for h in r.get_json()["holds"]}
                assert held <= COUNTY[who]
    for who in PEOPLE:
        r = web_client(world["app"], who).get("/county")
        if who in COUNTY:
            assert r.status_code == 200, (who, r.status_code)
        else:
            assert r.status_code == 403, f"ESCALATION: {who} GET /county → {r.status_code}"


def test_notifications_are_read_and_marked_only_by_their_owner(world):
    """Everybody logged in has an inbox; a notice is marked read by its owner only (others: 404)."""
    clients, case = world["clients"], world["cases"]["demo-001"]
    assert clients["zhao"].post(f"/instances/{case['id']}/hold", json={"reason": "核查"}).status_code == 200
    assert clients["zhao"].post(f"/instances/{case['id']}/release", json={"reason": "核查完毕"}).status_code == 200
    told = {"zhang", "zhao", "qian", "wu"}  # the contract's table for ``hold`` in demo-001
    inboxes = {}
    for who in EVERYONE:
        r = clients[who].get("/notifications")
        _check(who, r, who in LOGGED_IN, what="read one's notices")
        if who is not None:
            inboxes[who] = [n for n in r.get_json() if n.get("case") == case["id"] and n["kind"] == "hold"]
            assert bool(inboxes[who]) == (who in told), (who, inboxes[who])
    for who in EVERYONE:  # one's own preferences: everybody logged in, never someone else's
        c = clients[who]
        _check(who, c.get("/notifications/preferences"), who in LOGGED_IN, what="read one's notice preferences")
        r = c.client.put("/api/v1/notifications/preferences", json={"sms": "x"}, headers=c.headers)
        _check(who, r, who in LOGGED_IN, ok=(422,), what="change one's notice preferences")
    notice = inboxes["zhang"][0]["id"]
    for who in EVERYONE:
        r = clients[who].post(f"/notifications/{notice}/read")
        if who == "zhang":
            assert r.status_code == 204
        else:
            _check(who, r, False, what="mark zhang's notice read")
            assert r.status_code == (401 if who is None else 404)
    assert next(n for n in clients["zhang"].get("/notifications").get_json() if n["id"] == notice)["read"] is True
    assert all(not n["read"] for n in clients["zhao"].get("/notifications").get_json())


def test_people_are_managed_by_the_admin_only(world):
    """Issue 15: the admin's people pages and API. Bad data from the admin answers 422, so nothing
    changes here; everybody else gets 403 (anonymous 401) and changes nothing either."""
    clients = world["clients"]
    for who in EVERYONE:
        c = clients[who]
        _check(who, c.get("/people"), who == "admin", what="list people")
        _check(who, c.get("/people/zhang"), who == "admin", what="read a person")
        _check(who, c.post("/people", json={"username": "x9", "name": "某", "phone": "1"}), who == "admin",
               ok=(422,), what="create a person")
        _check(who, c.client.patch("/api/v1/people/zhang", json={"phone": "1"}, headers=c.headers),
               who == "admin", ok=(422,), what="change a person")
        _check(who, c.client.patch("/api/v1/people/zhang", json={"active": "no"}, headers=c.headers),
               who == "admin", ok=(422,), what="disable a person")
        _check(who, c.post("/people/zhang/password", json={"password": "short"}), who == "admin", ok=(422,),
               what="reset a password")
    for who in PEOPLE:
        client = web_client(world["app"], who)
        for path in ("/admin/people", "/admin/people/new", "/admin/people/zhang"):
            r = client.get(path)
            assert r.status_code == (200 if who == "admin" else 403), f"{who} GET {path} → {r.status_code}"
        if who == "admin":
            continue
        for path in ("/admin/people", "/admin/people/zhang", "/admin/people/zhang/active",
                     "/admin/people/zhang/password"):
            r = client.post(path, data={"active": "0", "password": "long-enough-1", "name": "改名"})
            assert r.status_code == 403, f"ESCALATION: {who} POST {path} → {r.status_code}"
    assert clients["zhang"].get("/tasks").status_code == 200  # zhang is untouched


def test_public_endpoints_need_no_login(world):
    c = world["clients"][None]
    assert c.get("/villages/demo-001/board").status_code == 200
    assert c.client.get("/api/v1/openapi.json").status_code == 200
    assert c.post("/auth/token", json={"username": "zhang", "password": "demo123"}).status_code == 200


def test_a_forged_or_foreign_token_is_refused(world):
    app = world["app"]
    from itsdangerous import URLSafeTimedSerializer

    forged = URLSafeTimedSerializer("not-the-secret", salt="cunwu-api-token").dumps({"u": "admin", "p": "x"})
    for token in (forged, "garbage", ""):
        r = app.test_client().get("/api/v1/tasks", headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 401


# -- the HTML pages that act on one case or task -------------------------------------------------
def web_client(app, username):
    client = app.test_client()
    r = client.post("/login", data={"username": username, "password": "demo123"})
    assert r.status_code in (302, 303), r.data[:200]
    return client


def test_pages_of_a_case_or_task(world):
    app = world["app"]
    for who in PEOPLE:
        client = web_client(app, who)
        for village, case in world["cases"].items():
            allowed = who in VIEW[village]
            for path in (f"/cases/{case['id']}", f"/cases/{case['id']}/print",
                         f"/tasks/{world['meeting'][village]['id']}"):
                r = client.get(path)
                if allowed:
                    assert r.status_code == 200, (who, path, r.status_code)
                else:
                    assert r.status_code in (403, 404), f"ESCALATION: {who} GET {path} → {r.status_code}"
            r = client.post(f"/cases/{case['id']}/hold", data={"reason": "核查"})
            if who in HOLD[village]:
                assert r.status_code in (200, 302, 303), (who, r.status_code)
                client.post(f"/cases/{case['id']}/release", data={"note": "好了"})
            else:
                assert r.status_code in (403, 404), f"ESCALATION: {who} held {village}'s case → {r.status_code}"
            task = world["meeting"][village]
            r = client.post(f"/tasks/{task['id']}", data={"held_on": "2026-03-03", "attended": "x"})
            if who not in MEET[village]:
                assert r.status_code in (403, 404), f"ESCALATION: {who} posted {village}'s task → {r.status_code}"
    anon = app.test_client()
    for case in world["cases"].values():
        assert anon.get(f"/cases/{case['id']}").status_code in (302, 401)
        assert anon.post(f"/cases/{case['id']}/hold", data={"reason": "x"}).status_code in (302, 401, 400)


def test_complaint_leads(world):
    app, clients = world["app"], world["clients"]
    r = clients[None].post("/leads", json={"village": "demo-001", "text": "反映村干部优亲厚友", "name": "秘密人",
                                           "contact": "13900000000"})
    assert r.status_code == 201
    code = r.get_json()["code"]
    with app.extensions["cunwu_db"].connect() as conn:
        case_id = conn.scalar(text("select case_id from lead where code = :c"), {"c": code})
    task_id = clients["wu"].get(f"/instances/{case_id}").get_json()["tasks"][0]["id"]
    before = _version(app, case_id)
    for who in EVERYONE:
        c = clients[who]
        r = c.get(f"/instances/{case_id}")
        _check(who, r, who in LEAD_VIEW, what="see the lead's case")
        if r.status_code == 200:
            assert ("秘密人" in r.get_data(as_text=True)) == (who in LEAD_IDENTITY), who
        _check(who, c.get(f"/tasks/{task_id}"), who in LEAD_VIEW, what="see the lead's task")
        _check(who, c.get(f"/instances/{case_id}/diagram"), who in LEAD_VIEW, what="see the lead's chart")
        _check(who, c.post(f"/tasks/{task_id}/complete", json={"data": {}}), who in LEAD_IDENTITY, ok=(422,),
               what="complete the lead's intake")
        _check(who, c.get("/leads"), who in LEAD_DESK, what="see the lead desk")
        if who in LEAD_DESK:
            listed = [x["case"] for x in c.get("/leads").get_json()["leads"]]
            assert (case_id in listed) == (who in LEAD_VIEW), who
        if who is not None:
            assert all(t["case"] != case_id for t in c.get("/tasks").get_json() if who not in LEAD_IDENTITY)
        # the reporter's page: anyone with the code, never the identity
        status = c.get(f"/leads/{code}")
        assert status.status_code == 200 and "秘密人" not in status.get_data(as_text=True)
        # 督办 and 一案双查 records (issue 12): an empty body is a 422 for whoever may, refused for the others
        _check(who, c.post(f"/instances/{case_id}/lead/supervision", json={}), who in LEAD_SUPERVISE, ok=(422,),
               what="supervise the lead")
        _check(who, c.get(f"/instances/{case_id}/lead/accountability"), who in LEAD_IDENTITY,
               what="see the lead's accountability records")
        _check(who, c.post(f"/instances/{case_id}/lead/accountability", json={}), who in LEAD_IDENTITY, ok=(422,),
               what="record accountability on the lead")
    for who in PEOPLE:
        page = web_client(app, who)
        r = page.get(f"/cases/{case_id}")
        if who in LEAD_VIEW:
            assert r.status_code == 200, who
        else:
            assert r.status_code in (403, 404), f"ESCALATION: {who} GET the lead's page → {r.status_code}"
        r = page.post(f"/cases/{case_id}/lead/supervise", data={"reason": "", "due": ""})
        assert r.status_code in ((302, 303) if who in LEAD_SUPERVISE else (403, 404)), (who, r.status_code)
        r = page.post(f"/cases/{case_id}/lead/accountability", data={})
        assert r.status_code in ((302, 303) if who in LEAD_IDENTITY else (403, 404)), (who, r.status_code)
    assert _version(app, case_id) == before

    # the reporter's photo (issue 12): sent with the code by anyone who has it; seen by the 纪检 roles only
    import io

    r = app.test_client().post(f"/api/v1/leads/{code}/attachments", data={"file": (io.BytesIO(_png()), "p.png")},
                               content_type="multipart/form-data")
    assert r.status_code == 201, r.get_json()
    photo = r.get_json()["id"]
    for who in EVERYONE:
        _check(who, clients[who].get(f"/attachments/{photo}"), who in LEAD_IDENTITY, what="see the reporter's photo")


#: who may add the photo of demo-001's posted resolution notice (张贴照片, R44): the poster, i.e. whoever
#: may draft the disclosure (村委会主任) or approve its posting (the 监委会)
POST_PHOTO = {"wang", "zhao", "qian"}


def test_zy_notice_photos(world):
    """Near the end (it adds a case with a posted notice to the world)."""
    import io

    app, clients = world["app"], world["clients"]
    walk = Walk(lambda u: clients[u])
    walk.start()
    walk.to_resolution()
    walk.disclose("resolution")
    notice = next(e for e in walk.board() if e["case"] == walk.case["id"] and e["kind"] == "resolution")
    taken = None
    for who in EVERYONE:
        c = clients[who]
        r = c.client.post(f"/api/v1/board/{notice['id']}/photos", headers=c.headers,
                          data={"file": (io.BytesIO(_png()), "张贴照片.png")}, content_type="multipart/form-data")
        _check(who, r, who in POST_PHOTO, ok=(201,), what="add the notice's photo")
        taken = r.get_json()["id"] if r.status_code == 201 else taken
    # The pages' views of an image (the JPEG view of a HEIC photo, the thumbnail): whoever may view the case.
    for who in PEOPLE:
        client = web_client(app, who)
        for path in (f"/attachments/{taken}/jpeg", f"/attachments/{taken}/thumb"):
            r = client.get(path)
            if who in VIEW["demo-001"]:
                assert r.status_code == 200 and r.mimetype == "image/jpeg", (who, path, r.status_code)
            else:
                assert r.status_code in (403, 404), f"ESCALATION: {who} GET {path} → {r.status_code}"
    assert app.test_client().get(f"/attachments/{taken}/jpeg").status_code in (302, 401)
    for who in PEOPLE:  # the page's form
        r = web_client(app, who).post(f"/board/{notice['id']}/photos", content_type="multipart/form-data",
                                      data={"case": str(walk.case["id"]),
                                            "file": (io.BytesIO(_png()), "张贴照片.png")})
        if who in POST_PHOTO:
            assert r.status_code == 302, (who, r.status_code)
        else:
            assert r.status_code in (403, 404), f"ESCALATION: {who} added the notice's photo on the page → {r.status_code}"
    assert app.test_client().post(f"/board/{notice['id']}/photos").status_code in (302, 401, 400)
    photos = [e for e in walk.board() if e["kind"] == "photo" and e["refers_to"] == notice["id"]]
    assert len(photos) == 2 * len(POST_PHOTO)
    assert clients[None].get("/villages/demo-001/board/verify").get_json()["ok"]


def test_zz_someone_allowed_really_completes(world):
    """Last (it changes the world): a committee member records the 两委 meeting."""
    r = world["clients"]["li"].post(f"/tasks/{world['meeting']['demo-001']['id']}/complete",
                                    json={"data": MEETING_OK["two_committees"]})
    assert r.status_code == 200
    assert [t["name"] for t in r.get_json()["tasks"]] == ["review_two_committees"]
