"""The 便民服务 items (B1–B6) path by path, through the JSON API, with the test clock."""

from __future__ import annotations

import tempfile
from datetime import datetime, timedelta
from pathlib import Path

import pytest
import yaml
from sqlalchemy import select

from engine.domain import certificates
from engine.forms import describe
from engine.forms.services import HOMESTEAD_FORMS, id_number_problem
from engine.forms.services_welfare import WELFARE_FORMS
from engine.store.models import Village

DAY = "2026-03-02"  # the test clock's first day (16:00 China time)
NAMES = ["张一", "王二", "李三", "赵四", "钱五", "孙六", "周七", "吴八", "郑九", "冯十", "陈十一", "褚十二"]


def idn(first17: str) -> str:
    """A valid 18-digit ID number (GB 11643 check digit)."""
    weights = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
    return first17 + "10X98765432"[sum(int(a) * w for a, w in zip(first17, weights, strict=True)) % 11]


ELDER = idn("33022619500101002")  # born 1950
ADULT = idn("33022619850615003")  # born 1985
CHILD = idn("33022620150301004")  # born 2015

APPLICANT = {"applicant_name": "刘大娘", "applicant_id_number": ELDER, "household": "刘大娘户，示范村三组12号",
             "household_size": 2}
SUBSISTENCE = {**APPLICANT, "reason": "丈夫病故，无稳定收入", "monthly_income": "300"}
POVERTY = {**APPLICANT, "household_size": 1, "group": "elderly", "no_work_ability": True, "no_income": True,
           "no_supporter": True, "care_level": "partial", "support_mode": "scattered", "reason": "孤寡老人"}
ASSISTANCE = {**APPLICANT, "applicant_name": "马师傅", "applicant_id_number": ADULT, "household": "马师傅户",
              "household_size": 4, "emergency": False, "cause": "illness", "cause_detail": "突发重病住院",
              "amount_requested": "5000"}
INVESTIGATION = {"investigated_on": DAY, "investigators": "李委员、周镇长", "home_visit": True,
                 "neighbour_visit": True, "data_check": True, "per_capita_income": "280",
                 "findings": "入户核实，家庭月人均收入低于当地低保标准", "conclusion": "eligible"}


def appraisal(members=12, attended=9, agree=8, disagree=None, names=None) -> dict:
    disagree = attended - agree if disagree is None else disagree
    return {"held_on": DAY, "members": members, "attended": attended, "agree": agree, "disagree": disagree,
            "abstain": 0, "participants": "、".join(names or NAMES[:attended]), "minutes": "逐户评议，记录在案"}


NOTICE = {"content": "经乡镇调查和初审，拟同意刘大娘家庭纳入低保，公示7天。", "notice_days": 7}
# The 乡镇's 初审 (民发〔2021〕57号 第二条、第二十条).
PRELIM = {"decision": "approve", "reviewed_on": DAY, "amount": "650", "opinion": "调查属实，拟同意纳入低保"}
PRELIM_NO = {"decision": "refuse", "reviewed_on": DAY, "opinion": "家庭人均收入高于当地低保标准"}
APPROVE = {"decision": "approve", "decided_on": DAY, "amount": "650"}
REFUSE = {"decision": "refuse", "decided_on": DAY, "reason": "家庭人均收入高于当地低保标准"}
REFUSAL_NOTICE = {"reason": "家庭人均收入高于当地低保标准", "notified_on": DAY, "method": "in_person",
                  "receipt": "刘大娘签收"}
REVIEW_OK = {"decision": "approve"}


# ---------------------------------------------------------------------------- a small generic driver


def run_timers(app) -> None:
    result = app.test_cli_runner().invoke(args=["timers", "run"])
    assert result.exit_code == 0, result.output


class Item:
    """Start a power-list item and complete its ready tasks by name, as the people would."""

    def __init__(self, app, api, clients: dict):
        self.app, self.api, self.clients = app, api, clients
        self.case: dict | None = None

    def who(self, username: str):
        if username not in self.clients:
            self.clients[username] = self.api(username)
        return self.clients[username]

    def start(self, process: str, data: dict, *, by: str = "wang", title: str = "便民服务事项", status: int = 201):
        r = self.who(by).post("/instances", json={"process": process, "village": "demo-001", "title": title,
                                                   "data": data})
        assert r.status_code == status, r.get_json()
        if status == 201:
            self.case = r.get_json()
        return r

    def refresh(self) -> dict:
        self.case = self.who("zhou").get(f"/instances/{self.case['id']}").get_json()
        return self.case

    def ready(self) -> list[str]:
        return [t["name"] for t in self.refresh()["tasks"] if t["state"] == "ready"]

    def task(self, name: str) -> dict:
        found = [t for t in self.refresh()["tasks"] if t["name"] == name and t["state"] == "ready"]
        assert found, f"{name} not ready; open: {[t['name'] for t in self.case['tasks']]}"
        return found[0]

    def do(self, by: str, name: str, data: dict, status: int = 200):
        r = self.who(by).post(f"/tasks/{self.task(name)['id']}/complete", json={"data": data})
        assert r.status_code == status, r.get_json()
        if status == 200:
            self.case = r.get_json()
        return r

    def status(self) -> str:
        return self.refresh()["status"]

    def board(self) -> list[dict]:
        return [e for e in self.who("zhou").get("/villages/demo-001/board").get_json() if e["case"] == self.case["id"]]

    def notice(self, kind: str = "notice", content: str = "公示内容", by: str = "wang", notice_days: int = 7) -> dict:
        self.do(by, f"draft_{kind}", {"content": content, "notice_days": notice_days})
        self.do("zhao", f"review_{kind}", REVIEW_OK)
        entry = self.board()[0]
        assert entry["notice_until"] and entry["in_notice"]
        return entry

    def object(self, entry: dict, text: str = "有异议") -> None:
        r = self.who("zhou").client.post(f"/api/v1/board/{entry['id']}/objections",
                                         json={"name": "村民甲", "contact": "13800000000", "text": text})
        assert r.status_code == 201, r.get_json()

    def due(self, name: str) -> datetime:
        return datetime.fromisoformat(self.task(name)["due_at"])


@pytest.fixture
def clients():
    return {}


@pytest.fixture
def item(app, api, clients):
    return Item(app, api, clients)


def new_item(app, api, clients) -> Item:
    return Item(app, api, clients)


def import_people(app, people: list[dict]) -> None:
    """Add people to the demo village through the import (tests' own data)."""
    from web.cli import import_file

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "people.yaml"
        path.write_text(yaml.safe_dump({"people": people}, allow_unicode=True), encoding="utf-8")
        with app.app_context():
            import_file(path)


def set_village_settings(app, **settings) -> None:
    engine = app.extensions["cunwu"]
    with engine.transaction() as session:
        village = session.scalar(select(Village).where(Village.code == "demo-001"))
        village.settings = {**(village.settings or {}), **settings}


# ---------------------------------------------------------------------------- catalogue


def test_processes_list_shows_the_b_items(app):
    result = app.test_cli_runner().invoke(args=["processes", "list"])
    assert result.exit_code == 0, result.output
    lines = {line.split("\t")[0]: line for line in result.output.splitlines() if "\t" in line}
    expected = {"homestead": "宅基地（村民建房）申请", "subsistence-allowance": "最低生活保障（低保）申请",
                "extreme-poverty": "特困人员救助供养申请", "temporary-assistance": "临时救助申请",
                "farm-subsidy": "惠农补贴发放", "certificate": "出具证明"}
    for key, name in expected.items():
        assert name in lines[key] and "B（便民服务）" in lines[key]


def test_every_service_form_describes_itself():
    for key in {**HOMESTEAD_FORMS, **WELFARE_FORMS}:
        described = describe(key)
        assert described and all(f["label"] and f["label"] != f["name"] for f in described), key


def test_refusal_notice_is_due_in_three_days_and_settings_reach_the_bpmn(app):
    engine = app.extensions["cunwu"]
    for key in ("subsistence-allowance", "extreme-poverty", "temporary-assistance", "homestead"):
        spec = engine.deployed(key).spec
        assert spec.task_specs["notify_refusal"].extensions["properties"]["due_days"] == "3"
    spec = engine.deployed("temporary-assistance").spec
    meta = engine.deployed("temporary-assistance").meta
    assert spec.task_specs["investigate"].extensions["properties"]["due_days"] == str(
        meta["settings"]["emergency_paperwork_days"])
    for key in ("subsistence-allowance", "extreme-poverty", "temporary-assistance", "farm-subsidy"):
        assert engine.deployed(key).meta["notice_days"] >= 7  # R30


def test_id_numbers_are_checked():
    assert id_number_problem(ELDER) is None
    assert id_number_problem(ELDER[:-1] + ("0" if ELDER[-1] != "0" else "1"))
    assert id_number_problem("330226195002300011")  # 2月30日
    assert id_number_problem("12345")


# ---------------------------------------------------------------------------- B2 低保


def hold_appraisals(app, process: str = "subsistence-allowance") -> None:
    """The village holds a 民主评议 (a setting: it is not compulsory, 民发〔2021〕57号)."""
    set_village_settings(app, **{f"{process}.democratic_appraisal": True})


def to_notice(item: Item, process: str = "subsistence-allowance", data: dict | None = None, *,
              appraised: bool = False, investigation: dict | None = None, prelim: dict | None = None) -> dict:
    item.start(process, data or SUBSISTENCE, title="刘大娘申请低保")
    assert item.ready() == ["investigate"]
    item.do("zhou", "investigate", investigation or INVESTIGATION)  # the 乡镇 investigates
    if appraised:
        assert item.ready() == ["appraisal"]
        item.do("wang", "appraisal", appraisal())
    assert item.ready() == ["preliminary"]
    item.do("zhou", "preliminary", prelim or PRELIM)  # the 乡镇's 初审
    assert item.ready() == ["draft_notice"]
    return item.notice(content=NOTICE["content"])


def test_subsistence_happy_path(app, item, clock):
    entry = to_notice(item)
    assert entry["kind"] == "notice" and entry["title"] == "刘大娘申请低保（初审公示）"
    assert item.ready() == []
    clock.advance(days=6, hours=23)
    run_timers(app)
    assert item.ready() == [], "the decision waits for the full 7-day notice"
    clock.advance(hours=1, seconds=1)
    run_timers(app)
    assert item.ready() == ["decide"]
    r = item.do("zhou", "decide", {"decision": "approve", "decided_on": DAY}, status=422)
    assert "amount" in r.get_json()["error"]["fields"]
    item.do("zhou", "decide", APPROVE)
    assert item.status() == "completed"
    history = item.case["history"]
    assert history[0]["actor"] == "王主任" and history[-1]["action"] == "end"


def test_investigation_and_preliminary_review_belong_to_the_township(item):
    """民发〔2021〕57号 第二条: 乡镇 受理、初审; the village assists and cannot do either itself."""
    item.start("subsistence-allowance", SUBSISTENCE, title="刘大娘申请低保")
    for cadre in ("li", "wang", "zhang"):
        item.do(cadre, "investigate", INVESTIGATION, status=403)
    item.do("zhou", "investigate", INVESTIGATION)
    assert item.ready() == ["preliminary"], "no 民主评议 unless the village holds one"
    for cadre in ("li", "wang", "zhao"):
        item.do(cadre, "preliminary", PRELIM, status=403)
    r = item.do("zhou", "preliminary", {**PRELIM, "amount": None}, status=422)
    assert "amount" in r.get_json()["error"]["fields"]
    item.do("zhou", "preliminary", PRELIM)
    assert item.ready() == ["draft_notice"]


def test_the_drafted_notice_says_the_township_answers_objections(item):
    item.start("subsistence-allowance", SUBSISTENCE, title="刘大娘申请低保")
    item.do("zhou", "investigate", INVESTIGATION)
    item.do("zhou", "preliminary", PRELIM)
    task = item.who("wang").get(f"/tasks/{item.task('draft_notice')['id']}").get_json()
    content = task["prefill"]["content"]
    assert "乡镇初审意见：拟同意" in content and "由乡镇人民政府核实答复" in content
    assert "村务监督委员会" not in content


def test_preliminary_refusal_is_notified_in_writing(item):
    item.start("subsistence-allowance", SUBSISTENCE, title="刘大娘申请低保")
    item.do("zhou", "investigate", INVESTIGATION)
    item.do("zhou", "preliminary", PRELIM_NO)
    assert item.ready() == ["notify_refusal"]
    item.do("wang", "notify_refusal", REFUSAL_NOTICE)  # the village may deliver the township's notice
    assert item.status() == "rejected"


def test_notice_shorter_than_seven_days_is_refused(item):
    item.start("subsistence-allowance", SUBSISTENCE, title="刘大娘申请低保")
    item.do("zhou", "investigate", INVESTIGATION)
    item.do("zhou", "preliminary", PRELIM)
    r = item.do("wang", "draft_notice", {"content": "公示", "notice_days": 6}, status=422)
    assert "notice_days" in r.get_json()["error"]["fields"]


def test_refused_by_the_township_needs_a_reason_and_a_written_notice_in_three_days(app, item, clock):
    to_notice(item)
    clock.advance(days=7, seconds=1)
    run_timers(app)
    r = item.do("zhou", "decide", {"decision": "refuse", "decided_on": DAY}, status=422)
    assert "reason" in r.get_json()["error"]["fields"]
    item.do("zhou", "decide", REFUSE)
    assert item.ready() == ["notify_refusal"]
    assert item.due("notify_refusal") - datetime.fromisoformat(clock().isoformat()) == timedelta(days=3)
    r = item.do("zhou", "notify_refusal", {**REFUSAL_NOTICE, "reason": ""}, status=422)
    assert "reason" in r.get_json()["error"]["fields"]
    item.do("zhou", "notify_refusal", REFUSAL_NOTICE)
    assert item.status() == "rejected"


def test_ineligible_after_investigation_is_refused_in_writing(item):
    item.start("subsistence-allowance", SUBSISTENCE, title="刘大娘申请低保")
    item.do("zhou", "investigate", {**INVESTIGATION, "conclusion": "ineligible"})
    assert item.ready() == ["notify_refusal"]
    item.do("wang", "notify_refusal", REFUSAL_NOTICE)  # the village may deliver the township's notice
    assert item.status() == "rejected"


def test_withdrawn_during_investigation(item):
    item.start("subsistence-allowance", SUBSISTENCE, title="刘大娘申请低保")
    item.do("zhou", "investigate", {**INVESTIGATION, "conclusion": "withdrawn", "investigators": "周镇长"})
    assert item.status() == "withdrawn"


def test_investigation_needs_two_investigators_and_a_home_visit(item):
    item.start("subsistence-allowance", SUBSISTENCE, title="刘大娘申请低保")
    r = item.do("zhou", "investigate", {**INVESTIGATION, "investigators": "周镇长"}, status=422)
    assert "不少于2人" in r.get_json()["error"]["fields"]["investigators"][0]
    r = item.do("zhou", "investigate", {**INVESTIGATION, "home_visit": False}, status=422)
    assert "home_visit" in r.get_json()["error"]["fields"]
    r = item.do("zhou", "investigate", {**INVESTIGATION, "investigated_on": "2026-03-03"}, status=422)
    assert "investigated_on" in r.get_json()["error"]["fields"]


def test_appraisal_is_held_only_where_the_village_sets_it(app, item, api, clients):
    """民主评议 is not compulsory (民发〔2021〕57号); a village that holds one says so in its settings."""
    item.start("subsistence-allowance", SUBSISTENCE, title="刘大娘申请低保")
    item.do("zhou", "investigate", INVESTIGATION)
    assert item.ready() == ["preliminary"]
    hold_appraisals(app)
    other = new_item(app, api, clients)
    other.start("subsistence-allowance", {**SUBSISTENCE, "applicant_id_number": ADULT}, title="另一户申请低保")
    other.do("zhou", "investigate", INVESTIGATION)
    assert other.ready() == ["appraisal"]


def test_appraisal_lapses_and_is_held_again_then_goes_to_the_township(app, item):
    hold_appraisals(app)
    item.start("subsistence-allowance", SUBSISTENCE, title="刘大娘申请低保")
    item.do("zhou", "investigate", INVESTIGATION)
    item.do("wang", "appraisal", appraisal(members=12, attended=7, agree=7))
    assert item.ready() == ["appraisal"]  # 7 of 12 is below two thirds: 流会, held again
    item.do("wang", "appraisal", appraisal(members=12, attended=9, agree=5))
    # not agreed: on record for the 乡镇, whose 初审 decides (the village does not refuse)
    assert item.ready() == ["preliminary"]
    item.do("zhou", "preliminary", PRELIM_NO)
    assert item.ready() == ["notify_refusal"]


@pytest.mark.parametrize(("attended", "agree", "outcome"), [
    (8, 6, "passed"),   # exactly 2/3 of the 12 members present
    (7, 7, "lapsed"),   # one below: 流会 even if all present agree
    (9, 6, "passed"),   # exactly 2/3 of 9 present agree
    (9, 5, "failed"),   # one below
    (12, 8, "passed"),  # exactly 2/3 of 12 agree
    (12, 7, "failed"),
])
def test_appraisal_thresholds_at_their_edges(app, item, attended, agree, outcome):
    hold_appraisals(app)
    item.start("subsistence-allowance", SUBSISTENCE, title="刘大娘申请低保")
    item.do("zhou", "investigate", INVESTIGATION)
    r = item.do("wang", "appraisal", appraisal(members=12, attended=attended, agree=agree))
    done = [t for t in r.get_json()["history"] if t["action"] == "complete"][-1]
    data = item.who("zhou").get(f"/tasks/{done['task']}").get_json()["data"]
    assert data["outcome"] == outcome, data["outcome_reason"]
    expected = {"passed": ["preliminary"], "lapsed": ["appraisal"], "failed": ["preliminary"]}[outcome]
    assert item.ready() == expected


def test_appraisal_rule_is_a_village_setting(app, item):
    set_village_settings(app, **{"subsistence-allowance.democratic_appraisal": True,
                                 "subsistence-allowance.appraisal_pass": "3/4"})
    item.start("subsistence-allowance", SUBSISTENCE, title="刘大娘申请低保")
    item.do("zhou", "investigate", INVESTIGATION)
    r = item.do("wang", "appraisal", appraisal(members=12, attended=12, agree=8))  # 2/3, below 3/4
    done = [t for t in r.get_json()["history"] if t["action"] == "complete"][-1]
    assert item.who("zhou").get(f"/tasks/{done['task']}").get_json()["data"]["outcome"] == "failed"


def test_appraisal_record_must_hold_together(app, item):
    hold_appraisals(app)
    item.start("subsistence-allowance", SUBSISTENCE, title="刘大娘申请低保")
    item.do("zhou", "investigate", INVESTIGATION)
    r = item.do("wang", "appraisal", appraisal(attended=9, agree=8, names=NAMES[:8]), status=422)
    assert "participants" in r.get_json()["error"]["fields"]
    r = item.do("wang", "appraisal", {**appraisal(attended=9, agree=8), "members": 8}, status=422)
    assert "attended" in r.get_json()["error"]["fields"]
    r = item.do("wang", "appraisal", appraisal(attended=9, agree=8, disagree=5), status=422)
    assert "agree" in r.get_json()["error"]["fields"]


def test_objection_upheld_by_the_township_reinvestigates_and_runs_a_new_full_notice(app, item, clock):
    """民发〔2021〕57号 第二十条: objections to the 初审 notice are the 乡镇's to answer; it investigates
    again (or holds a 民主评议), gives a new 初审 and posts a new notice."""
    first = to_notice(item)
    clock.advance(days=3)
    item.object(first, "申请人家有营运车辆，收入未如实申报")
    assert item.ready() == ["reply_notice_objection"]
    task = item.task("reply_notice_objection")
    assert task["role"] == "township_official"
    item.do("zhao", "reply_notice_objection", {"decision": "uphold", "reply": "异议成立。"}, status=403)
    item.do("wang", "reply_notice_objection", {"decision": "uphold", "reply": "异议成立。"}, status=403)
    item.do("zhou", "reply_notice_objection", {"decision": "uphold", "reply": "异议成立，重新入户调查。"})
    assert item.ready() == ["investigate"]  # R47: back to the investigation
    item.do("zhou", "investigate", {**INVESTIGATION, "findings": "复查：车辆已转让，收入属实"})
    item.do("zhou", "preliminary", PRELIM)
    second = item.notice(content="复查后重新公示")
    assert second["refers_to"] == first["id"] and "重新公示" in second["title"]
    clock.advance(days=6)
    run_timers(app)
    assert item.ready() == [], "the new notice runs a full 7 days from its own posting"
    clock.advance(days=1, seconds=1)
    run_timers(app)
    assert item.ready() == ["decide"]


def test_objection_dismissed_keeps_the_notice(app, item, clock):
    entry = to_notice(item)
    item.object(entry)
    item.do("zhou", "reply_notice_objection", {"decision": "dismiss", "reply": "经核实，情况属实。"})
    clock.advance(days=7, seconds=1)
    run_timers(app)
    assert item.ready() == ["decide"]


# ---------------------------------------------------------------------------- R45 avoidance


def test_cadre_relative_is_registered_separately_and_the_cadre_withdraws(app, item, clients):
    hold_appraisals(app)
    r = item.start("subsistence-allowance", {**SUBSISTENCE, "cadre_relation": "relative", "related_cadre": "wang"},
                   title="王某某申请低保")
    assert r.get_json()["title"] == "【单独登记】王某某申请低保"
    case_id = item.case["id"]
    wang = item.who("wang")
    assert case_id not in {t["case"] for t in wang.get("/tasks").get_json()}
    # The cadre may not be named as an investigator.
    r = item.do("zhou", "investigate", {**INVESTIGATION, "investigators": "周镇长、王主任"}, status=422)
    assert "回避" in r.get_json()["error"]["fields"]["investigators"][0]
    item.do("zhou", "investigate", INVESTIGATION)
    # The appraisal and the notice go to the alternates (村党组织书记); wang is refused and not listed.
    assert case_id not in {t["case"] for t in wang.get("/tasks").get_json()}
    r = item.do("wang", "appraisal", appraisal(), status=403)
    assert "回避" in r.get_json()["error"]["message"]
    r = item.do("zhang", "appraisal", appraisal(names=["王主任", *NAMES[:8]]), status=422)
    assert "participants" in r.get_json()["error"]["fields"]
    item.do("zhang", "appraisal", appraisal())
    item.do("zhou", "preliminary", PRELIM)
    item.notice(by="zhang")
    board_title = item.board()[0]["title"]
    assert board_title.startswith("【单独登记】")
    apply_row = [h for h in item.case["history"] if h["action"] == "complete"][0]
    data = item.who("zhou").get(f"/tasks/{apply_row['task']}").get_json()["data"]
    assert data["avoidance"] is True and data["registration"] == "单独登记"


def test_avoidance_with_a_second_holder_of_the_role(app, item):
    import_people(app, [{"username": "zheng", "name": "郑委员", "password": "demo123",
                         "roles": [{"village": "demo-001", "role": "committee_member"}]}])
    hold_appraisals(app, "temporary-assistance")
    item.start("temporary-assistance", {**ASSISTANCE, "cadre_relation": "self", "related_cadre": "li"},
               title="李委员申请临时救助")
    item.do("zhou", "investigate", {**INVESTIGATION, "investigators": "王主任、周镇长、郑委员"})
    assert item.ready() == ["appraisal"]
    item.do("li", "appraisal", appraisal(), status=403)
    assert item.case["id"] not in {t["case"] for t in item.who("li").get("/tasks").get_json()}
    assert item.case["id"] in {t["case"] for t in item.who("zheng").get("/tasks").get_json()}
    item.do("zheng", "appraisal", appraisal())
    assert item.ready() == ["preliminary"]


def test_related_cadre_must_be_a_cadre_of_the_village(item):
    r = item.start("subsistence-allowance", {**SUBSISTENCE, "cadre_relation": "relative", "related_cadre": "chen"},
                   status=422)
    assert "related_cadre" in r.get_json()["error"]["fields"]
    r = item.start("subsistence-allowance", {**SUBSISTENCE, "cadre_relation": "relative"}, status=422)
    assert "related_cadre" in r.get_json()["error"]["fields"]


def test_second_open_application_of_the_same_person_is_refused(item, app, api, clients):
    item.start("subsistence-allowance", SUBSISTENCE, title="刘大娘申请低保")
    r = new_item(app, api, clients).start("subsistence-allowance", SUBSISTENCE, status=422)
    assert "applicant_id_number" in r.get_json()["error"]["fields"]


# ---------------------------------------------------------------------------- B3 特困


def test_extreme_poverty_happy_path(app, item, clock):
    to_notice(item, "extreme-poverty", POVERTY)
    clock.advance(days=7, seconds=1)
    run_timers(app)
    item.do("zhou", "decide", {**APPROVE, "support_mode": "scattered"})
    assert item.status() == "completed"


def test_extreme_poverty_with_appraisal_and_a_township_answered_objection(app, item, clock):
    hold_appraisals(app, "extreme-poverty")
    entry = to_notice(item, "extreme-poverty", POVERTY, appraised=True)
    item.object(entry, "其子女有赡养能力")
    assert item.task("reply_notice_objection")["role"] == "township_official"
    item.do("zhao", "reply_notice_objection", {"decision": "dismiss", "reply": "不属实"}, status=403)
    item.do("zhou", "reply_notice_objection", {"decision": "dismiss", "reply": "经核实，其子女均无赡养能力。"})
    clock.advance(days=7, seconds=1)
    run_timers(app)
    assert item.ready() == ["decide"]


def test_extreme_poverty_conditions(item):
    r = item.start("extreme-poverty", {**POVERTY, "no_income": False}, status=422)
    assert "no_income" in r.get_json()["error"]["fields"]
    r = item.start("extreme-poverty", {**POVERTY, "applicant_id_number": ADULT}, status=422)
    assert "不满60周岁" in r.get_json()["error"]["fields"]["group"][0]
    r = item.start("extreme-poverty", {**POVERTY, "group": "minor"}, status=422)
    assert "group" in r.get_json()["error"]["fields"]
    item.start("extreme-poverty", {**POVERTY, "group": "minor", "applicant_id_number": CHILD})


def test_extreme_poverty_refused(app, item, clock):
    to_notice(item, "extreme-poverty", POVERTY)
    clock.advance(days=7, seconds=1)
    run_timers(app)
    item.do("zhou", "decide", REFUSE)
    item.do("zhou", "notify_refusal", REFUSAL_NOTICE)
    assert item.status() == "rejected"


# ---------------------------------------------------------------------------- B4 临时救助

THREE = {**INVESTIGATION, "investigators": "李委员、周镇长、张书记"}


def test_temporary_assistance_emergency_pays_first(app, item, clock):
    item.start("temporary-assistance", {**ASSISTANCE, "emergency": True, "cause": "accident"}, title="马师傅家火灾")
    assert item.ready() == ["advance_relief"]
    item.do("zhou", "advance_relief", {"amount": "3000", "paid_on": DAY, "method": "cash", "payee": "马师傅"})
    assert item.ready() == ["investigate"]
    assert item.due("investigate") - clock() == timedelta(days=10)  # paperwork due (R49)
    r = item.do("zhou", "investigate", INVESTIGATION, status=422)  # 临时救助: at least 3 investigators
    assert "不少于3人" in r.get_json()["error"]["fields"]["investigators"][0]
    item.do("zhou", "investigate", THREE)
    item.do("zhou", "preliminary", {**PRELIM, "amount": "3000"})
    item.notice(content="马师傅家遭受火灾，已先行救助3000元，公示7天。")
    clock.advance(days=7, seconds=1)
    run_timers(app)
    assert item.ready() == ["decide"]  # the paperwork ends with the approval after the notice
    item.do("zhou", "decide", {**APPROVE, "amount": "3000"})
    assert item.status() == "completed"  # paid already: no second payment


def test_temporary_assistance_normal_track_notices_then_approves_then_pays(app, item, clock):
    """国发〔2014〕47号 一般程序: 乡镇调查、审核意见，张榜公示后审批 — the notice comes before the approval."""
    item.start("temporary-assistance", ASSISTANCE, title="马师傅重病")
    assert item.ready() == ["investigate"]
    item.do("zhou", "investigate", THREE)
    assert item.ready() == ["preliminary"]
    item.do("zhou", "preliminary", {**PRELIM, "amount": "4000"})
    assert item.ready() == ["draft_notice"], "no approval before the notice"
    entry = item.notice(content="拟救助马师傅4000元")
    item.object(entry)
    item.do("zhao", "reply_notice_objection", {"decision": "uphold", "reply": "重新核查。"}, status=403)
    item.do("zhou", "reply_notice_objection", {"decision": "uphold", "reply": "重新核查。"})
    assert item.ready() == ["investigate"]
    item.do("zhou", "investigate", THREE)
    item.do("zhou", "preliminary", {**PRELIM, "amount": "4000"})
    item.notice(content="复查后拟救助马师傅4000元")
    clock.advance(days=7, seconds=1)
    run_timers(app)
    assert item.ready() == ["decide"]
    item.do("zhou", "decide", {**APPROVE, "amount": "4000"})
    assert item.ready() == ["pay"]
    payment = {"amount": "4000.01", "paid_on": DAY, "method": "transfer", "payee": "马师傅", "voucher": "LS-001"}
    r = item.do("zhou", "pay", payment, status=422)
    assert "amount" in r.get_json()["error"]["fields"]
    item.do("zhou", "pay", {**payment, "amount": "4000"})
    assert item.status() == "completed"


def test_temporary_assistance_refused_after_advance(item):
    item.start("temporary-assistance", {**ASSISTANCE, "emergency": True}, title="马师傅重病")
    item.do("zhou", "advance_relief", {"amount": "1000", "paid_on": DAY, "method": "cash", "payee": "马师傅"})
    item.do("zhou", "investigate", THREE)
    item.do("zhou", "preliminary", PRELIM_NO)
    assert item.ready() == ["notify_refusal"]
    item.do("zhou", "notify_refusal", REFUSAL_NOTICE)
    assert item.status() == "rejected"


def test_temporary_assistance_once_a_year_for_the_same_cause(app, api, clients, item, clock):
    item.start("temporary-assistance", {**ASSISTANCE, "emergency": True}, title="马师傅重病")
    other = new_item(app, api, clients)
    r = other.start("temporary-assistance", ASSISTANCE, status=422)
    assert "一年内只能救助一次" in r.get_json()["error"]["fields"]["cause"][0]
    other.start("temporary-assistance", {**ASSISTANCE, "cause": "disaster"}, title="马师傅家房屋受灾")
    # Finish the first case; a year later the same cause may be helped again.
    item.do("zhou", "advance_relief", {"amount": "1000", "paid_on": DAY, "method": "cash", "payee": "马师傅"})
    item.do("zhou", "investigate", THREE)
    item.do("zhou", "preliminary", {**PRELIM, "amount": "1000"})
    item.notice()
    clock.advance(days=7, seconds=1)
    run_timers(app)
    item.do("zhou", "decide", {**APPROVE, "amount": "1000"})
    assert item.status() == "completed"
    new_item(app, api, clients).start("temporary-assistance", ASSISTANCE, status=422)
    clock.advance(days=366)
    new_item(app, api, clients).start("temporary-assistance", ASSISTANCE)


# ---------------------------------------------------------------------------- B1 宅基地


HOMESTEAD = {**APPLICANT, "applicant_name": "赵小军", "applicant_id_number": ADULT, "household": "赵小军户（分户）",
             "household_size": 3, "reason": "分户后无房", "location": "三组村道东侧", "area_m2": "120",
             "storeys": 2, "existing_homestead": "none", "neighbours_consulted": True}
MEETING = {"held_on": DAY, "attended": 24, "approve": 20, "oppose": 2, "abstain": 2, "minutes": "讨论赵小军建房申请"}
VILLAGE_OK = {"decision": "forward", "materials_genuine": True, "fits_plan": True, "neighbours_agree": True,
              "opinion": "材料真实，符合村庄规划"}
TOWNSHIP_OK = {"decision": "approve", "site_inspected_on": DAY, "agriculture_opinion": "符合一户一宅",
               "natural_resources_opinion": "符合国土空间规划，不占耕地", "approval_no": "示宅批〔2026〕15号",
               "planning_permit_no": "乡字第2026-015号", "approved_area_m2": "120"}
SITE_OK = {"checked_on": DAY, "inspectors": "周镇长、国土所刘所长", "result": "pass", "notes": "按批准位置放线"}


def homestead_to_review(item: Item) -> None:
    item.start("homestead", HOMESTEAD, title="赵小军申请宅基地")
    assert item.ready() == ["discuss"]
    item.do("wang", "discuss", MEETING)
    assert item.ready() == ["draft_notice"]


def test_homestead_happy_path(app, item, clock):
    homestead_to_review(item)
    r = item.do("wang", "draft_notice", {"content": "申请公示", "notice_days": 5}, status=422)
    assert "不得少于7天" in r.get_json()["error"]["fields"]["notice_days"][0]
    item.notice(content="赵小军户申请在三组村道东侧建房，用地120平方米，公示7天。")
    clock.advance(days=7, seconds=1)
    run_timers(app)
    assert item.ready() == ["village_review"]
    r = item.do("wang", "village_review", {**VILLAGE_OK, "fits_plan": False}, status=422)
    assert "fits_plan" in r.get_json()["error"]["fields"]
    item.do("wang", "village_review", VILLAGE_OK)
    assert item.ready() == ["township_review"]
    r = item.do("zhou", "township_review", {**TOWNSHIP_OK, "approved_area_m2": "130"}, status=422)
    assert "approved_area_m2" in r.get_json()["error"]["fields"]
    r = item.do("zhou", "township_review", {**TOWNSHIP_OK, "approval_no": ""}, status=422)
    assert "approval_no" in r.get_json()["error"]["fields"]
    item.do("zhou", "township_review", TOWNSHIP_OK)
    assert item.ready() == ["draft_result"]
    item.notice("result", content="赵小军户建房申请已批准，公示7天。")
    clock.advance(days=7, seconds=1)
    run_timers(app)
    assert item.ready() == ["stake_out"]
    item.do("zhou", "stake_out", {**SITE_OK, "result": "rectify", "notes": "放线位置偏离，整改"})
    assert item.ready() == ["stake_out"]
    item.do("zhou", "stake_out", SITE_OK)
    item.do("zhou", "completion_check", {**SITE_OK, "notes": "竣工，符合批准要求"})
    assert item.status() == "completed"
    assert [e["kind"] for e in item.board()] == ["result", "notice"]


def test_one_household_one_homestead(app, api, clients, item):
    r = item.start("homestead", {**HOMESTEAD, "existing_homestead": "has"}, status=422)
    error = r.get_json()["error"]
    assert "一户只能拥有一处宅基地" in error["message"] and "existing_homestead" in error["fields"]
    item.start("homestead", HOMESTEAD, title="赵小军申请宅基地")
    r = new_item(app, api, clients).start("homestead", HOMESTEAD, status=422)
    assert "正在办理" in r.get_json()["error"]["fields"]["applicant_id_number"][0]


def test_homestead_area_cap_is_a_setting(app, item):
    set_village_settings(app, **{"homestead.homestead_max_area_m2": 100})
    r = item.start("homestead", HOMESTEAD, status=422)
    assert "area_m2" in r.get_json()["error"]["fields"]


def test_homestead_meeting_lapses_then_votes_no(item):
    item.start("homestead", HOMESTEAD, title="赵小军申请宅基地")
    item.do("wang", "discuss", {**MEETING, "attended": 19, "approve": 19, "oppose": 0, "abstain": 0})
    assert item.ready() == ["discuss"]  # 19 of 30 is below two thirds: 流会
    item.do("wang", "discuss", {**MEETING, "attended": 20, "approve": 10, "oppose": 10, "abstain": 0})
    assert item.ready() == ["notify_refusal"]
    item.do("zhou", "notify_refusal", {**REFUSAL_NOTICE, "reason": "村民代表会议未通过"})
    assert item.status() == "rejected"


def test_homestead_objection_upheld_sends_the_application_back_and_it_is_withdrawn(app, item, clock):
    homestead_to_review(item)
    entry = item.notice()
    item.object(entry, "拟用地占用了我家的自留地")
    item.do("zhao", "reply_notice_objection", {"decision": "uphold", "reply": "异议成立，请申请人调整选址。"})
    assert item.ready() == ["apply"]
    item.do("wang", "apply", {**HOMESTEAD, "withdraw": True})
    assert item.status() == "withdrawn"


def test_homestead_result_objection_upheld_goes_back_to_the_township(app, item, clock):
    homestead_to_review(item)
    item.notice()
    clock.advance(days=7, seconds=1)
    run_timers(app)
    item.do("wang", "village_review", VILLAGE_OK)
    item.do("zhou", "township_review", TOWNSHIP_OK)
    first = item.notice("result")
    item.object(first, "批准面积超过了本户应得面积")
    item.do("zhao", "reply_result_objection", {"decision": "uphold", "reply": "异议成立，乡镇重新审批。"})
    assert item.ready() == ["township_review"]
    item.do("zhou", "township_review", {**TOWNSHIP_OK, "approved_area_m2": "100"})
    second = item.notice("result")
    assert second["refers_to"] == first["id"]
    clock.advance(days=6)
    run_timers(app)
    assert item.ready() == []
    clock.advance(days=1, seconds=1)
    run_timers(app)
    assert item.ready() == ["stake_out"]


def test_new_homestead_application_cannot_be_withdrawn_at_once(item):
    r = item.start("homestead", {**HOMESTEAD, "withdraw": True}, status=422)
    assert "withdraw" in r.get_json()["error"]["fields"]


def test_homestead_refused_by_village_and_township_and_sent_back(app, api, clients, item, clock):
    homestead_to_review(item)
    item.notice()
    clock.advance(days=7, seconds=1)
    run_timers(app)
    item.do("wang", "village_review", VILLAGE_OK)
    item.do("zhou", "township_review", {**TOWNSHIP_OK, "decision": "return", "reason": "缺少四邻签字"})
    assert item.ready() == ["village_review"]
    item.do("wang", "village_review", VILLAGE_OK)
    item.do("zhou", "township_review", {**TOWNSHIP_OK, "decision": "refuse", "reason": "选址位于永久基本农田"})
    item.do("zhou", "notify_refusal", {**REFUSAL_NOTICE, "reason": "选址位于永久基本农田"})
    assert item.status() == "rejected"

    other = new_item(app, api, clients)
    other.start("homestead", {**HOMESTEAD, "applicant_id_number": ELDER}, title="刘家申请宅基地")
    other.do("wang", "discuss", {**MEETING, "held_on": clock().date().isoformat()})
    other.notice()
    clock.advance(days=7, seconds=1)
    run_timers(app)
    other.do("zhang", "village_review", {**VILLAGE_OK, "decision": "refuse", "opinion": "不符合村庄规划"})
    assert other.ready() == ["notify_refusal"]


def test_homestead_approved_household_cannot_apply_again(app, api, clients, item, clock):
    homestead_to_review(item)
    item.notice()
    clock.advance(days=7, seconds=1)
    run_timers(app)
    item.do("wang", "village_review", VILLAGE_OK)
    item.do("zhou", "township_review", TOWNSHIP_OK)
    item.notice("result")
    clock.advance(days=7, seconds=1)
    run_timers(app)
    item.do("zhou", "stake_out", SITE_OK)
    item.do("zhou", "completion_check", SITE_OK)
    assert item.status() == "completed"
    r = new_item(app, api, clients).start("homestead", HOMESTEAD, status=422)
    assert "已于事项" in r.get_json()["error"]["fields"]["existing_homestead"][0]
    new_item(app, api, clients).start("homestead", {**HOMESTEAD, "existing_homestead": "rebuild"})


# ---------------------------------------------------------------------------- B5 惠农补贴


SUBSIDY = {"subsidy_type": "farmland_protection", "year": 2026, "households": 300, "area_mu": "2450.5",
           "rate": "110.5", "total_amount": "270780.25", "recipients": "见附件：2026年耕地地力保护补贴清册（300户）",
           "farmers_signed": True, "cross_checked": True}
PAYMENT = {"paid_on": DAY, "households_paid": 298, "amount_paid": "269000", "channel": "card",
           "failed_households": 2, "notes": "2户银行卡失效，已通知补办"}


def test_farm_subsidy_happy_path(app, item, clock):
    item.start("farm-subsidy", SUBSIDY, title="2026年耕地地力保护补贴")
    assert item.ready() == ["draft_notice"]
    item.notice(content="2026年耕地地力保护补贴：政策、标准110.5元/亩、对象300户，公示一周。")
    clock.advance(days=7, seconds=1)
    run_timers(app)
    item.do("zhou", "township_check", {"decision": "return", "checked_households": 30, "opinion": "3户面积有误"})
    assert item.ready() == ["verify_list"]
    item.do("wang", "verify_list", SUBSIDY)
    item.notice(content="更正后重新公示")
    clock.advance(days=7, seconds=1)
    run_timers(app)
    item.do("zhou", "township_check", {"decision": "approve", "checked_households": 30})
    assert item.ready() == ["pay"]
    r = item.do("zhou", "pay", {**PAYMENT, "amount_paid": "300000"}, status=422)
    assert "amount_paid" in r.get_json()["error"]["fields"]
    r = item.do("zhou", "pay", {**PAYMENT, "households_paid": 299}, status=422)
    assert "households_paid" in r.get_json()["error"]["fields"]
    item.do("zhou", "pay", PAYMENT)
    assert item.status() == "completed"


def test_farm_subsidy_list_must_add_up_and_be_checked(item):
    r = item.start("farm-subsidy", {**SUBSIDY, "total_amount": "280000"}, status=422)
    assert "total_amount" in r.get_json()["error"]["fields"]
    r = item.start("farm-subsidy", {**SUBSIDY, "cross_checked": False}, status=422)
    assert "cross_checked" in r.get_json()["error"]["fields"]
    r = item.start("farm-subsidy", {**SUBSIDY, "farmers_signed": False}, status=422)
    assert "farmers_signed" in r.get_json()["error"]["fields"]


def test_farm_subsidy_objection_upheld_reverifies_with_a_new_full_notice(app, item, clock):
    item.start("farm-subsidy", SUBSIDY, title="2026年耕地地力保护补贴")
    first = item.notice()
    clock.advance(days=2)
    item.object(first, "我家的面积少算了2亩")
    item.do("zhao", "reply_notice_objection", {"decision": "uphold", "reply": "经核实少算2亩，更正后重新公示。"})
    assert item.ready() == ["verify_list"]
    item.do("wang", "verify_list", {**SUBSIDY, "area_mu": "2452.5", "total_amount": "271001.25"})
    second = item.notice()
    assert second["refers_to"] == first["id"]
    clock.advance(days=6)
    run_timers(app)
    assert item.ready() == []
    clock.advance(days=1, seconds=1)
    run_timers(app)
    assert item.ready() == ["township_check"]


# ---------------------------------------------------------------------------- B6 出具证明


CERT = {"applicant_name": "孙大伯", "applicant_id_number": ELDER, "certificate_type": "collective_member",
        "purpose": "办理集体收益分配", "requesting_agency": "示范村股份经济合作社", "content": "本村集体经济组织成员"}
SEAL = {"seal": "committee", "impressions": 1, "document": "集体经济组织成员身份证明（孙大伯）",
        "document_sha256": "a" * 64, "handler": "李委员", "used_on": DAY}


def test_certificate_happy_path(item):
    r = item.start("certificate", CERT, by="li", title="孙大伯申请开具成员身份证明")
    assert item.ready() == ["approve"]
    done = [h for h in r.get_json()["history"] if h["action"] == "complete"][0]
    data = item.who("zhou").get(f"/tasks/{done['task']}").get_json()["data"]
    assert data["certificate_name"] == "集体经济组织成员身份证明" and "孙大伯" in data["certificate_text"]
    r = item.do("wang", "approve", {"decision": "approve"}, status=422)
    assert "verified" in r.get_json()["error"]["fields"]
    item.do("wang", "approve", {"decision": "approve", "verified": True, "opinion": "经核实属实"})
    r = item.do("li", "seal_log", {**SEAL, "document_sha256": ""}, status=422)
    assert "document_sha256" in r.get_json()["error"]["fields"]
    item.do("li", "seal_log", SEAL)
    item.do("li", "register", {"issued_on": DAY, "received_by": "孙大伯", "stub_kept": True})
    case = item.refresh()
    assert case["status"] == "completed"
    last = [h for h in case["history"] if h["action"] == "complete"][-1]
    assert item.who("zhou").get(f"/tasks/{last['task']}").get_json()["data"]["certificate_no"] == "demo-001-证-2026-0001"


@pytest.mark.parametrize("banned", certificates.NEGATIVE_LIST, ids=[b.key for b in certificates.NEGATIVE_LIST])
def test_negative_list_certificates_are_refused_at_once(item, banned):
    for value in (banned.key, f"{banned.name}证明"):
        r = item.start("certificate", {**CERT, "certificate_type": value}, by="li", status=422)
        error = r.get_json()["error"]
        reason = error["fields"]["certificate_type"][0]
        assert reason == error["message"]
        assert reason.startswith(f"根据民政部等六部门2020年规定，村级组织不得出具“{banned.name}”证明，请到")
        assert banned.where in reason


def test_national_negative_list_has_twenty_types():
    assert len(certificates.NEGATIVE_LIST) == 20
    assert len({b.name for b in certificates.NEGATIVE_LIST}) == 20


def test_certificate_not_on_the_positive_list_is_refused(app, item):
    r = item.start("certificate", {**CERT, "certificate_type": "贫困证明"}, by="li", status=422)
    assert "不在本村公布的可出具证明清单中" in r.get_json()["error"]["fields"]["certificate_type"][0]
    set_village_settings(app, **{"certificate.positive_list": [
        {"key": "poverty", "name": "家庭经济困难情况证明", "legal_basis": "本县规定", "template": "{content}"}]})
    item.start("certificate", {**CERT, "certificate_type": "家庭经济困难情况证明"}, by="li")
    r = item.start("certificate", CERT, by="li", status=422)  # the village list replaces the default
    assert "certificate_type" in r.get_json()["error"]["fields"]


def test_provincial_additions_to_the_negative_list(app, item):
    set_village_settings(app, **{"certificate.extra_negative_list": [
        {"key": "school_transfer", "name": "转学", "where": "学校或教育行政部门"}]})
    r = item.start("certificate", {**CERT, "certificate_type": "转学证明"}, by="li", status=422)
    assert "不得出具“转学”证明" in r.get_json()["error"]["message"]


def test_certificate_refused_by_the_director(item):
    item.start("certificate", CERT, by="li", title="孙大伯申请开具成员身份证明")
    r = item.do("wang", "approve", {"decision": "refuse"}, status=422)
    assert "opinion" in r.get_json()["error"]["fields"]
    item.do("wang", "approve", {"decision": "refuse", "opinion": "申请人不是本村集体经济组织成员"})
    assert item.status() == "rejected"


def test_seal_approver_cannot_log_the_seal(app, item):
    import_people(app, [{"username": "wang", "name": "王主任", "password": "demo123", "roles": [
        {"village": "demo-001", "role": "village_director"}, {"village": "demo-001", "role": "committee_member"}]}])
    item.start("certificate", CERT, by="li", title="孙大伯申请开具成员身份证明")
    item.do("wang", "approve", {"decision": "approve", "verified": True})
    r = item.do("wang", "seal_log", SEAL, status=403)
    assert "不能为同一人" in r.get_json()["error"]["message"]
    item.do("sun", "seal_log", SEAL)  # the accountant keeps the seal
    assert item.ready() == ["register"]


def test_only_a_committee_member_takes_certificate_requests(item):
    r = item.start("certificate", CERT, by="wang", status=403)
    assert "两委成员" in r.get_json()["error"]["message"]
