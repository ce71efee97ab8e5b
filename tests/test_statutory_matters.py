"""Rule 1 of issue 10 (R2): a 第二十四条 matter is decided by the 村民会议, or by the 村民代表会议 only
under the 村民会议's authorisation on file (《村民委员会组织法》第二十四条第一款、第二款). Refused at the
提议 and again at the 决议, not only later when another item links the resolution."""

from __future__ import annotations

from sqlalchemy import select

from engine.store.models import Village
from tests.conftest import ApiClient
from tests.flows import PROPOSAL, Walk


def _authorise(app, text: str) -> None:
    with app.extensions["cunwu"].transaction() as session:
        village = session.scalar(select(Village).where(Village.code == "demo-001"))
        village.settings = {**(village.settings or {}), "assembly_authorisation": text}


def _walk(app) -> Walk:
    return Walk(lambda u: ApiClient(app, u))


def test_a_statutory_matter_for_the_representatives_is_refused_at_the_proposal(app):
    walk = _walk(app)
    r = walk.secretary.post("/instances", json={"process": "major-decision", "village": "demo-001", "title": "误工补贴",
                                                "data": {**PROPOSAL, "matter": "allowance"}})
    assert r.status_code == 422, r.get_json()
    error = r.get_json()["error"]
    assert "第二十四条" in error["fields"]["assembly"][0] and "村民会议" in error["message"]
    assert walk.secretary.get("/tasks").get_json() == []  # nothing half-stored


def test_the_villager_assembly_or_a_non_statutory_matter_goes_ahead(app):
    _walk(app).start(matter="allowance", assembly="villager_assembly")
    _walk(app).start(matter="major_spending")  # 大额资金使用: a local addition, not 第二十四条


def test_with_the_authorisation_on_file_the_representatives_decide(app):
    _authorise(app, "2025年第1次村民会议授权村民代表会议讨论决定第二十四条所列事项")
    walk = _walk(app)
    walk.start(matter="public_welfare")
    walk.to_resolution()
    assert walk.ready() == ["draft_resolution_disclosure"]


def test_an_authorisation_withdrawn_before_the_vote_stops_the_resolution(app):
    _authorise(app, "2025年第1次村民会议授权决定")
    walk = _walk(app)
    walk.start(matter="public_welfare")
    walk.meeting("two_committees", "two_committees")
    walk.review("review_two_committees")
    walk.meeting("party_members", "party_members")
    walk.review("review_party_members")
    _authorise(app, "")
    r = walk.meeting("representatives", "representatives", status=422)
    assert "村民代表会议不能对此表决" in r.get_json()["error"]["message"]
    assert walk.ready() == ["representatives"]


def test_the_party_study_date_is_kept_and_cannot_be_in_the_future(app):
    walk = _walk(app)
    r = walk.secretary.post("/instances", json={"process": "major-decision", "village": "demo-001", "title": "x",
                                                "data": {**PROPOSAL, "party_study_on": "2026-03-03"}})
    assert r.status_code == 422 and "party_study_on" in r.get_json()["error"]["fields"]
    case = walk.start(party_study_on="2026-02-27")
    proposal = next(h for h in case["history"] if h.get("task"))
    data = walk.secretary.get(f"/tasks/{proposal['task']}").get_json()["data"]
    assert data["party_study_on"] == "2026-02-27"
