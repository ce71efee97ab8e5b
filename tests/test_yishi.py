"""村民一事一议筹资筹劳 (``yishi-funding``; issue 13) through the JSON API, with the test clock.

Rules tested: the vote passes with at least two thirds of those present (R22; exactly 2/3 passes,
one vote fewer does not, D1); the per-head caps of 《村民一事一议筹资筹劳管理办法》第十三条 as item
settings (a plan above the cap is refused naming both amounts; the cap is a year's); the 村民代表会议
only under the 村民会议's authorisation; 乡镇初审, 县级复审备案; money is raised only after the plan
was posted, never above the approved total, and every collection is an ``in`` entry of the
村民委员会 in the books, found by ``cunwu doctor`` when altered.
"""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import text

from engine.catalogue import village_settings as item_settings
from engine.domain import rules
from engine.forms import FORMS
from engine.forms.yishi import YISHI_FORMS
from tests.conftest import ApiClient
from tests.test_items_public import APPROVE, VILLAGE, Item, set_village, today

PROCESS = "yishi-funding"
PLAN = {"project": "村内道路硬化", "summary": "硬化村内主干道800米，全村受益。", "budget": "60000",
        "money_per_head": "15", "payers": 800, "labour_days": 5, "labourers": 300,
        "exemptions": "现役军人、低保户不承担筹资；在校学生、孕妇不承担筹劳。"}
ASSEMBLY = {"attended": 500, "approve": 334, "oppose": 100, "abstain": 66, "minutes": "村民会议表决一事一议筹资筹劳方案"}
REPRESENTATIVES = {"attended": 24, "approve": 16, "oppose": 6, "abstain": 2, "minutes": "村民代表会议表决方案"}


@pytest.fixture
def item(app):
    """``item(process)``: an :class:`Item` driver; one logged-in client per user for the test."""
    clients: dict = {}

    def login(username: str | None = None) -> ApiClient:
        if username not in clients:
            clients[username] = ApiClient(app, username)
        return clients[username]

    return lambda process: Item(app, login, process)


def without(*keys: str) -> dict:
    return {k: v for k, v in PLAN.items() if k not in keys}


def _meeting(case, clock, name: str, data: dict, status: int = 200):
    from datetime import timedelta

    held = today(clock)
    if name == "villager_assembly":  # 十天前通知 (组织法第二十一条)
        data = {"announced_on": (date.fromisoformat(held) - timedelta(days=10)).isoformat(), **data}
    who = "zhang" if name == "two_committees" else "wang"
    return case.do(who, name, {"held_on": held, **data}, status)


def _to_vote(item, clock, **plan):
    case = item(PROCESS)
    case.start("zhang", {**PLAN, **plan}, title="村内道路硬化一事一议")
    assert case.ready() == ["two_committees"]
    _meeting(case, clock, "two_committees", {"attended": 7, "approve": 6, "oppose": 1, "abstain": 0,
                                             "minutes": "两委会议商议筹资筹劳方案"})
    case.do("zhao", "review_two_committees", APPROVE)
    return case


def _to_collection(item, clock):
    case = _to_vote(item, clock)
    assert case.ready() == ["villager_assembly"]
    _meeting(case, clock, "villager_assembly", ASSEMBLY)
    case.do("zhao", "review_resolution", APPROVE)
    case.do("zhou", "township_review", {"decision": "approve", "approved_on": today(clock)})
    case.do("zhou", "county_filing", {"filed_on": today(clock), "filed_with": "示范县农业农村局",
                                      "county_result": "filed", "receipt": "示农负备〔2026〕3号"})
    case.disclose("plan", clock)
    assert case.ready() == ["collect"]
    return case


def _ledger(case) -> dict:
    return case.client("sun").get(f"/villages/{VILLAGE}/ledger").get_json()


def test_forms_are_registered_as_ours():
    for key, schema in YISHI_FORMS.items():
        assert FORMS[key] is schema


def test_forms_are_documented():
    from pathlib import Path

    docs = (Path(__file__).resolve().parent.parent / "docs" / "forms.md").read_text(encoding="utf-8")
    for key, schema in YISHI_FORMS.items():
        row = next((r for r in docs.splitlines() if r.startswith(f"| `{key}` |")), None)
        assert row, f"{key} is not in docs/forms.md"
        for name in schema().fields:
            assert f"`{name}`" in row, f"{key}.{name} is not documented"


# ---------------------------------------------------------------------------- the vote (R22)


def test_two_thirds_of_those_present_exactly():
    """三分之二以上 includes the number (D1): 16 of 24 present passes, 15 does not; the same at a 村民会议."""
    on = date(2026, 3, 2)
    for body, should, attended, yes, passed in (("representatives", 30, 24, 16, True),
                                                ("representatives", 30, 24, 15, False),
                                                ("villager_assembly", 900, 500, 334, True),
                                                ("villager_assembly", 900, 500, 333, False)):
        result = rules.evaluate_meeting(body, should_attend=should, attended=attended, approve=yes, on=on,
                                        households=320, vote_rule="yishi")
        assert result.outcome == ("passed" if passed else "failed"), (body, yes, result.reason)
        assert "三分之二以上" in result.reason
    # Without the rule the same 15 of 24 would pass (more than half of those present).
    assert rules.evaluate_meeting("representatives", should_attend=30, attended=24, approve=15, on=on).passed
    # A stricter village rule for the body still applies: 16 of 24 present is not more than half of all 30... it is
    # (16 > 15); 15 of 22 present is two thirds-plus but not more than half of all 30.
    strict = {"representatives_pass": "all_members"}
    assert rules.evaluate_meeting("representatives", should_attend=30, attended=21, approve=15, on=on,
                                  settings=strict, vote_rule="yishi").outcome == "failed"
    assert rules.evaluate_meeting("representatives", should_attend=30, attended=21, approve=16, on=on,
                                  settings=strict, vote_rule="yishi").outcome == "passed"


def test_assembly_one_vote_below_two_thirds_rejects_the_plan(item, clock):
    case = _to_vote(item, clock)
    _meeting(case, clock, "villager_assembly", {**ASSEMBLY, "approve": 333, "oppose": 101})
    assert case.status == "rejected"
    assert case.ready() == []


def test_assembly_exactly_two_thirds_passes(item, clock):
    case = _to_vote(item, clock)
    _meeting(case, clock, "villager_assembly", ASSEMBLY)  # 334 of 500: 3 × 334 = 1002 ≥ 1000
    assert case.ready() == ["review_resolution"]
    assert case.data_of("villager_assembly")["outcome"] == "passed"


def test_representatives_only_with_the_assemblys_authorisation(app, item, clock):
    case = item(PROCESS)
    message = case.start("zhang", {**PLAN, "assembly": "representatives"}, status=422).get_json()["error"]
    assert "assembly" in message["fields"] and "授权" in message["message"]
    set_village(app, assembly_authorisation="2026年第1次村民会议授权决定")
    case = _to_vote(item, clock, assembly="representatives")
    assert case.ready() == ["representatives"]
    _meeting(case, clock, "representatives", {**REPRESENTATIVES, "approve": 15, "oppose": 7}, 200)
    assert case.status == "rejected"  # 15 of 24 present: more than half, less than two thirds
    case = _to_vote(item, clock, assembly="representatives")
    _meeting(case, clock, "representatives", REPRESENTATIVES)
    assert case.ready() == ["review_resolution"]


# ---------------------------------------------------------------------------- the caps (办法第十三条)


def test_plan_above_the_per_head_cap_is_refused_naming_both_amounts(app, item, clock):
    case = item(PROCESS)
    error = case.start("zhang", {**PLAN, "money_per_head": "15.50"}, status=422).get_json()["error"]
    assert error["fields"].keys() == {"money_per_head"}
    assert "15.50元" in error["message"] and "上限15元" in error["message"], error["message"]
    error = case.start("zhang", {**PLAN, "labour_days": 11}, status=422).get_json()["error"]
    assert "labour_days" in error["fields"] and "11个工日" in error["message"] and "上限10个工日" in error["message"]
    # A village may set a lower cap (never a higher one).
    assert item_settings.check_settings({"yishi-funding.money_per_head_max": 20}) != {}
    assert item_settings.check_settings({"yishi-funding.money_per_head_max": 12}) == {}
    set_village(app, **{"yishi-funding.money_per_head_max": 12})
    error = case.start("zhang", PLAN, status=422).get_json()["error"]
    assert "每人筹资15元" in error["message"] and "上限12元" in error["message"]
    case.start("zhang", {**PLAN, "money_per_head": "12"})  # exactly the cap: taken


def test_the_cap_is_a_years_other_plans_count(item, clock):
    first = item(PROCESS)
    first.start("zhang", {**PLAN, "money_per_head": "10", "labour_days": 6})
    second = item(PROCESS)
    error = second.start("zhang", {**PLAN, "money_per_head": "6", "labour_days": 0}, status=422).get_json()["error"]
    assert "已筹10元" in error["message"] and "合计16元" in error["message"] and "上限15元" in error["message"]
    error = second.start("zhang", {**PLAN, "money_per_head": "5", "labour_days": 5}, status=422).get_json()["error"]
    assert "labour_days" in error["fields"] and "合计11个工日" in error["message"]
    second.start("zhang", {**PLAN, "money_per_head": "5", "labour_days": 4})  # 15元, 10个工日: at the caps


def test_plan_needs_money_or_labour_and_stays_within_the_budget(item):
    case = item(PROCESS)
    error = case.start("zhang", without("money_per_head", "labour_days"), status=422).get_json()
    assert "money_per_head" in error["error"]["fields"] and "至少一项" in error["error"]["message"]
    error = case.start("zhang", without("payers"), status=422).get_json()["error"]
    assert "payers" in error["fields"]
    error = case.start("zhang", {**PLAN, "budget": "11999.99"}, status=422).get_json()["error"]
    assert "12,000元" in error["message"] and "11,999.99元" in error["message"], error["message"]
    case.start("zhang", without("money_per_head", "payers"))  # labour only


# ---------------------------------------------------------------------------- township, county, notice


def test_township_returns_and_county_corrects_back_to_the_plan(item, clock):
    case = _to_vote(item, clock)
    _meeting(case, clock, "villager_assembly", ASSEMBLY)
    case.do("zhao", "review_resolution", APPROVE)
    assert case.task("township_review")["role"] == "township_official"
    case.refused("zhou", "township_review", {"decision": "return", "approved_on": today(clock)}, "opinion")
    case.do("zhou", "township_review", {"decision": "return", "approved_on": today(clock), "opinion": "减免对象不全"})
    assert case.ready() == ["propose"]
    case.do("zhang", "propose", PLAN)
    _meeting(case, clock, "two_committees", {"attended": 7, "approve": 7, "oppose": 0, "abstain": 0, "minutes": "再议"})
    case.do("zhao", "review_two_committees", APPROVE)
    _meeting(case, clock, "villager_assembly", ASSEMBLY)
    case.do("zhao", "review_resolution", APPROVE)
    case.do("zhou", "township_review", {"decision": "approve", "approved_on": today(clock)})
    filing = {"filed_on": today(clock), "filed_with": "示范县农业农村局", "county_result": "corrected"}
    case.refused("zhou", "county_filing", filing, "opinion")
    case.refused("zhou", "county_filing", {**filing, "county_result": "filed"}, "receipt")
    case.do("zhou", "county_filing", {**filing, "opinion": "道路养护不属于本次筹资范围"})
    assert case.ready() == ["propose"]


def test_nothing_is_raised_before_the_plan_is_posted(item, clock):
    case = _to_vote(item, clock)
    _meeting(case, clock, "villager_assembly", ASSEMBLY)
    case.do("zhao", "review_resolution", APPROVE)
    case.do("zhou", "township_review", {"decision": "approve", "approved_on": today(clock)})
    case.do("zhou", "county_filing", {"filed_on": today(clock), "filed_with": "示范县农业农村局",
                                      "county_result": "filed", "receipt": "示农负备〔2026〕3号"})
    case.do("wang", "draft_plan_disclosure", {"content": "筹资筹劳方案公示", "notice_days": 7})
    case.do("zhao", "review_plan_disclosure", APPROVE)
    board = case.board()
    assert board[0]["title"].endswith("筹资筹劳方案公示") or "筹资筹劳方案公示" in board[0]["title"], board[0]
    assert "collect" not in case.ready()  # the notice period runs
    case.timers(clock, 7)
    assert case.ready() == ["collect"]


# ---------------------------------------------------------------------------- the money in the books


def test_collections_are_income_of_the_committee_and_the_case_ends_with_the_result_notice(app, item, clock):
    from engine.services.doctor import check

    case = _to_collection(item, clock)
    assert _ledger(case)["totals"]["in"] == "0.00"
    case.do("sun", "collect", {"collected_on": today(clock), "amount": "6000.10", "payers": 400, "labour_days": 600,
                               "voucher": "SK-001", "more": True})
    assert case.ready() == ["collect"]
    case.do("sun", "collect", {"collected_on": today(clock), "amount": "5999.90", "payers": 400, "labour_days": 900})
    assert case.ready() == ["implement"]
    books = _ledger(case)
    mine = [e for e in books["entries"] if e["case"] == case.case["id"]]
    assert [(e["direction"], e["entity"], e["account"], e["amount"]) for e in mine] == [
        ("in", "committee", "一事一议资金", "6000.10"), ("in", "committee", "一事一议资金", "5999.90")]
    assert books["totals"]["in"] == "12000.00"
    assert "村内道路硬化" in mine[0]["summary"] and mine[0]["voucher"] == "SK-001"
    assert case.data_of("collect")["labour_days_total"] == 1500
    engine = app.extensions["cunwu"]
    assert check(engine).ok, check(engine).problems

    case.do("wang", "implement", {"summary": "道路硬化完工，筹资12000元全部用于材料", "amount_spent": "12000"})
    case.do("zhao", "review_implementation", APPROVE)
    case.disclose("result", clock)
    assert case.status == "completed"
    titles = [e["title"] for e in case.board()]
    assert any("筹资筹劳使用结果公示" in t for t in titles), titles

    db = app.extensions["cunwu_db"]
    with db.begin() as conn:  # an altered receipt of the case is found
        conn.execute(text("update ledger_entry set amount = amount + 1 where id = :i"), {"i": mine[0]["id"]})
    assert any("已被改动" in p and str(mine[0]["id"]) in p for p in check(engine).problems)


def test_collection_above_the_approved_total_is_refused_and_writes_nothing(item, clock):
    case = _to_collection(item, clock)
    case.do("sun", "collect", {"collected_on": today(clock), "amount": "11000", "payers": 700, "more": True})
    message = case.refused("sun", "collect", {"collected_on": today(clock), "amount": "1000.01", "payers": 1}, "amount")
    assert "12,000.01元" in message and "12,000元" in message, message
    assert _ledger(case)["totals"]["in"] == "11000.00"
    message = case.refused("sun", "collect", {"collected_on": today(clock), "labour_days": 1501}, "labour_days")
    assert "1500个工日" in message
    case.refused("sun", "collect", {"collected_on": today(clock)}, "amount")
    case.refused("sun", "collect", {"collected_on": today(clock), "amount": "-5"}, "amount")
    assert _ledger(case)["totals"]["in"] == "11000.00"
    assert case.ready() == ["collect"]


def test_labour_only_plan_takes_no_money(item, clock):
    case = item(PROCESS)
    case.start("zhang", without("money_per_head", "payers"))
    assert case.data_of("propose")["money_total"] == "0"


def test_the_pages_show_the_plan_and_the_collection_forms(app, item, clock):
    from tests.test_web import Browser

    page = Browser(app, "zhang").html(f"/start/{PROCESS}")
    for label in ("项目名称", "每人筹资额", "每个劳动力筹劳工日", "减免对象和办法", "村民会议"):
        assert label in page, label
    case = _to_collection(item, clock)
    page = Browser(app, "sun").html(f"/tasks/{case.task('collect')['id']}")
    for label in ("收取筹资、组织筹劳并入账", "本次收取筹资", "本次出工工日", "尚未收齐，继续登记"):
        assert label in page, label
    assert "money_total" not in page  # no internal key on a page
