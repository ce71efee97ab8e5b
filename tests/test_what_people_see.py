"""CONTRACT "What people see: records, amounts, dates, objectors" (issue 15): whoever approves sees
the record approved; amounts as people write them; an objector without a name."""

from __future__ import annotations

from decimal import Decimal

import pytest

from engine.domain.money import AmountError, capital, parse_amount, spoken
from tests.conftest import ApiClient
from tests.flows import PROPOSAL, Walk


@pytest.fixture
def walk(app):
    walk = Walk(lambda u: ApiClient(app, u))
    walk.start()
    return walk


def _page(app, username: str):
    client = app.test_client()
    assert client.post("/login", data={"username": username, "password": "demo123"}).status_code == 302
    return client


# -- the record a decision is about ---------------------------------------------------------------
def test_a_review_shows_the_meeting_it_judges(app, walk):
    walk.meeting("two_committees", "two_committees", attended=7, approve=5, oppose=1, abstain=1,
                 minutes="两委会议商议修路方案，逐项表决", supervisors_present="赵监委")
    task = walk.supervisor.get(f"/tasks/{walk.task('review_two_committees')['id']}").get_json()
    subject = task["subject"]
    assert set(subject) >= {"task", "title", "form", "body", "data", "by", "at"}
    assert subject["form"] == "meeting" and subject["body"] == "two_committees" and subject["by"] == "张书记"
    data = subject["data"]
    assert (data["attended"], data["approve"], data["oppose"], data["abstain"]) == (7, 5, 1, 1)
    assert data["minutes"] == "两委会议商议修路方案，逐项表决" and data["should_attend"] == 7
    assert data["supervisors_present"] == "赵监委"
    html = _page(app, "zhao").get(f"/tasks/{task['id']}").get_data(as_text=True)
    record = html[html.index('id="subject"'):html.index('<form method="post" novalidate')]
    for text in ("审核的记录", "村两委会议", "实到人数", "7人", "赞成票数", "两委会议商议修路方案，逐项表决", "张书记",
                 "列席的监委会成员", "赵监委", "表决结果", "通过"):
        assert text in record, text
    assert "rules_version" not in record and "should_attend" not in record


def test_a_review_of_a_notice_shows_its_text_and_period(walk):
    walk.to_resolution()
    walk.do(walk.director, "draft_resolution_disclosure", {"content": "决议：硬化村东道路，预算18万元。", "notice_days": 10})
    subject = walk.supervisor.get(f"/tasks/{walk.task('review_resolution_disclosure')['id']}").get_json()["subject"]
    assert subject["form"] == "disclosure" and subject["by"] == "王主任"
    assert subject["data"] == {"content": "决议：硬化村东道路，预算18万元。", "notice_days": 10}


def test_an_objection_reply_shows_the_notice_and_the_objection_never_the_objector(app, walk):
    walk.to_resolution()
    walk.disclose("resolution", content="决议全文")
    entry = walk.board()[0]["id"]
    r = walk.public.post(f"/board/{entry}/objections", json={"text": "预算偏高", "name": "刘大", "contact": "13800000000"})
    assert r.status_code == 201
    task = walk.supervisor.get(f"/tasks/{walk.task('reply_resolution_objection')['id']}").get_json()
    subject = task["subject"]
    assert subject["data"]["content"] == "决议全文" and subject["data"]["objection"] == "预算偏高"
    assert "刘大" not in str(subject) and "13800000000" not in str(subject)
    assert task["objection"]["name"] == "刘大"  # the supervisors who answer see who objected
    case = walk.refresh()
    assert "刘大" not in str(case["history"]) and "13800000000" not in str(case["history"])
    assert "刘大" not in str(walk.board()) and "name" not in walk.board()[0]["objections"][0]
    board_page = app.test_client().get("/villages/demo-001/board").get_data(as_text=True)
    assert "刘大" not in board_page and "预算偏高" in board_page


def test_an_inspection_shows_the_record_and_the_objection_to_it(api, walk):
    walk.meeting("two_committees", "two_committees")
    walk.do(walk.supervisor, "review_two_committees", {"decision": "object", "opinion": "两委成员未全部通知"})
    task = api("wu").get(f"/tasks/{walk.task('inspect_review_two_committees')['id']}").get_json()
    subject = task["subject"]
    assert subject["form"] == "meeting" and subject["data"]["attended"] == 7
    assert subject["raised_by"]["opinion"] == "两委成员未全部通知" and subject["raised_by"]["by"] == "赵监委"


def test_the_history_carries_each_record_as_stored(walk):
    walk.meeting("two_committees", "two_committees")
    history = walk.refresh()["history"]
    proposal = next(h for h in history if h.get("form") == "proposal")
    assert proposal["data"]["amount"] == "180000.00" and proposal["data"]["title"] == PROPOSAL["title"]
    meeting = next(h for h in history if h.get("form") == "meeting")
    assert meeting["body"] == "two_committees" and meeting["data"]["approve"] == 6


def test_the_case_page_shows_every_record(app, walk):
    walk.meeting("two_committees", "two_committees", minutes="商议纪要原文")
    html = _page(app, "zhang").get(f"/cases/{walk.case['id']}").get_data(as_text=True)
    assert "查看记录" in html and "商议纪要原文" in html and "壹拾捌万元整（180,000.00 元）" in html
    printed = _page(app, "zhang").get(f"/cases/{walk.case['id']}/print").get_data(as_text=True)
    assert '<details class="tl-record" open>' in printed and "商议纪要原文" in printed  # 登记表: every record open


# -- objections without a name --------------------------------------------------------------------
def test_an_objection_needs_no_name(app, walk):
    walk.to_resolution()
    walk.disclose("resolution")
    entry = walk.board()[0]["id"]
    assert walk.public.post(f"/board/{entry}/objections", json={"text": "不同意"}).status_code == 201
    html = _page(app, "zhao").get(f"/tasks/{walk.task('reply_resolution_objection')['id']}").get_data(as_text=True)
    assert "匿名" in html
    page = app.test_client().post(f"/villages/demo-001/board/{entry}/objections", data={"text": "再提一条"})
    assert page.status_code == 302
    form = app.test_client().get("/villages/demo-001/board").get_data(as_text=True)
    assert "姓名（可不填）" in form


# -- amounts as people write them -----------------------------------------------------------------
@pytest.mark.parametrize("written,amount", [
    (250000, "250000.00"), ("250000", "250000.00"), ("25万", "250000.00"), ("2.5万元", "25000.00"),
    ("250,000", "250000.00"), ("250,000.5元", "250000.50"), (1.5, "1.50"), ("0", "0.00"), ("１８万", "180000.00"),
])
def test_amounts_are_read_as_written(walk, written, amount):
    case = walk.start(amount=written)
    proposal = next(h for h in case["history"] if h.get("form") == "proposal")
    assert proposal["data"]["amount"] == amount


@pytest.mark.parametrize("written", ["约25万", "25万万", "-1", "1.005", "25 万 元", "1,00,000", "二十五万", True, "", "万"])
def test_other_writings_are_refused_on_the_field_never_read_as_another_number(walk, written):
    r = walk.secretary.post("/instances", json={"process": "major-decision", "village": "demo-001", "title": "x",
                                                "data": {**PROPOSAL, "amount": written}})
    assert r.status_code == 422, r.get_json()
    error = r.get_json()["error"]
    assert list(error["fields"]) == ["amount"]
    assert "涉及金额" in error["message"] and "amount" not in error["message"]


def test_every_bad_field_at_once_named_in_chinese(walk):
    r = walk.meeting("two_committees", "two_committees", status=422, attended="七", minutes="", approve=-1)
    error = r.get_json()["error"]
    assert {"attended", "minutes", "approve"} <= set(error["fields"])
    assert "实到人数" in error["message"] and "会议纪要" in error["message"] and "赞成票数" in error["message"]
    assert "attended" not in error["message"]


@pytest.mark.parametrize("amount,words", [
    ("250000", "贰拾伍万元整"), ("0", "零元整"), ("1005.5", "壹仟零伍元伍角"), ("100000000.05", "壹亿元零伍分"),
    ("100050000", "壹亿零伍万元整"), ("10", "壹拾元整"), ("0.05", "伍分"), ("101", "壹佰零壹元整"),
    ("1010", "壹仟零壹拾元整"), ("123456789.12", "壹亿贰仟叁佰肆拾伍万陆仟柒佰捌拾玖元壹角贰分"),
])
def test_capital_amounts(amount, words):
    assert capital(amount) == words


def test_spoken_and_parse_limits():
    assert spoken(parse_amount("25万")) == "贰拾伍万元整（250,000.00 元）"
    assert parse_amount("0.01万") == Decimal("100.00")
    for bad in ("1.2.3", "1e5", "NaN", "Infinity", None, [1]):
        with pytest.raises(AmountError):
            parse_amount(bad)


def test_the_form_takes_text_and_echoes_the_amount(app):
    html = _page(app, "zhang").get("/start/major-decision").get_data(as_text=True)
    assert 'name="amount"' in html and 'data-money="echo-amount"' in html
    field = html[html.index('name="amount"') - 200:html.index('name="amount"') + 200]
    assert 'type="number"' not in field and 'type="text"' in field


# -- overspending and notices drafted from the record ---------------------------------------------
def _to_implementation(walk, clock, app):
    walk.to_resolution()
    walk.disclose("resolution")
    clock.advance(days=8)
    app.extensions["cunwu"].run_timers()
    assert walk.ready() == ["implement"]


def test_overspending_needs_a_reason_and_is_disclosed(app, walk, clock):
    _to_implementation(walk, clock, app)  # approved: 180000
    r = walk.do(walk.director, "implement", {"summary": "道路硬化完成", "amount_spent": "450万"}, status=422)
    error = r.get_json()["error"]
    assert list(error["fields"]) == ["over_budget_reason"]
    assert "肆佰伍拾万元整" in error["message"] and "壹拾捌万元整" in error["message"]
    walk.do(walk.director, "implement", {"summary": "道路硬化完成", "amount_spent": "180000"})  # exactly: no reason


def test_an_overrun_is_stated_in_the_result_notice(app, walk, clock):
    _to_implementation(walk, clock, app)
    walk.do(walk.director, "implement", {"summary": "道路硬化完成", "amount_spent": "180000.01",
                                          "over_budget_reason": "增加排水沟30米"})
    walk.review("review_implementation")
    walk.disclose("result", content="村东道路硬化完成。")  # the draft does not mention the overrun
    notice = next(e for e in walk.board() if e["kind"] == "result")
    assert "决议金额壹拾捌万元整" in notice["content"] and "180,000.01" in notice["content"]
    assert "超支原因：增加排水沟30米" in notice["content"]
    desk = _page(app, "zhou").get("/township").get_data(as_text=True)
    overruns = desk[desk.index('id="overruns"'):]
    assert "硬化村东道路" in overruns and "180000.01" in overruns and "增加排水沟30米" in overruns
    # exports: the amounts are numbers a spreadsheet can sum, not text with separators and units
    import csv
    import io

    from openpyxl import load_workbook
    page = _page(app, "zhou")
    sheet = load_workbook(io.BytesIO(page.get("/township/export.xlsx").data))["超支的实施"]
    head = [c.value for c in sheet[1]]
    row = [c for c in sheet[2]]
    approved, spent, over = (row[head.index(h)] for h in ("决议金额（元）", "实际支出（元）", "超支金额（元）"))
    assert (approved.data_type, spent.data_type, over.data_type) == ("n", "n", "n")
    assert (approved.value, spent.value, round(over.value, 2)) == (180000, 180000.01, 0.01)
    assert spent.number_format == "#,##0.00"
    reply = page.get("/township/export.csv?table=overruns")
    lines = list(csv.reader(io.StringIO(reply.get_data(as_text=True).lstrip("\ufeff"))))
    assert lines[0][2:5] == ["决议金额（元）", "实际支出（元）", "超支金额（元）"]
    assert lines[1][2:5] == ["180000.00", "180000.01", "0.01"]
    from urllib.parse import unquote
    assert "乡镇视图-全部村-" in unquote(reply.headers["Content-Disposition"].split("filename*=UTF-8''")[1])


def test_the_disclosure_comes_drafted_from_the_record(app, walk):
    walk.to_resolution()
    task = walk.director.get(f"/tasks/{walk.task('draft_resolution_disclosure')['id']}").get_json()
    draft = task["prefill"]["content"]
    assert "硬化村东道路" in draft and "壹拾捌万元整（180,000.00 元）" in draft
    assert "村民代表会议于2026-03-02表决：应到30人，实到24人，赞成20票" in draft
    assert task["prefill"]["notice_days"] == 7
    html = _page(app, "wang").get(f"/tasks/{task['id']}").get_data(as_text=True)
    assert "壹拾捌万元整（180,000.00 元）" in html[html.index('name="content"'):]


def test_the_menu_offers_starting_only_to_who_can_start(app):
    for starter in ("zhang", "zhao"):  # 村党组织书记; 监委会 (it opens the 民主评议)
        assert 'href="/start"' in _page(app, starter).get("/").get_data(as_text=True), starter
    for inspector in ("xu",):  # 县纪委: nothing to start (乡镇纪委 enters leads taken by phone)
        assert 'href="/start"' not in _page(app, inspector).get("/").get_data(as_text=True), inspector


def test_a_meeting_page_shows_only_what_its_body_and_item_use(app, walk):
    html = _page(app, "zhang").get(f"/tasks/{walk.task('two_committees')['id']}").get_data(as_text=True)
    assert 'name="supervisors_present"' in html and 'name="announced_on"' not in html
    assert 'name="written_approve"' not in html and 'name="attended_households"' not in html
    walk.meeting("two_committees", "two_committees")
    walk.review("review_two_committees")
    html = _page(app, "zhang").get(f"/tasks/{walk.task('party_members')['id']}").get_data(as_text=True)
    assert 'name="written_approve"' not in html  # 书面意见 belong to the 发展党员 支部大会 only
    assert 'name="supervisors_present"' not in html


def test_the_board_catalogue_names_items_without_internal_keys(app):
    import re

    html = app.test_client().get("/board").get_data(as_text=True)
    text = re.sub(r"<[^>]+>", " ", re.sub(r"<(script|style|svg)\b.*?</\1>", " ", html, flags=re.S))
    keys = [p["key"] for p in app.extensions["cunwu"].processes()]
    assert keys and not [k for k in keys if k in text]  # the keys stay in links, never in the text read
    assert "清单编号 A1" in text and "编号 major-decision" not in text


@pytest.mark.parametrize("username,desk", [("xu", "/county"), ("zhou", "/township"), ("zhang", "/"),
                                           ("zhao", "/"), ("he", "/")])
def test_each_role_lands_on_its_own_desk(app, username, desk):
    """县纪委 on the county desk, 乡镇干部 on the township desk, village roles (and the agency, whose
    work is its review tasks) on their worklist; a ``next`` still wins."""
    client = app.test_client()
    r = client.post("/login", data={"username": username, "password": "demo123"})
    assert r.status_code == 302 and r.headers["Location"] == desk
    assert client.get(desk).status_code == 200
    r = app.test_client().post("/login", data={"username": username, "password": "demo123", "next": "/board"})
    assert r.headers["Location"] == "/board"
