"""The JSON API against CONTRACT.md: status codes, error shape, scope, Chinese JSON."""

from __future__ import annotations

import threading

import pytest

from tests.flows import MEETING_OK, Walk


def error_of(r):
    body = r.get_json()
    assert set(body) == {"error"}, body
    assert set(body["error"]) == {"code", "message", "fields"}, body
    return body["error"]


def test_token_and_401(api):
    anon = api(None)
    r = anon.get("/tasks")
    assert r.status_code == 401
    assert "登录" in error_of(r)["message"]
    r = anon.post("/auth/token", json={"username": "zhang", "password": "wrong"})
    assert r.status_code == 401
    r = anon.client.get("/api/v1/tasks", headers={"Authorization": "Bearer forged.token.value"})
    assert r.status_code == 401


def test_chinese_is_not_escaped(api):
    r = api("zhang").get("/processes")
    assert r.status_code == 200
    assert "村级重大事项决策".encode() in r.data
    assert b"\\u" not in r.data


def test_processes_list_and_detail(api):
    client = api("zhang")
    items = client.get("/processes").get_json()
    md = next(i for i in items if i["key"] == "major-decision")
    assert set(md) >= {"key", "name", "category", "version"} and md["category"] == "A"
    detail = client.get("/processes/major-decision").get_json()
    assert {"key", "name", "category", "version", "lanes", "steps"} <= set(detail)
    # The lanes come in process order (first step of each), and hold the three village roles.
    lanes = [lane["name"] for lane in detail["lanes"]]
    assert lanes == list(dict.fromkeys(s["lane"] for s in detail["steps"] if s["lane"]))
    assert lanes[0] == "村党组织书记" and {"村委会主任", "村务监督委员会"} <= set(lanes)
    assert any(s["id"] == "party_members" and s["body"] == "party_members" for s in detail["steps"])
    assert client.get("/processes/nope").status_code == 404


def test_case_shape(api):
    walk = Walk(api)
    case = walk.start()
    assert {"id", "process", "version", "village", "title", "status", "tasks", "history"} <= set(case)
    task = case["tasks"][0]
    assert {"id", "case", "name", "title", "role", "form", "state"} <= set(task)
    assert task["form"] == "meeting" and task["body"] == "two_committees" and task["should_attend"] == 7
    assert task["due_at"]
    detail = walk.secretary.get(f"/tasks/{task['id']}").get_json()
    assert [f["name"] for f in detail["fields"]][:3] == ["held_on", "attended", "approve"]
    assert all(f["label"] for f in detail["fields"])


def test_start_requires_a_starter_role(api):
    r = api("wang").post("/instances", json={"process": "major-decision", "village": "demo-001", "title": "x",
                                             "data": {"title": "x", "summary": "y"}})
    assert r.status_code == 403
    assert "村党组织书记" in error_of(r)["message"]


def test_start_in_another_village_is_forbidden(api):
    r = api("chen").post("/instances", json={"process": "major-decision", "village": "demo-001", "title": "x",
                                             "data": {"title": "x", "summary": "y"}})
    assert r.status_code == 403


def test_unknown_village_and_process_are_404(api):
    client = api("zhang")
    r = client.post("/instances", json={"process": "major-decision", "village": "nowhere", "title": "x",
                                        "data": {"title": "x", "summary": "y"}})
    assert r.status_code == 404 and "nowhere" in error_of(r)["message"]
    r = client.post("/instances", json={"process": "nope", "village": "demo-001", "title": "x", "data": {}})
    assert r.status_code == 404


def test_invalid_proposal_is_422_with_fields_and_nothing_stored(app, api):
    client = api("zhang")
    r = client.post("/instances", json={"process": "major-decision", "village": "demo-001", "title": "修路",
                                        "data": {"title": "修路", "amount": "-5"}})
    assert r.status_code == 422
    fields = error_of(r)["fields"]
    assert "summary" in fields and "amount" in fields
    assert client.get("/tasks").get_json() == []
    assert api("wang").get("/tasks").get_json() == []


def test_malformed_json_is_400(api):
    client = api("zhang")
    r = client.client.post("/api/v1/instances", data="{not json", headers={**client.headers,
                                                                           "Content-Type": "application/json"})
    assert r.status_code == 400
    assert error_of(r)["message"]
    r = client.post("/instances", json=[1, 2])
    assert r.status_code == 400


def test_wrong_types_are_422(api):
    walk = Walk(api)
    walk.start()
    r = walk.meeting("two_committees", "two_committees", status=422, attended="many", held_on="yesterday")
    fields = error_of(r)["fields"]
    assert "attended" in fields and "held_on" in fields
    task = walk.task("two_committees")
    r = walk.secretary.post(f"/tasks/{task['id']}/complete", json={"data": "not an object"})
    assert r.status_code == 422


def test_votes_above_attendance_are_422(api):
    walk = Walk(api)
    walk.start()
    r = walk.meeting("two_committees", "two_committees", status=422, attended=5, approve=4, oppose=1, abstain=1)
    assert "approve" in error_of(r)["fields"]
    assert walk.ready() == ["two_committees"]


def test_attendance_above_who_should_attend_is_422(api):
    walk = Walk(api)
    walk.start()
    r = walk.meeting("two_committees", "two_committees", status=422, attended=8, approve=8, oppose=0, abstain=0)
    err = error_of(r)
    assert "attended" in err["fields"] and "应到人数（7）" in err["fields"]["attended"][0]


def test_role_and_village_scope(api):
    walk = Walk(api)
    walk.start()
    task = walk.task("two_committees")
    # The supervisor may read but not record the 两委 meeting; another village's secretary may do neither.
    assert walk.supervisor.get(f"/instances/{walk.case['id']}").status_code == 200
    r = walk.supervisor.post(f"/tasks/{task['id']}/complete", json={"data": MEETING_OK["two_committees"]})
    assert r.status_code == 403
    chen = api("chen")
    assert chen.get(f"/instances/{walk.case['id']}").status_code == 403
    assert chen.get(f"/tasks/{task['id']}").status_code == 403
    assert chen.post(f"/tasks/{task['id']}/complete", json={"data": MEETING_OK["two_committees"]}).status_code == 403
    # The township official sees the case (township scope) but has no task in it.
    assert api("zhou").get(f"/instances/{walk.case['id']}").status_code == 200
    assert api("zhou").get("/tasks").get_json() == []
    # A 两委 member may record the 两委 meeting (extra role) and sees it in the worklist.
    assert [t["name"] for t in walk.member.get("/tasks").get_json()] == ["two_committees"]
    assert walk.supervisor.get("/instances/999999").status_code == 404


def test_no_one_reviews_their_own_record(api, app):
    # Make 张书记 also a supervisor: he still may not review the meeting he recorded.
    import tempfile
    from pathlib import Path

    from web.cli import import_file

    doc = Path(tempfile.mkdtemp()) / "more.yaml"
    doc.write_text("people:\n  - username: zhang\n    name: 张书记\n    roles:\n"
                   "      - {village: demo-001, role: party_secretary}\n"
                   "      - {village: demo-001, role: supervisor}\n", encoding="utf-8")
    with app.app_context():
        import_file(doc)
    walk = Walk(api)
    walk.start()
    walk.meeting("two_committees", "two_committees")
    task = walk.task("review_two_committees")
    r = walk.secretary.post(f"/tasks/{task['id']}/complete", json={"data": {"decision": "approve"}})
    assert r.status_code == 403 and "本人" in error_of(r)["message"]
    walk.review("review_two_committees")  # another supervisor may


def test_double_completion_is_409(api):
    walk = Walk(api)
    walk.start()
    task = walk.task("two_committees")
    r1 = walk.secretary.post(f"/tasks/{task['id']}/complete", json={"data": MEETING_OK["two_committees"]})
    r2 = walk.secretary.post(f"/tasks/{task['id']}/complete", json={"data": MEETING_OK["two_committees"]})
    assert r1.status_code == 200 and r2.status_code == 409
    assert "已经办理" in error_of(r2)["message"]


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_concurrent_completion_has_exactly_one_winner(backend, request):
    app = request.getfixturevalue("app" if backend == "sqlite" else "pg_app")
    from tests.conftest import ApiClient

    walk = Walk(lambda u: ApiClient(app, u))
    walk.start()
    task = walk.task("two_committees")
    clients = [ApiClient(app, "zhang") for _ in range(8)]
    for c in clients:
        assert c.headers  # log in before the race
    results: list[int] = []
    barrier = threading.Barrier(len(clients))

    def go(c):
        barrier.wait()
        r = c.post(f"/tasks/{task['id']}/complete", json={"data": MEETING_OK["two_committees"]})
        results.append(r.status_code)

    threads = [threading.Thread(target=go, args=(c,)) for c in clients]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == [200] + [409] * (len(clients) - 1), results
    history = walk.refresh()["history"]
    assert sum(1 for h in history if h["action"] == "complete" and h["task"] == task["id"]) == 1


def test_board_is_public_and_verifies(api):
    anon = api(None)
    assert anon.get("/villages/demo-001/board").get_json() == []
    verify = anon.get("/villages/demo-001/board/verify").get_json()
    assert verify["ok"] is True and verify["entries"] == 0 and len(verify["head"]) == 64
    assert anon.get("/villages/nowhere/board").status_code == 404


def test_objection_validation(api):
    walk = Walk(api)
    walk.start()
    walk.to_resolution()
    walk.disclose("resolution")
    entry = walk.board()[0]
    anon = api(None)
    r = anon.post(f"/board/{entry['id']}/objections", json={"name": "刘", "text": ""})
    assert r.status_code == 422
    assert "text" in error_of(r)["fields"]
    before = anon.get("/villages/demo-001/board").get_json()[0]["objections"]
    assert before == []
    r = anon.post("/board/999/objections", json={"name": "刘", "text": "x"})
    assert r.status_code == 404


def test_diagram_endpoints_answer_without_500(api):
    anon = api(None)
    r = anon.get("/processes/major-decision/diagram")
    assert r.status_code == 200 and r.mimetype == "image/svg+xml"
    assert error_of(anon.get("/processes/major-decision/diagram?format=gif"))["code"]
    assert anon.get("/processes/nope/diagram").status_code == 404


def test_page_session_reads_the_api_but_cannot_change_anything(app):
    client = app.test_client()
    assert client.post("/login", data={"username": "zhang", "password": "demo123"}).status_code == 302
    assert client.get("/api/v1/tasks").status_code == 200
    r = client.post("/api/v1/instances", json={"process": "major-decision", "village": "demo-001", "title": "x",
                                               "data": {"title": "x", "summary": "y"}})
    assert r.status_code == 401


def test_out_of_range_ids_are_404(api):
    huge = 2**70
    assert api(None).post(f"/board/{huge}/objections", json={"name": "刘", "text": "x"}).status_code == 404
    assert api("zhang").get(f"/instances/{huge}").status_code == 404


def test_a_changed_password_revokes_tokens_at_once(app, api, tmp_path):
    from web.cli import import_file

    client = api("zhang")
    assert client.get("/tasks").status_code == 200
    doc = tmp_path / "pw.yaml"
    doc.write_text("people:\n  - username: zhang\n    name: 张书记\n    password: newpass\n    roles:\n"
                   "      - {village: demo-001, role: party_secretary}\n", encoding="utf-8")
    with app.app_context():
        import_file(doc)
    assert client.get("/tasks").status_code == 401
