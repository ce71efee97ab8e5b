"""Meeting dates as they can have been, the ten days' notice of a 村民会议, and the 监委会's 列席
(issue 10 rule 2 and 列席; issue 15 dates; CONTRACT "What people see"; 组织法 第二十一条、第三十二条)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tests.conftest import ApiClient
from tests.flows import Walk


@pytest.fixture
def walk(app):
    walk = Walk(lambda u: ApiClient(app, u))
    walk.start()
    return walk


def _fields(r) -> dict:
    assert r.status_code == 422, r.get_json()
    return r.get_json()["error"]["fields"]


def test_a_meeting_cannot_be_held_tomorrow(walk, clock):
    fields = _fields(walk.meeting("two_committees", "two_committees", status=422, held_on="2026-03-03"))
    assert "晚于今天（2026-03-02）" in fields["held_on"][0]
    walk.meeting("two_committees", "two_committees", held_on="2026-03-02")


def test_today_is_beijing_today(app, clock):
    clock.value = datetime(2026, 3, 2, 17, 0, tzinfo=UTC)  # 2026-03-03 01:00 in Beijing
    walk = Walk(lambda u: ApiClient(app, u))
    walk.start()
    walk.meeting("two_committees", "two_committees", held_on="2026-03-03")


def test_a_meeting_cannot_be_before_the_case(walk):
    for day in ("1900-01-01", "2026-03-01"):
        fields = _fields(walk.meeting("two_committees", "two_committees", status=422, held_on=day))
        assert "早于本事项发起的日期（2026-03-02）" in fields["held_on"][0]
        assert set(fields) == {"held_on"}


def test_a_meeting_cannot_be_before_an_earlier_meeting_of_the_case(walk, clock):
    clock.advance(days=3)
    walk.meeting("two_committees", "two_committees", held_on="2026-03-04")
    walk.review("review_two_committees")
    fields = _fields(walk.meeting("party_members", "party_members", status=422, held_on="2026-03-03"))
    assert "早于本事项已记录的" in fields["held_on"][0] and "2026-03-04" in fields["held_on"][0]
    walk.meeting("party_members", "party_members", held_on="2026-03-04")  # the same day is fine


def _to_assembly(walk):
    walk.start(assembly="villager_assembly")
    walk.meeting("two_committees", "two_committees")
    walk.review("review_two_committees")
    walk.meeting("party_members", "party_members")
    walk.review("review_party_members")


@pytest.mark.parametrize("announced,ok", [("2026-02-20", True), ("2026-02-19", True), ("2026-02-21", False),
                                          ("2026-03-01", False), ("2026-03-02", False)])
def test_a_villager_assembly_is_announced_ten_days_ahead(walk, clock, announced, ok):
    """组织法 第二十一条: 召集村民会议，应当提前十天通知村民 — 10 days ahead is enough, 9 is not."""
    _to_assembly(walk)
    if ok:
        walk.meeting("villager_assembly", "villager_assembly", held_on="2026-03-02", announced_on=announced)
        data = walk.secretary.get(f"/tasks/{walk.case['history'][-1]['task']}").get_json()["data"]
        assert data["announced_on"] == announced
    else:
        fields = _fields(walk.meeting("villager_assembly", "villager_assembly", status=422, held_on="2026-03-02",
                                      announced_on=announced))
        assert "须提前10天通知村民" in fields["announced_on"][0] and "第二十一条" in fields["announced_on"][0]


def test_a_villager_assembly_needs_its_notice_date(walk):
    _to_assembly(walk)
    task = walk.task("villager_assembly")
    data = {"held_on": "2026-03-02", "attended": 500, "approve": 400, "oppose": 50, "abstain": 50, "minutes": "x"}
    r = walk.director.post(f"/tasks/{task['id']}/complete", json={"data": data})
    assert "请填写通知日期" in _fields(r)["announced_on"][0]
    r = walk.director.post(f"/tasks/{task['id']}/complete", json={"data": {**data, "announced_on": "2026-03-05"}})
    assert "不能晚于会议日期" in _fields(r)["announced_on"][0]


def test_the_supervisor_attends_the_two_committees_and_the_review_sees_it(walk):
    walk.meeting("two_committees", "two_committees", supervisors_present="赵监委、钱监委",
                 supervisor_opinion="程序合规，表决如实记录")
    review = walk.supervisor.get(f"/tasks/{walk.task('review_two_committees')['id']}").get_json()
    data = walk.secretary.get(f"/tasks/{walk.case['history'][-1]['task']}").get_json()["data"]
    assert data["supervisors_present"] == "赵监委、钱监委" and data["supervisor_opinion"] == "程序合规，表决如实记录"
    assert review["name"] == "review_two_committees"


def test_no_attendance_at_the_party_members_meeting(walk):
    walk.meeting("two_committees", "two_committees")
    walk.review("review_two_committees")
    fields = _fields(walk.meeting("party_members", "party_members", status=422, supervisors_present="赵监委"))
    assert "党员大会不设村务监督委员会列席" in fields["supervisors_present"][0]


def test_attendance_at_the_representatives_follows_the_law_in_force(app, clock):
    """D10: from 2026-01-01 the 村务监督机构 may attend the 村民代表会议; before, only 村委会 meetings."""
    for start, ok in ((datetime(2025, 12, 20, 8, 0, tzinfo=UTC), False), (datetime(2026, 1, 1, 8, 0, tzinfo=UTC), True)):
        clock.value = start
        walk = Walk(lambda u: ApiClient(app, u))
        walk.start()
        walk.meeting("two_committees", "two_committees")
        walk.review("review_two_committees")
        walk.meeting("party_members", "party_members")
        walk.review("review_party_members")
        if ok:
            walk.meeting("representatives", "representatives", supervisors_present="赵监委")
        else:
            fields = _fields(walk.meeting("representatives", "representatives", status=422,
                                          supervisors_present="赵监委"))
            assert "2026年1月1日前" in fields["supervisors_present"][0]
