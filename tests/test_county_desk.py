"""县级视图 (issue 10, the county): the county inspector's desk over every township and village of
the county, its CSV and Excel exports, who may see it, and the inspection queue on the township desk."""

from __future__ import annotations

import csv
import io
import re

import pytest

from tests.flows import MEETING_OK, PROPOSAL, Walk
from tests.test_web import Browser

FAR = """
villages:
  - {code: far-001, name: 远山村, township: 远山镇, county: 远山县, adults: 500, households: 150, party_members: 20,
     representatives: 25, two_committees: 5}
people:
  - {username: liu, name: 刘镇长, password: "demo123", roles: [{township: 远山镇, role: township_official}]}
  - {username: ma, name: 马书记, password: "demo123", roles: [{village: far-001, role: party_secretary}]}
  - {username: ye, name: 叶纪委, password: "demo123", roles: [{county: 远山县, role: county_inspector}]}
"""


@pytest.fixture
def web(app):
    """Logs in through the login page, like a person (tests/test_web.py)."""
    return lambda username=None: Browser(app, username)


@pytest.fixture
def county_world(app, api, clock):
    """示范县: in 示范村 a 两委 record objected to by the supervisor (held for the township's
    inspection), a resolution notice whose villager objection was escalated (held, inspection),
    a resolution waiting for its disclosure; in 东山村 a case the county inspector holds and a
    lapsed 两委 meeting. 远山县 (another county) has one village of its own."""
    from engine.services.importer import import_data, parse_yaml

    with app.extensions["cunwu"].transaction() as session:
        import_data(session, parse_yaml(FAR, "far.yaml"))
    objected = Walk(api)
    objected.start()
    objected.meeting("two_committees", "two_committees")
    objected.review("review_two_committees", "object", "未提前七天送达议题")

    escalated = Walk(api)
    escalated.start()
    escalated.to_resolution()
    escalated.disclose("resolution")
    entry = next(e for e in escalated.board() if e["case"] == escalated.case["id"] and e["kind"] == "resolution")
    r = api(None).post(f"/board/{entry['id']}/objections",
                       json={"name": "王秘密", "contact": "13900000000", "text": "占用了我家的地"})
    assert r.status_code == 201
    escalated.do(escalated.supervisor, "reply_resolution_objection",
                 {"decision": "escalate", "reply": "涉及决议本身，报乡镇纪委核查"})

    waiting = Walk(api)  # resolution passed, the disclosure not yet drafted (due in 3 days)
    waiting.start()
    waiting.to_resolution()

    chen, xu = api("chen"), api("xu")
    held = chen.post("/instances", json={"process": "major-decision", "village": "demo-002", "title": "东山村修桥",
                                         "data": PROPOSAL}).get_json()
    r = xu.post(f"/instances/{held['id']}/hold", json={"reason": "县纪委专项检查"})
    assert r.status_code == 200
    lapsed = chen.post("/instances", json={"process": "major-decision", "village": "demo-002", "title": "东山村建仓库",
                                           "data": PROPOSAL}).get_json()
    meeting = next(t for t in lapsed["tasks"] if t["name"] == "two_committees")
    r = chen.post(f"/tasks/{meeting['id']}/complete",
                  json={"data": {**MEETING_OK["two_committees"], "attended": 2, "approve": 2, "oppose": 0}})
    assert r.status_code == 200, r.get_json()
    return {"objected": objected.case, "escalated": escalated.case, "waiting": waiting.case, "held": held,
            "lapsed": lapsed}


def _counts(data: dict) -> dict:
    return {c["code"]: c for c in data["counts"]}


def test_the_county_inspector_sees_both_villages_with_the_right_counts(county_world, api, web, clock):
    r = api("xu").get("/county")
    assert r.status_code == 200, r.get_json()
    data = r.get_json()
    assert data["counties"] == ["示范县"]
    assert [t["name"] for t in data["townships"]] == ["示范镇"]
    counts = _counts(data)
    assert set(counts) == {"demo-001", "demo-002"}  # not 远山村 of another county
    one, two = counts["demo-001"], counts["demo-002"]
    assert (one["running"], one["on_hold"], one["inspections"], one["inspections_overdue"]) == (1, 2, 2, 0)
    assert (two["running"], two["on_hold"], two["inspections"], two["lapsed"]) == (1, 1, 0, 1)
    assert (one["objections"], one["open_objections"], one["disclosures_overdue"]) == (1, 0, 0)
    assert data["townships"][0]["totals"]["on_hold"] == 3 and data["totals"]["inspections"] == 2

    holds = {h["id"]: h for h in data["holds"]}
    county_hold = holds[county_world["held"]["id"]]
    assert (county_hold["hold_reason"], county_hold["hold_by_name"], county_hold["hold_level_name"]) == \
        ("县纪委专项检查", "徐纪委", "县级")
    objected = holds[county_world["objected"]["id"]]
    assert objected["hold_level_name"] == "乡镇级" and objected["hold_by_name"] == "赵监委"
    assert "未提前七天送达议题" in objected["hold_reason"] and objected["held_since"]

    causes = {t["case"]: t for t in data["inspections"]}
    assert causes[county_world["objected"]["id"]]["cause"] == "未提前七天送达议题"
    assert causes[county_world["objected"]["id"]]["cause_kind"] == "object"
    escalated = causes[county_world["escalated"]["id"]]
    assert escalated["cause_kind"] == "escalate" and "占用了我家的地" in escalated["cause"]
    assert "涉及决议本身" in escalated["cause"]

    # the objector is never named to the county, in any form
    text = r.get_data(as_text=True)
    assert "王秘密" not in text and "13900000000" not in text
    html = web("xu").html("/county")
    assert "王秘密" not in html and "13900000000" not in html
    assert "示范村" in html and "东山村" in html and "示范镇" in html
    assert "县纪委专项检查" in html and "县级暂停" in html and "乡镇级暂停" in html and "徐纪委" in html
    assert "未提前七天送达议题" in html and "占用了我家的地" in html and "流会" in html
    assert not re.search(r">[^<]*[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", html)  # no task ids as text
    assert "县级视图" in html

    # 16 days on: both inspections (15 days) and the undrafted disclosure (3 days) are overdue
    clock.advance(days=16)
    data = api("xu").get("/county").get_json()
    one = _counts(data)["demo-001"]
    assert (one["inspections"], one["inspections_overdue"], one["disclosures_overdue"]) == (2, 2, 1)
    late = data["disclosures_overdue"][0]
    assert late["case"] == county_world["waiting"]["id"] and late["overdue_days"] == 13
    html = web("xu").html("/county?village=demo-001")
    assert "公开逾期" in html and "逾期13天" in html and "东山村修桥" not in html
    assert api("xu").get("/county?township=示范镇").get_json()["totals"]["on_hold"] == 3
    assert api("xu").get("/county?village=demo-002").get_json()["totals"]["on_hold"] == 1


def test_other_people_get_403(county_world, api, web):
    for who in ("zhou", "wu", "liu", "zhang", "zhao", "chen", "ma"):
        r = api(who).get("/county")
        assert r.status_code == 403, who
        assert r.get_json()["error"]["message"] == "县级视图仅供县纪委使用"
        b = web(who)
        for path in ("/county", "/county/export.csv", "/county/export.xlsx"):
            r = b.get(path)
            assert r.status_code == 403, (who, path)
        assert "县级视图仅供县纪委使用" in r.data.decode()
    assert api(None).get("/county").status_code == 401
    assert web(None).get("/county").status_code == 302
    # the inspector of another county sees only that county; an admin sees every village
    far = api("ye").get("/county").get_json()
    assert set(_counts(far)) == {"far-001"} and far["holds"] == [] and far["counties"] == ["远山县"]
    assert set(_counts(api("admin").get("/county").get_json())) == {"demo-001", "demo-002", "far-001"}
    assert web("admin").get("/county").status_code == 200


def test_county_exports(county_world, web, app):
    xu = web("xu")
    r = xu.get("/county/export.csv")
    assert r.status_code == 200 and r.data.startswith("\ufeff".encode())
    assert "attachment" in r.headers["Content-Disposition"] and "county-" in r.headers["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(r.data.decode("utf-8-sig"))))
    assert rows[0][:6] == ["县", "乡镇", "村", "村编码", "办理中", "暂停"]
    demo = next(row for row in rows if row[3] == "demo-001")
    assert demo[:8] == ["示范县", "示范镇", "示范村", "demo-001", "1", "2", "2", "0"]
    assert rows[-1][0] == "合计" and rows[-1][5] == "3"
    detail = xu.get("/county/export.csv?table=detail").data.decode("utf-8-sig")
    assert "县纪委专项检查" in detail and "待核查" in detail and "未提前七天送达议题" in detail and "流会" in detail
    assert "王秘密" not in detail and "13900000000" not in detail
    r = xu.get("/county/export.xlsx?village=demo-001")
    from openpyxl import load_workbook

    wb = load_workbook(io.BytesIO(r.data))
    assert wb.sheetnames == ["汇总", "暂停", "待核查", "逾期环节", "公开逾期", "流会与未通过", "异议", "问题线索",
                             "缺张贴照片"]
    assert wb["汇总"]["C2"].value == "示范村" and wb["汇总"]["F2"].value == 2
    assert wb["暂停"].max_row == 3 and wb["待核查"].max_row == 3
    for ws in wb:
        for row in ws.iter_rows():
            assert all("王秘密" not in str(c.value) for c in row)


def test_a_formula_like_objection_is_text_in_the_county_exports(app, api, web):
    walk = Walk(api)
    walk.start()
    walk.to_resolution()
    walk.disclose("resolution")
    entry = walk.board()[0]
    r = api(None).post(f"/board/{entry['id']}/objections", json={"name": "某", "text": "=cmd|' /C calc'!A0"})
    assert r.status_code == 201
    xu = web("xu")
    detail = xu.get("/county/export.csv?table=detail").data.decode("utf-8-sig")
    assert "'=cmd|" in detail
    from openpyxl import load_workbook

    wb = load_workbook(io.BytesIO(xu.get("/county/export.xlsx").data))
    cell = next(c for row in wb["异议"].iter_rows(min_row=2) for c in row if "cmd" in str(c.value))
    assert cell.data_type == "s" and cell.value.startswith("=cmd")


def test_the_township_desk_shows_the_inspection_queue(county_world, web):
    html = web("wu").html("/township")
    queue = html.split('id="inspections"', 1)[1].split("</section>", 1)[0]
    assert queue.count('class="inspection"') == 2
    assert "未提前七天送达议题" in queue and "占用了我家的地" in queue and "赵监委" in queue
    assert "去核查" in queue
    links = re.findall(r'href="(/tasks/[0-9a-f-]{36})"', queue)
    assert len(set(links)) == 2
    b = web("wu")
    task_page = b.html(links[0])
    assert "乡镇纪委核查" in task_page
    assert "查看" in web("zhou").html("/township").split('id="inspections"', 1)[1].split("</section>", 1)[0]
    # another township sees none of them
    assert "未提前七天送达议题" not in web("liu").html("/township")
    rows = list(csv.reader(io.StringIO(web("zhou").get("/township/export.csv").data.decode("utf-8-sig"))))
    assert rows[0][-2:] == ["待核查", "核查逾期"]
    assert next(row for row in rows if row[2] == "demo-001")[-2:] == ["2", "0"]
    assert rows[-1][0] == "合计" and rows[-1][-2:] == ["2", "0"]
    detail = web("zhou").get("/township/export.csv?table=detail").data.decode("utf-8-sig")
    assert detail.count("待核查") >= 2


def test_the_county_page_in_the_nav(web):
    assert "县级视图" in web("xu").html("/")
    assert "县级视图" not in web("zhou").html("/")


# -- in real Chromium, from a phone ------------------------------------------------------------
@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    from tests.test_browser import ARGS

    return {**browser_type_launch_args, "executable_path": "/usr/bin/chromium", "args": ARGS}


@pytest.mark.browser
def test_the_county_desk_on_a_phone(county_world, browser, app):
    import threading

    from werkzeug.serving import make_server

    from tests.test_browser import PHONE, Person, shot

    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        xu = Person(browser, f"http://127.0.0.1:{server.server_port}", "xu", **PHONE)
        page = xu.go("/county")
        assert page.locator("h1").inner_text().startswith("县级视图")
        assert page.evaluate("document.documentElement.scrollWidth") <= 390  # the wide table scrolls inside its card
        assert page.locator("#holds li").count() == 3
        shot(page, "county-phone")
        page.locator("#inspections a", has_text="查看").first.click()
        page.wait_for_url(re.compile(r"/tasks/[0-9a-f-]{36}$"))
        assert page.locator("h1").inner_text() == "乡镇纪委核查"
        assert not xu.errors
    finally:
        server.shutdown()
        thread.join(timeout=5)


def test_complaint_leads_by_status_and_deadline(app, api, web, clock):
    r = api(None).post("/leads", json={"village": "demo-002", "text": "村干部优亲厚友", "category": "dibao",
                                        "name": "秘密人", "contact": "13700000000"})
    assert r.status_code == 201, r.get_json()
    data = api("xu").get("/county").get_json()
    two = _counts(data)["demo-002"]
    assert (two["leads_open"], two["leads_overdue"]) == (1, 0) and _counts(data)["demo-001"]["leads_open"] == 0
    assert {s["name"]: s["count"] for s in data["lead_status"]}["待受理"] == 1
    (lead,) = data["leads"]
    assert lead["village"] == "demo-002" and lead["status"] == "received" and lead["due_at"]
    assert "name" not in lead and "contact" not in lead
    html = web("xu").html("/county")
    assert lead["title"] in html and "待受理" in html
    assert "秘密人" not in html and "13700000000" not in html
    assert api("xu").get("/county?village=demo-001").get_json()["leads"] == []

    clock.advance(days=30)  # 15 working days to accept it have passed
    data = api("xu").get("/county").get_json()
    assert data["totals"]["leads_overdue"] == 1 and data["townships"][0]["totals"]["leads_overdue"] == 1
    rows = list(csv.reader(io.StringIO(web("xu").get("/county/export.csv").data.decode("utf-8-sig"))))
    assert rows[0][-5:] == ["问题线索（待受理、办理中）", "线索逾期", "线索督办", "一案双查问责人次", "已办结事项"]
    assert next(row for row in rows if row[3] == "demo-002")[-5:-1] == ["1", "1", "0", "0"]
    detail = web("xu").get("/county/export.csv?table=detail").data.decode("utf-8-sig")
    assert "问题线索" in detail and "秘密人" not in detail and "13700000000" not in detail
