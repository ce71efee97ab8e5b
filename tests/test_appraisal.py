"""年度民主评议 (R33) through the JSON API.

《中华人民共和国村民委员会组织法》第三十三条（2018年修正）: 村民委员会成员以及由村民或者村集体承担误工补贴
的聘用人员，应当接受村民会议或者村民代表会议对其履行职责情况的民主评议。民主评议每年至少进行一次，由村务
监督机构主持。村民委员会成员连续两次被评议不称职的，其职务终止。

The demo village has 30 村民代表会议 members: the meeting is valid with 20 present (三分之二以上, D4/R14),
not with 19, and certainly not with 15 (exactly half).
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from engine.catalogue import village_settings as item_settings
from engine.catalogue.compliance import check_definition
from engine.domain import rules
from engine.forms import FORMS, describe
from tests.test_items_public import Item

VILLAGE = "demo-001"
PROCESS = "annual-appraisal"
PEOPLE = "王主任，村委会主任，村委会成员\n李委员，村委会委员，村委会成员\n孙会计，报账员，误工补贴人员"
REPORTS = "王主任，全年组织修路两项，账目按月公开\n李委员，负责调解纠纷十二起\n孙会计，按时报账，无白条入账"
VOTES_OK = "王主任，17，2，1\n李委员，10，8，2\n孙会计，15，4，1"


@pytest.fixture
def api(app):
    from tests.conftest import ApiClient

    clients: dict = {}

    def login(username=None):
        if username not in clients:
            clients[username] = ApiClient(app, username)
        return clients[username]

    return login


@pytest.fixture
def appraisal(app, api):
    def make() -> Item:
        return Item(app, api, PROCESS)
    return make


@pytest.fixture
def pg_appraisal(pg_app):
    from tests.conftest import ApiClient

    clients: dict = {}

    def login(username=None):
        if username not in clients:
            clients[username] = ApiClient(pg_app, username)
        return clients[username]

    def make() -> Item:
        return Item(pg_app, login, PROCESS)
    return make


def vote(held_on: str = "2026-03-02", attended: int = 20, votes: str = VOTES_OK) -> dict:
    return {"held_on": held_on, "attended": attended, "votes": votes, "minutes": "监委会主任主持，逐人述职后无记名投票"}


def opened(appraisal, year: int = 2025, people: str = PEOPLE) -> Item:
    case = appraisal()
    case.start("zhao", {"year": year, "appraisees": people}, title=f"{year}年度民主评议")
    assert case.ready() == ["reports"]
    case.do("zhao", "reports", {"reports": REPORTS})
    assert case.ready() == ["appraisal_meeting"]
    return case


def publish(case: Item, clock, content: str = "评议结果") -> None:
    case.do("zhao", "draft_appraisal_disclosure", {"content": content, "notice_days": 7})
    case.do("qian", "review_appraisal_disclosure", {"decision": "approve"})
    case.timers(clock, 7)


# ---------------------------------------------------------------------------- the whole run


def test_full_run_through_the_api(appraisal, clock, api):
    case = opened(appraisal)
    meeting = case.task("appraisal_meeting")
    assert meeting["role"] == "supervisor" and meeting["body"] == "representatives"
    assert meeting["should_attend"] == 30, "who should attend comes from the village record"
    case.do("zhao", "appraisal_meeting", vote())
    data = case.data_of("appraisal_meeting")
    assert data["outcome"] == "passed" and data["rules_version"] == "organic-law-2025"
    grades = {r["name"]: r["grade_name"] for r in data["results"]}
    assert grades == {"王主任": "称职", "李委员": "基本称职", "孙会计": "称职"}
    assert data["flagged"] == [] and data["flagged_count"] == 0
    assert case.ready() == ["draft_appraisal_disclosure"]

    # the results notice: drafted by one 监委会 member, reviewed by another (never one's own record)
    assert data["results_text"] == ("2025年度民主评议结果（2026-03-02村民代表会议，实到20人）："
                                    "王主任（村委会主任）称职：称职17票、基本称职2票、不称职1票；"
                                    "李委员（村委会委员）基本称职：称职10票、基本称职8票、不称职2票；"
                                    "孙会计（报账员）称职：称职15票、基本称职4票、不称职1票")
    case.do("zhao", "draft_appraisal_disclosure", {"content": data["results_text"], "notice_days": 7})
    r = case.do("zhao", "review_appraisal_disclosure", {"decision": "approve"}, status=403)
    assert "不能审核本人" in r.get_json()["error"]["message"]
    case.do("qian", "review_appraisal_disclosure", {"decision": "approve"})
    entry = case.board()[0]
    assert entry["case"] == case.case["id"] and entry["in_notice"]
    assert entry["title"] == "2025年度民主评议（民主评议结果公示）"
    assert "李委员（村委会委员）基本称职" in entry["content"]
    assert case.waiting() == ["wait_result"]
    case.timers(clock, 7)
    assert case.status == "completed"
    assert api(None).get(f"/villages/{VILLAGE}/board/verify").get_json()["ok"] is True


def test_only_the_supervision_committee_opens_it(appraisal):
    case = appraisal()
    r = case.start("wang", {"year": 2025, "appraisees": PEOPLE}, status=403)
    assert "村务监督委员会" in r.get_json()["error"]["message"]


def test_an_objection_to_the_results_is_answered_by_the_committee(appraisal, clock):
    case = opened(appraisal)
    case.do("zhao", "appraisal_meeting", vote())
    case.do("zhao", "draft_appraisal_disclosure", {"content": "评议结果", "notice_days": 7})
    case.do("qian", "review_appraisal_disclosure", {"decision": "approve"})
    entry = case.board()[0]
    r = case.client(None).post(f"/board/{entry['id']}/objections", json={"name": "村民甲", "text": "票数不对"})
    assert r.status_code == 201
    assert case.ready() == ["reply_appraisal_objection"]
    case.do("qian", "reply_appraisal_objection", {"decision": "uphold", "reply": "票数抄写有误，更正后重新公示"})
    assert case.ready() == ["draft_appraisal_disclosure"], "an upheld objection corrects the notice, no new vote"


def test_an_escalated_objection_lets_the_township_order_a_new_appraisal(appraisal):
    case = opened(appraisal)
    case.do("zhao", "appraisal_meeting", vote())
    case.do("zhao", "draft_appraisal_disclosure", {"content": "评议结果", "notice_days": 7})
    case.do("qian", "review_appraisal_disclosure", {"decision": "approve"})
    entry = case.board()[0]
    case.client(None).post(f"/board/{entry['id']}/objections", json={"name": "村民乙", "text": "会上有人代投"})
    case.do("zhao", "reply_appraisal_objection", {"decision": "escalate", "reply": "涉及评议本身，报乡镇纪委核查"})
    assert case.status == "on_hold"
    case.do("wu", "inspect_reply_appraisal_objection", {"finding": "redo", "opinion": "代投属实，重新评议"})
    assert case.status == "running"
    assert case.ready() == ["appraisal_meeting"]


# ---------------------------------------------------------------------------- quorum (D4, R14)


@pytest.mark.parametrize("attended,outcome", [(15, "lapsed"), (19, "lapsed"), (20, "passed"), (30, "passed")])
def test_quorum_of_the_representatives_meeting(appraisal, attended, outcome):
    case = opened(appraisal)
    case.do("zhao", "appraisal_meeting", vote(attended=attended, votes="王主任，10，3，1\n李委员，10，3，2\n孙会计，10，4，1"))
    data = case.data_of("appraisal_meeting")
    assert data["outcome"] == outcome, data["outcome_reason"]
    if outcome == "lapsed":
        assert "流会" in data["outcome_reason"] and "三分之二" in data["outcome_reason"]
        assert case.ready() == ["appraisal_meeting"], "a lapsed meeting is held again"
        assert "results" not in data
    else:
        assert case.ready() == ["draft_appraisal_disclosure"]


def test_exactly_half_present_is_not_a_quorum():
    """15 of 30 is half, not two thirds: the rule of the body (D4), not more than half."""
    result = rules.evaluate_meeting("representatives", should_attend=30, attended=15, approve=0, on=date(2026, 3, 2))
    assert not result.quorum_met
    assert rules.evaluate_meeting("representatives", should_attend=30, attended=20, approve=0,
                                  on=date(2026, 3, 2)).quorum_met


def test_a_lapsed_meeting_needs_no_votes(appraisal):
    case = opened(appraisal)
    data = {"held_on": "2026-03-02", "attended": 12, "minutes": "到会不足，流会"}
    case.do("zhao", "appraisal_meeting", data)
    assert case.data_of("appraisal_meeting")["outcome"] == "lapsed"


def test_a_valid_meeting_needs_every_persons_votes(appraisal):
    case = opened(appraisal)
    message = case.refused("zhao", "appraisal_meeting", {**vote(), "votes": ""}, "votes")
    assert "评议票数" in message
    message = case.refused("zhao", "appraisal_meeting", vote(votes="王主任，18，3，1\n李委员，12，6，2"), "votes")
    assert "孙会计" in message
    message = case.refused("zhao", "appraisal_meeting", vote(votes=VOTES_OK + "\n赵某，1，1，1"), "votes")
    assert "赵某" in message and "不在" in message
    message = case.refused("zhao", "appraisal_meeting", vote(votes=VOTES_OK + "\n王主任，1，1，1"), "votes")
    assert "重复" in message


# ---------------------------------------------------------------------------- counts


def test_votes_exceeding_attendance_are_refused(appraisal):
    case = opened(appraisal)
    message = case.refused("zhao", "appraisal_meeting", vote(attended=20, votes="王主任，18，3，0\n李委员，12，6，2\n孙会计，15，4，1"),
                           "votes")
    assert message.endswith("王主任的称职、基本称职、不称职票合计（21）不能超过实到人数（20）")
    # exactly the attendance is fine
    case.do("zhao", "appraisal_meeting", vote(attended=20, votes="王主任，17，3，0\n李委员，12，6，2\n孙会计，15，4，1"))


def test_attendance_above_the_body_and_bad_numbers_are_refused(appraisal):
    case = opened(appraisal)
    message = case.refused("zhao", "appraisal_meeting", vote(attended=31), "attended")
    assert "实到人数（31）不能超过应到人数（30）" in message
    case.refused("zhao", "appraisal_meeting", vote(votes="王主任，18.5，3，1\n李委员，12，6，2\n孙会计，15，4，1"), "votes")
    case.refused("zhao", "appraisal_meeting", vote(votes="王主任，-1，3，1\n李委员，12，6，2\n孙会计，15，4，1"), "votes")
    r = case.do("zhao", "appraisal_meeting", {**vote(), "attended": "20"}, status=422)
    assert "attended" in r.get_json()["error"]["fields"], "integer fields are integers, never strings"
    case.refused("zhao", "appraisal_meeting", vote(held_on="2024-12-31"), "held_on")
    case.refused("zhao", "appraisal_meeting", vote(held_on="2026-03-03"), "held_on")


def test_plan_is_checked(appraisal):
    case = appraisal()
    r = case.start("zhao", {"year": 2025, "appraisees": "王主任，村委会主任，村长"}, status=422)
    assert "类别" in r.get_json()["error"]["fields"]["appraisees"][0]
    r = case.start("zhao", {"year": 2025, "appraisees": "王主任，村委会主任，村委会成员\n王主任，委员，村委会成员"}, status=422)
    assert "重复" in r.get_json()["error"]["message"]
    r = case.start("zhao", {"year": 2027, "appraisees": PEOPLE}, status=422)
    assert "year" in r.get_json()["error"]["fields"]


def test_one_appraisal_a_year(appraisal):
    opened(appraisal, 2025)
    case = appraisal()
    r = case.start("zhao", {"year": 2025, "appraisees": PEOPLE}, status=422)
    assert "每年度只办一件" in r.get_json()["error"]["fields"]["year"][0]


def test_reports_cover_every_person(appraisal):
    case = appraisal()
    case.start("zhao", {"year": 2025, "appraisees": PEOPLE})
    message = case.refused("zhao", "reports", {"reports": "王主任，述职"}, "reports")
    assert "李委员" in message and "孙会计" in message
    case.refused("zhao", "reports", {"reports": "王主任"}, "reports")
    case.do("zhao", "reports", {"reports": REPORTS})
    assert case.data_of("reports")["reported"][1] == {"name": "李委员", "summary": "负责调解纠纷十二起"}


# ---------------------------------------------------------------------------- grades


@pytest.mark.parametrize("fit,basic,unfit,grade", [
    (10, 0, 10, "basic"),   # 10 of 20 is half: not more than half either way
    (9, 0, 11, "unfit"),    # 11 of 20 is more than half
    (11, 9, 0, "fit"),
    (5, 5, 5, "basic"),
])
def test_grades(fit, basic, unfit, grade):
    assert rules.appraisal_grade(fit, basic, unfit, 20)[0] == grade


def test_two_thirds_setting_for_an_unfit_rating():
    strict = {"appraisal_unfit": "two_thirds_present"}
    assert rules.appraisal_grade(0, 7, 13, 20, strict)[0] == "basic"
    assert rules.appraisal_grade(0, 6, 14, 21, strict)[0] == "unfit"  # 14 of 21 is exactly two thirds
    assert item_settings.check_settings({"appraisal_unfit": "one_third"})["appraisal_unfit"]
    assert item_settings.check_settings(strict) == {}


# ---------------------------------------------------------------------------- two years running


UNFIT_WANG = "王主任，3，2，15\n李委员，12，6，2\n孙会计，2，3，15"


def test_unfit_two_years_running_is_flagged_to_the_township(appraisal, clock, api):
    first = opened(appraisal, 2025)
    first.do("zhao", "appraisal_meeting", vote(votes=UNFIT_WANG))
    assert first.data_of("appraisal_meeting")["flagged"] == [], "a first 不称职 is not flagged"
    publish(first, clock)
    assert first.status == "completed"

    second = opened(appraisal, 2026)
    second.do("zhao", "appraisal_meeting", vote(held_on="2026-03-09", votes="王主任，4，2，14\n李委员，2，2，16\n孙会计，2，2，16"))
    data = second.data_of("appraisal_meeting")
    flagged = {f["name"]: f for f in data["flagged"]}
    assert set(flagged) == {"王主任", "孙会计"}, "李委员 was 基本称职 last year"
    assert flagged["王主任"]["years"] == [2025, 2026]
    assert "职务终止" in flagged["王主任"]["consequence"] and "2018年修正本第三十三条" in flagged["王主任"]["consequence"]
    assert "解除聘用" in flagged["孙会计"]["consequence"]
    assert data["flagged_count"] == 2
    publish(second, clock)

    # the township sees it: a task in its worklist and the case on its desk
    assert second.ready() == ["township_followup"]
    tasks = api("zhou").get("/tasks").get_json()
    assert any(t["name"] == "township_followup" and t["case"] == second.case["id"] for t in tasks)
    assert not any(t["name"] == "township_followup" for t in api("zhao").get("/tasks").get_json())
    second.do("zhao", "township_followup", {"handled_on": "2026-03-16", "finding": "confirm", "measures": "x"},
              status=403)
    second.do("zhou", "township_followup", {"handled_on": "2026-03-16", "finding": "confirm",
                                             "measures": "王主任职务终止，指导村民代表会议补选；孙会计解除聘用"})
    assert second.status == "completed"


def test_the_township_may_order_the_appraisal_held_again(appraisal, clock):
    first = opened(appraisal, 2025)
    first.do("zhao", "appraisal_meeting", vote(votes=UNFIT_WANG))
    publish(first, clock)
    second = opened(appraisal, 2026)
    second.do("zhao", "appraisal_meeting", vote(held_on="2026-03-09", votes=UNFIT_WANG))
    publish(second, clock)
    second.do("zhou", "township_followup", {"handled_on": "2026-03-16", "finding": "redo", "measures": "未逐人述职"})
    assert second.ready() == ["appraisal_meeting"]


def test_not_flagged_when_last_year_was_not_unfit(appraisal, clock):
    first = opened(appraisal, 2025)
    first.do("zhao", "appraisal_meeting", vote())
    publish(first, clock)
    second = opened(appraisal, 2026)
    second.do("zhao", "appraisal_meeting", vote(held_on="2026-03-09", votes=UNFIT_WANG))
    assert second.data_of("appraisal_meeting")["flagged_count"] == 0
    publish(second, clock)
    assert second.status == "completed", "nobody to flag: no township task"


def test_another_villages_appraisal_does_not_count(app, appraisal, clock):
    first = opened(appraisal, 2025)
    first.do("zhao", "appraisal_meeting", vote(votes=UNFIT_WANG))
    publish(first, clock)
    # a second village with the same names: its first appraisal flags nobody
    from tests.test_items_public import give_role

    give_role(app, "zhao", "supervisor", "demo-002")
    other = appraisal()
    other.start("zhao", {"year": 2026, "appraisees": PEOPLE}, village="demo-002")
    other.do("zhao", "reports", {"reports": REPORTS})
    other.do("zhao", "appraisal_meeting", vote(held_on="2026-03-09", attended=20, votes=UNFIT_WANG))
    assert other.data_of("appraisal_meeting")["flagged_count"] == 0


# ---------------------------------------------------------------------------- the definition


def test_definition_passes_the_compliance_check():
    import yaml

    root = Path(__file__).resolve().parent.parent / "processes"
    meta = next(e for e in yaml.safe_load((root / "catalogue.d" / "a-public.yaml").read_text(encoding="utf-8"))["items"]
                if e["key"] == PROCESS)
    assert "第三十三条" in meta["legal_basis"]
    assert check_definition((root / f"{PROCESS}.bpmn").read_bytes(), f"{PROCESS}.bpmn", meta) == []


def test_forms_describe_their_fields():
    assert [f["name"] for f in describe("appraisal_vote")] == ["held_on", "attended", "votes", "minutes"]
    assert next(f for f in describe("appraisal_vote") if f["name"] == "attended")["type"] == "integer"
    assert FORMS["appraisal_followup"]().fields["finding"].metadata["choices"]["redo"].startswith("评议程序有问题")


def test_catalogue_lists_it(app, api):
    item = api("zhao").get(f"/processes/{PROCESS}").get_json()
    assert item["name"] == "年度民主评议" and item["category"] == "A"
    assert {lane["name"] for lane in item["lanes"]} == {"村务监督委员会", "乡镇干部", "乡镇纪委"}
    runner = app.test_cli_runner()
    result = runner.invoke(args=["processes", "list"])
    assert f"{PROCESS}\t年度民主评议\tA（村级公共权力）" in result.output


def test_the_vote_on_the_task_page(app, appraisal):
    from tests.test_web import Browser, errors_of

    case = opened(appraisal)
    tid = case.task("appraisal_meeting")["id"]
    zhao = Browser(app, "zhao")
    html = zhao.html(f"/tasks/{tid}")
    assert "评议票数" in html and "称职票" in html
    bad = {**vote(), "attended": "20", "votes": "王主任，20，1，0\n李委员，10，8，2\n孙会计，15，4，1"}
    r = zhao.post(f"/tasks/{tid}", data=bad)
    assert r.status_code == 422
    assert any("不能超过实到人数（20）" in e for e in errors_of(r.data.decode()))
    r = zhao.post(f"/tasks/{tid}", data={**vote(), "attended": "20"})
    assert r.status_code == 302
    assert case.ready() == ["draft_appraisal_disclosure"]


def test_the_meeting_is_not_dated_before_the_case(appraisal, clock):
    clock.advance(days=3)
    case = opened(appraisal)
    message = case.refused("zhao", "appraisal_meeting", vote(held_on="2026-03-04"), "held_on")
    assert "早于本事项发起的日期（2026-03-05）" in message


def test_the_citation_follows_the_rule_set_in_force(appraisal, clock):
    """D10: messages cite the article of the rule set in force on the meeting day; before 2026 the
    2018 text's 第三十三条, from 2026 marked as the 2018 numbering until the 2025 text is verified."""
    assert rules.rule_set_on(date(2025, 6, 1)).appraisal_article == "《村民委员会组织法》第三十三条"
    assert "2018年修正本第三十三条" in rules.rule_set_on(date(2026, 1, 1)).appraisal_article
    case = opened(appraisal)
    assert "第三十三条" in case.data_of("plan")["appraisal_basis"]


def test_the_poster_list_shows_it(app):
    from tests.test_web import Browser

    html = Browser(app).html("/board")
    assert "年度民主评议" in html and "/api/v1/processes/annual-appraisal/diagram" in html


def test_two_years_running_on_postgresql(pg_appraisal, clock):
    first = opened(pg_appraisal, 2025)
    first.do("zhao", "appraisal_meeting", vote(votes=UNFIT_WANG))
    publish(first, clock)
    second = opened(pg_appraisal, 2026)
    second.do("zhao", "appraisal_meeting", vote(held_on="2026-03-09", votes=UNFIT_WANG))
    assert [f["name"] for f in second.data_of("appraisal_meeting")["flagged"]] == ["王主任", "孙会计"]
    publish(second, clock)
    assert second.ready() == ["township_followup"]
