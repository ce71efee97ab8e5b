"""D9 (组织法第三十二条): the 村务监督委员会 supervises and never decides.

A review `return` sends the record back to be corrected (the meeting is not held again: its date
cannot change); `object` holds the case and gives the township's 纪委 an `inspection` task whose
`dismiss` releases the hold and whose `redo` has the stage done again. An objection reply may
`uphold` (the notice is corrected and posted again, D8) or `escalate` (hold + inspection)."""

from __future__ import annotations

import pytest

from tests.flows import MEETING_OK, Walk


def _status(walk: Walk) -> str:
    return walk.refresh()["status"]


@pytest.mark.parametrize("backend", ["sqlite", "pg"])
def test_object_holds_the_case_until_the_township_inspects(backend, request):
    app = request.getfixturevalue("app" if backend == "sqlite" else "pg_app")
    from tests.conftest import ApiClient

    walk = Walk(lambda who: ApiClient(app, who))
    walk.start()
    walk.meeting("two_committees", "two_committees")
    r = walk.do(walk.supervisor, "review_two_committees", {"decision": "object"}, status=422)
    assert "opinion" in r.get_json()["error"]["fields"]
    walk.do(walk.supervisor, "review_two_committees", {"decision": "object", "opinion": "未提前七天送达议题"})
    case = walk.refresh()
    assert case["status"] == "on_hold" and "未提前七天送达议题" in case["hold_reason"]
    inspect = walk.task("inspect_review_two_committees")
    assert inspect["form"] == "inspection" and inspect["role"] == "discipline_inspector"
    # The village cannot lift a hold the township must decide; a supervisor cannot inspect.
    assert ApiClient(app, "zhao").post(f"/instances/{case['id']}/release", json={"note": "x"}).status_code == 403
    assert ApiClient(app, "zhao").post(f"/tasks/{inspect['id']}/complete",
                                       json={"data": {"finding": "dismiss", "opinion": "x"}}).status_code == 403
    inspector = ApiClient(app, "wu")
    assert inspector.get("/tasks").get_json()[0]["name"] == "inspect_review_two_committees"
    walk.do(inspector, "inspect_review_two_committees", {"finding": "dismiss", "opinion": "议题已送达，程序无误"})
    assert _status(walk) == "running"
    assert walk.ready() == ["party_members"]
    actions = [h["action"] for h in walk.case["history"]]
    assert actions.count("hold") == 1 and actions.count("release") == 1


def test_redo_has_the_meeting_held_again(api, clock):
    walk = Walk(api)
    walk.start()
    walk.meeting("two_committees", "two_committees")
    walk.do(walk.supervisor, "review_two_committees", {"decision": "object", "opinion": "两委成员未全部通知"})
    # Other steps of a held case answer 409; the inspection does not.
    walk.do(api("wu"), "inspect_review_two_committees", {"finding": "redo", "opinion": "重新召开两委会议"})
    assert _status(walk) == "running"
    assert walk.ready() == ["two_committees"]
    # A meeting held again may have a new date (it is not a correction).
    clock.advance(days=2)
    walk.meeting("two_committees", "two_committees", held_on="2026-03-04")
    assert walk.ready() == ["review_two_committees"]


def test_return_corrects_the_record_and_never_reholds_the_meeting(api):
    walk = Walk(api)
    walk.start()
    walk.meeting("two_committees", "two_committees", attended=7, approve=5, oppose=2)
    walk.review("review_two_committees", "return", "票数与表决记录不符，赞成6票")
    assert walk.ready() == ["two_committees"]
    # A different date would be another meeting: a correction keeps the date of the meeting held.
    r = walk.meeting("two_committees", "two_committees", status=422, held_on="2026-03-10")
    assert "held_on" in r.get_json()["error"]["fields"]
    assert "会议日期不能改变" in r.get_json()["error"]["fields"]["held_on"][0]
    walk.meeting("two_committees", "two_committees")
    history = walk.case["history"]
    assert any("更正记录" in h["summary"] for h in history)
    assert walk.ready() == ["review_two_committees"]


def test_a_held_case_answers_409_to_its_other_tasks(api):
    walk = Walk(api)
    walk.start()
    walk.meeting("two_committees", "two_committees")
    walk.review("review_two_committees")
    walk.secretary.post(f"/instances/{walk.case['id']}/hold", json={"reason": "x"})  # 书记 may not hold
    assert _status(walk) == "running"
    assert api("zhao").post(f"/instances/{walk.case['id']}/hold", json={"reason": "核查票数"}).status_code == 200
    task = walk.task("party_members")
    r = walk.secretary.post(f"/tasks/{task['id']}/complete", json={"data": MEETING_OK["party_members"]})
    assert r.status_code == 409 and "暂停" in r.get_json()["error"]["message"]


def _objection(walk: Walk, api) -> None:
    walk.to_resolution()
    walk.disclose("resolution")
    entry = walk.board()[0]
    r = api(None).post(f"/board/{entry['id']}/objections", json={"name": "刘", "text": "占用了我家的地"})
    assert r.status_code == 201


def test_an_upheld_objection_reposts_the_notice_not_the_proposal(api):
    walk = Walk(api)
    walk.start()
    _objection(walk, api)
    walk.do(walk.supervisor, "reply_resolution_objection", {"decision": "uphold", "reply": "公示漏列占地农户，更正后重新公示"})
    assert walk.ready() == ["draft_resolution_disclosure"]
    walk.disclose("resolution", content="更正后的公示")
    titles = [e["title"] for e in walk.board() if e["kind"] == "resolution"]
    assert any("重新公示" in t for t in titles)


def test_an_escalated_objection_holds_the_case_for_the_township(api):
    walk = Walk(api)
    walk.start()
    _objection(walk, api)
    walk.do(walk.supervisor, "reply_resolution_objection", {"decision": "escalate", "reply": "涉及决议本身，报乡镇纪委核查"})
    case = walk.refresh()
    assert case["status"] == "on_hold"
    walk.do(api("wu"), "inspect_reply_resolution_objection", {"finding": "redo", "opinion": "占地未经表决，重新提议"})
    assert _status(walk) == "running" and walk.ready() == ["propose"]
    reply = next(e for e in walk.board() if e["kind"] == "objection_reply")
    assert "报乡镇纪委核查" in reply["content"]
