"""四议两公开 path by path, through the JSON API, with the test clock."""

from __future__ import annotations

import pytest

from tests.flows import Walk


@pytest.fixture
def walk(api):
    return Walk(api)


def run_timers(app):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["timers", "run"])
    assert result.exit_code == 0, result.output
    return result.output


def test_happy_path_completes_with_two_board_entries(app, walk, clock):
    case = walk.start()
    assert case["status"] == "running"
    assert walk.ready() == ["two_committees"]
    walk.to_resolution()
    walk.disclose("resolution", "经村民代表会议表决通过：硬化村东道路。")
    # The resolution is on the board with a 7-day notice; implementation waits for it.
    board = walk.board()
    assert [e["kind"] for e in board] == ["resolution"]
    assert board[0]["in_notice"] is True
    assert walk.ready() == []
    waiting = [t for t in walk.case["tasks"] if t["state"] == "waiting"]
    assert waiting and waiting[0]["due_at"] == board[0]["notice_until"]
    clock.advance(days=6, hours=23)
    run_timers(app)
    assert walk.ready() == [], "implementation must wait until the notice period has run"
    clock.advance(hours=1, seconds=1)
    run_timers(app)
    assert walk.ready() == ["implement"]
    walk.do(walk.director, "implement", {"summary": "道路已硬化完成", "amount_spent": "176500.50"})
    walk.review("review_implementation")
    walk.disclose("result", "道路硬化完成，实际支出176500.50元。")
    clock.advance(days=7, seconds=1)
    run_timers(app)
    case = walk.refresh()
    assert case["status"] == "completed"
    assert [e["kind"] for e in walk.board()] == ["result", "resolution"]
    verify = walk.public.get("/villages/demo-001/board/verify").get_json()
    assert verify["ok"] is True and verify["entries"] == 2
    actions = [h["action"] for h in case["history"]]
    assert actions[0] == "start" and actions[-1] == "end"
    assert all(h["actor"] and h["at"] for h in case["history"])


def test_lapsed_meeting_is_held_again(walk):
    walk.start()
    # 4 of 7 attend (more than half) would be valid; 3 of 7 is not: 流会.
    walk.meeting("two_committees", "two_committees", attended=3, approve=3, oppose=0, abstain=0)
    assert walk.ready() == ["two_committees"]
    history = walk.case["history"]
    assert "流会" in history[-1]["summary"]
    walk.meeting("two_committees", "two_committees")
    assert walk.ready() == ["review_two_committees"]


def test_party_members_vote_no_goes_back_to_a_revised_proposal(walk):
    walk.start()
    walk.meeting("two_committees", "two_committees")
    walk.review("review_two_committees")
    # 30 should attend: 15 approvals is exactly half, not more than half → fails.
    walk.meeting("party_members", "party_members", attended=25, approve=15, oppose=10, abstain=0)
    assert walk.ready() == ["propose"]
    walk.do(walk.secretary, "propose", {"title": "硬化村东道路（修改）", "summary": "缩短为0.8公里"})
    assert walk.ready() == ["two_committees"]


def test_resolution_voted_down_rejects_the_case(walk):
    walk.start()
    walk.meeting("two_committees", "two_committees")
    walk.review("review_two_committees")
    walk.meeting("party_members", "party_members")
    walk.review("review_party_members")
    # 24 present: 12 approvals is not more than half of those present.
    walk.meeting("representatives", "representatives", attended=24, approve=12, oppose=12, abstain=0)
    assert walk.refresh()["status"] == "rejected"
    assert walk.ready() == []


def test_villager_assembly_path(walk):
    walk.start(assembly="villager_assembly")
    walk.meeting("two_committees", "two_committees")
    walk.review("review_two_committees")
    walk.meeting("party_members", "party_members")
    walk.review("review_party_members")
    assert walk.ready() == ["villager_assembly"]
    # 450 of 900 adults is not more than half, but 214 of 320 households is two thirds: valid.
    walk.meeting("villager_assembly", "villager_assembly", attended=450, approve=300, oppose=100, abstain=50,
                 attended_households=214)
    assert walk.ready() == ["review_resolution"]


def test_withdrawn_after_failed_party_vote(walk):
    walk.start()
    walk.meeting("two_committees", "two_committees", attended=7, approve=3, oppose=4, abstain=0)
    assert walk.ready() == ["propose"]
    walk.do(walk.secretary, "propose", {"title": "硬化村东道路", "summary": "撤回", "withdraw": True})
    assert walk.refresh()["status"] == "withdrawn"


def test_review_return_sends_the_record_back(walk):
    walk.start()
    walk.meeting("two_committees", "two_committees")
    r = walk.review("review_two_committees", "return", "会议纪要缺少签名")
    assert r.status_code == 200
    assert walk.ready() == ["two_committees"]


def test_objection_dismissed_keeps_the_deadline(app, walk, clock):
    walk.start()
    walk.to_resolution()
    walk.disclose("resolution")
    entry = walk.board()[0]
    clock.advance(days=2)
    r = walk.public.post(f"/board/{entry['id']}/objections", json={"name": "刘村民", "contact": "13800000000",
                                                                     "text": "表决人数有疑问"})
    assert r.status_code == 201
    assert walk.ready() == ["reply_resolution_objection"]
    walk.do(walk.supervisor, "reply_resolution_objection", {"decision": "dismiss", "reply": "经核实，表决人数无误。"})
    board = walk.board()
    assert board[0]["kind"] == "objection_reply"
    objected = next(e for e in board if e["id"] == entry["id"])
    assert objected["objections"][0]["reply"] == "经核实，表决人数无误。"
    clock.advance(days=5, seconds=1)  # 7 days after posting
    run_timers(app)
    assert walk.ready() == ["implement"]


def test_objection_upheld_requires_a_new_disclosure_with_a_full_period(app, walk, clock):
    walk.start()
    walk.to_resolution()
    walk.disclose("resolution")
    first = walk.board()[0]
    clock.advance(days=3)
    walk.public.post(f"/board/{first['id']}/objections", json={"name": "刘村民", "text": "方案未经党员大会"})
    walk.do(walk.supervisor, "reply_resolution_objection", {"decision": "uphold", "reply": "异议成立，更正公示。"})
    # D8 (revised 2026-12): the notice is corrected and posted again; the resolution stands.
    assert walk.ready() == ["draft_resolution_disclosure"]
    walk.disclose("resolution", "更正后的决议公示")
    second = walk.board()[0]
    assert second["kind"] == "resolution" and second["refers_to"] == first["id"]
    clock.advance(days=6)
    run_timers(app)
    assert walk.ready() == [], "the new notice runs a full 7 days from its own posting"
    clock.advance(days=1, seconds=1)
    run_timers(app)
    assert walk.ready() == ["implement"]
    # The superseded entry takes no more objections.
    r = walk.public.post(f"/board/{first['id']}/objections", json={"name": "某", "text": "再议"})
    assert r.status_code == 409


def test_two_objections_both_need_a_reply(app, walk, clock):
    walk.start()
    walk.to_resolution()
    walk.disclose("resolution")
    entry = walk.board()[0]
    for name in ("甲", "乙"):
        assert walk.public.post(f"/board/{entry['id']}/objections", json={"name": name, "text": "有异议"}).status_code == 201
    walk.do(walk.supervisor, "reply_resolution_objection", {"decision": "dismiss", "reply": "答复一"})
    assert walk.ready() == ["reply_resolution_objection"]
    walk.do(walk.supervisor, "reply_resolution_objection", {"decision": "dismiss", "reply": "答复二"})
    clock.advance(days=8)
    run_timers(app)
    assert walk.ready() == ["implement"]


def test_objection_after_the_notice_period_is_refused(app, walk, clock):
    walk.start()
    walk.to_resolution()
    walk.disclose("resolution")
    entry = walk.board()[0]
    clock.advance(days=7)
    r = walk.public.post(f"/board/{entry['id']}/objections", json={"name": "刘", "text": "晚了"})
    assert r.status_code == 409
    assert "公示期满" in r.get_json()["error"]["message"]


def test_notice_days_below_the_floor_is_refused(walk):
    walk.start()
    walk.to_resolution()
    r = walk.do(walk.director, "draft_resolution_disclosure", {"content": "x", "notice_days": 6}, status=422)
    assert "notice_days" in r.get_json()["error"]["fields"]


def test_hold_blocks_progress_until_released(walk):
    walk.start()
    r = walk.supervisor.post(f"/instances/{walk.case['id']}/hold", json={"reason": "群众反映未公开征求意见"})
    assert r.status_code == 200 and r.get_json()["status"] == "on_hold"
    walk.meeting("two_committees", "two_committees", status=409)
    r = walk.secretary.post(f"/instances/{walk.case['id']}/hold", json={"reason": "x"})
    assert r.status_code == 403
    assert walk.supervisor.post(f"/instances/{walk.case['id']}/release", json={}).status_code == 200
    walk.meeting("two_committees", "two_committees")


def test_rules_version_is_recorded(walk, clock):
    from datetime import UTC, datetime

    clock.value = datetime(2025, 12, 31, 8, 0, tzinfo=UTC)
    walk.start()
    walk.meeting("two_committees", "two_committees", held_on="2025-12-31")
    history = walk.case["history"]
    assert history[-1]["action"] == "complete"
    task_id = history[-1]["task"]
    data = walk.secretary.get(f"/tasks/{task_id}").get_json()["data"]
    assert data["rules_version"] == "organic-law-2018"
    walk.review("review_two_committees")
    clock.advance(days=1)
    walk.meeting("party_members", "party_members", held_on="2026-01-01")
    task_id = walk.case["history"][-1]["task"]
    assert walk.secretary.get(f"/tasks/{task_id}").get_json()["data"]["rules_version"] == "organic-law-2025"
