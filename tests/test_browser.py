"""The pages in real Chromium (Debian's /usr/bin/chromium through Playwright): a major decision
from login to completion as 张书记, 王主任 and 赵监委, an objection from a villager's phone,
the township view. Screenshots go to test-artifacts/browser/ (gitignored).

Run: ``.venv/bin/python -m pytest -q -m browser``. Never ``playwright install``.
"""

from __future__ import annotations

import re
import threading
from pathlib import Path

import pytest
from werkzeug.serving import make_server

pytestmark = pytest.mark.browser

ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run", "--disable-quic", "--lang=zh-CN"]
SHOTS = Path(__file__).resolve().parent.parent / "test-artifacts" / "browser"
PHONE = {"viewport": {"width": 390, "height": 844}, "device_scale_factor": 2, "is_mobile": True, "has_touch": True}
DESK = {"viewport": {"width": 1280, "height": 900}}


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    return {**browser_type_launch_args, "executable_path": "/usr/bin/chromium", "args": ARGS}


@pytest.fixture
def live(app):
    """The app served over HTTP on a free local port, in a thread."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=5)


def shot(page, name: str, full_page: bool = True) -> Path:
    SHOTS.mkdir(parents=True, exist_ok=True)
    path = SHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=full_page)
    return path


class Person:
    """One person in their own browser context (own cookies), logged in through the form."""

    def __init__(self, browser, base: str, username: str | None, **context):
        self.base = base
        self.context = browser.new_context(locale="zh-CN", **(context or DESK))
        self.context.set_default_timeout(15000)
        self.page = self.context.new_page()
        self.errors: list[str] = []
        self.page.on("pageerror", lambda exc: self.errors.append(str(exc)))
        if username:
            self.page.goto(f"{base}/login")
            self.page.get_by_label("用户名").fill(username)
            self.page.get_by_label("密码").fill("demo123")
            self.page.get_by_role("button", name="登录").click()
            self.page.wait_for_url(lambda url: "/login" not in url)  # each role lands on its own desk

    def go(self, path: str):
        self.page.goto(f"{self.base}{path}")
        return self.page

    def open_task(self, title: str):
        """From 我的待办, open the task called ``title``."""
        page = self.go("/")
        page.locator("li.task a", has=page.locator(".t-title", has_text=re.compile(f"^{title}$"))).first.click()
        page.wait_for_url(re.compile(r"/tasks/[0-9a-f-]{36}$"))
        assert page.locator("h1").inner_text() == title
        return page

    def submit(self, page):
        page.get_by_role("button", name="提交").click()
        page.wait_for_load_state()

    def close(self):
        assert not self.errors, self.errors
        self.context.close()


def run_timers(app):
    result = app.test_cli_runner().invoke(args=["timers", "run"])
    assert result.exit_code == 0, result.output


def meeting(person: Person, title: str, attended: int, approve: int, oppose: int, abstain: int, held_on: str):
    page = person.open_task(title)
    page.fill("#f-held_on", held_on)
    page.fill("#f-attended", str(attended))
    page.fill("#f-approve", str(approve))
    page.fill("#f-oppose", str(oppose))
    page.fill("#f-abstain", str(abstain))
    page.get_by_label("会议纪要").fill(f"{title}：与会人员对方案逐项讨论并表决。")
    person.submit(page)
    return page


def review(person: Person, title: str, decision: str = "approve", opinion: str = ""):
    page = person.open_task(title)
    page.get_by_label("审核结论").select_option(decision)
    if opinion:
        page.get_by_label("审核意见").fill(opinion)
    person.submit(page)
    assert "已办理" in page.locator(".flash").inner_text()
    return page


def test_major_decision_from_login_to_completion(browser, live, app, clock):
    zhang = Person(browser, live, "zhang")
    wang = Person(browser, live, "wang")
    zhao = Person(browser, live, "zhao")

    # 张书记 proposes (提议) from 发起事项.
    page = zhang.go("/")
    page.get_by_role("link", name="＋ 村级重大事项决策（四议两公开）").click()
    page.get_by_label("事项名称").fill("硬化村东道路")
    page.get_by_label("方案摘要").fill("村东道路长1.2公里，拟硬化为4.5米宽水泥路面，预算18万元。")
    page.get_by_label("涉及金额").fill("180000")
    page.get_by_label("事项类别").select_option("major_spending")
    zhang.submit(page)
    assert re.search(r"/cases/\d+$", page.url)
    case_url = page.url
    assert "办理中" in page.locator("h1").inner_text()

    # 两委会议: first with too many people (the engine answers next to the field), then right.
    page = zhang.go("/")
    shot(page, "worklist")
    page = zhang.open_task("村两委会议商议")
    assert "应到 7 人" in page.locator(".info-box").inner_text()
    page.get_by_label("实到人数").fill("9")
    for label, value in (("赞成票数", "6"), ("反对票数", "1"), ("弃权票数", "0"), ("会议纪要", "商议修路方案")):
        page.get_by_label(label).fill(value)
    zhang.submit(page)
    error = page.locator('[data-field="attended"] .error-msg')
    assert error.inner_text() == "实到人数（9）不能超过应到人数（7）"
    shot(page, "task-form-error")
    shot(page, "doc-task-form", full_page=False)
    page.get_by_label("实到人数").fill("7")
    zhang.submit(page)
    assert "已办理" in page.locator(".flash").inner_text()

    review(zhao, "监委会审核商议记录")
    page = meeting(zhang, "党员大会审议", 25, 20, 3, 2, "2026-03-02")
    review(zhao, "监委会审核审议记录")
    page = wang.open_task("村民代表会议决议")
    assert "应到 30 人" in page.locator(".info-box").inner_text()
    shot(page, "task-form")
    page = meeting(wang, "村民代表会议决议", 24, 20, 2, 2, "2026-03-02")
    page = zhao.go("/supervision")
    assert "监委会审核决议记录" in page.locator("#review").inner_text()
    shot(page, "supervision")
    review(zhao, "监委会审核决议记录")

    page = wang.open_task("拟定决议公开内容")
    page.get_by_label("公开内容").fill("经村民代表会议表决通过：硬化村东道路1.2公里，预算18万元，由村委会组织实施。")
    assert page.get_by_label("公示天数").input_value() == "7"
    wang.submit(page)
    review(zhao, "监委会审核决议公开")

    # A villager reads the board on a phone and objects.
    villager = Person(browser, live, None, **PHONE)
    page = villager.go("/villages/demo-001/board")
    assert "还剩7天" in page.locator(".notice-left").first.inner_text()
    assert "公开记录完整" in page.locator(".verify").inner_text()
    page.get_by_text("我有异议").first.click()
    page.get_by_label("姓名").fill("刘大爷")
    page.get_by_label("异议内容").fill("路线经过我家承包地，占地补偿怎么算？")
    page.get_by_role("button", name="提交异议").click()
    page.wait_for_load_state()
    assert "您的异议已收到" in page.locator(".flash").inner_text()
    assert "占地补偿怎么算" in page.locator("ul.objections").first.inner_text()

    page = zhao.open_task("答复决议异议")
    assert "占地补偿怎么算" in page.locator("blockquote").inner_text()
    page.get_by_label("处理结论").select_option("dismiss")
    page.get_by_label("答复内容").fill("占地按县定标准补偿，方案已列支，公示继续。")
    zhao.submit(page)

    page = villager.go("/villages/demo-001/board")
    assert "公示继续" in page.locator("article.entry").first.inner_text()
    shot(page, "board-phone")
    shot(page, "doc-board-phone", full_page=False)
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the board overflows a phone screen ({width}px)"

    # The notice period runs out (the test clock, then `cunwu timers run`).
    page = wang.go("/")
    assert "组织实施" not in page.locator("main").inner_text()
    clock.advance(days=7, seconds=1)
    run_timers(app)
    page = wang.open_task("组织实施")
    page.get_by_label("实施情况").fill("道路已硬化完成，经村民代表验收合格。")
    page.get_by_label("实际支出").fill("176500.50")
    assert page.locator("#echo-amount_spent").inner_text() == "即 壹拾柒万陆仟伍佰元伍角（176,500.50 元）"
    wang.submit(page)
    review(zhao, "监委会审核实施情况")
    page = wang.open_task("拟定实施结果公开内容")
    page.get_by_label("公开内容").fill("道路硬化完成，实际支出176500.50元，结余3499.50元。")
    wang.submit(page)
    review(zhao, "监委会审核结果公开")
    clock.advance(days=7, seconds=1)
    run_timers(app)

    page = zhang.page
    page.goto(case_url)
    assert "已办结" in page.locator("h1").inner_text()
    timeline = page.locator("ol.timeline").inner_text()
    for text in ("张书记", "王主任", "赵监委", "村民", "时间已到，流程继续", "事项已办结"):
        assert "刘大爷" not in timeline  # an objector's name never reaches the history
        assert text in timeline, text
    shot(page, "case")
    page.goto(case_url + "/print")
    page.emulate_media(media="print")
    assert page.locator("header.site").count() == 0
    shot(page, "case-print")

    page = villager.go("/villages/demo-001/board")
    assert page.locator("article.entry").count() == 3  # result, objection reply, resolution
    assert "共3条" in page.locator(".verify").inner_text()

    for person in (zhang, wang, zhao, villager):
        person.close()


def test_township_view_and_public_pages(browser, live, app, api, clock):
    from tests.flows import Walk

    walk = Walk(api)
    walk.start()
    walk.meeting("two_committees", "two_committees", attended=3, approve=3, oppose=0, abstain=0)
    clock.advance(days=35)
    r = walk.secretary.post("/instances", json={"process": "major-decision", "village": "demo-001",
                                                 "title": "村集体鱼塘对外发包", "data": {
                                                     "title": "村集体鱼塘对外发包", "summary": "鱼塘发包五年"}})
    assert r.status_code == 201
    zhang = Person(browser, live, "zhang")
    page = zhang.go("/")
    assert page.locator("li.task").first.get_attribute("class") == "task overdue"
    shot(page, "doc-worklist", full_page=False)
    zhang.close()
    # The same person on a phone: the worklist and a meeting form fit the screen.
    zhang = Person(browser, live, "zhang", **PHONE)
    page = zhang.go("/")
    shot(page, "worklist-phone")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    page = zhang.open_task("村两委会议商议")
    shot(page, "task-phone", full_page=False)
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    zhang.close()
    zhou = Person(browser, live, "zhou")
    page = zhou.go("/township")
    assert "示范村" in page.locator("table").first.inner_text()
    assert "流会" in page.locator("#meetings").inner_text()
    assert "逾期" in page.locator("#overdue").inner_text()
    shot(page, "township")
    shot(page, "doc-township", full_page=False)
    with page.expect_download() as download:
        page.get_by_role("link", name="Excel").click()
    assert download.value.suggested_filename.endswith(".xlsx")
    zhou.close()

    phone = Person(browser, live, None, **PHONE)
    page = phone.go("/")
    assert "示范村" in page.locator("main").inner_text()
    shot(page, "home-phone")
    page = phone.go("/board")
    assert "村级重大事项决策" in page.locator("#item-major-decision h2").inner_text()
    shot(page, "catalogue-phone", full_page=False)
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    page = phone.go("/api/v1/docs")
    assert "/api/v1/tasks" in page.locator("main").inner_text()
    phone.close()

    admin = Person(browser, live, "admin")
    page = admin.go("/admin")
    page.get_by_label("或粘贴内容").fill("people:\n  - {username: zz, name: 某人, roles: [{village: nowhere, role: supervisor}]}\n")
    page.get_by_role("button", name="导入").click()
    assert "没有编码为“nowhere”的村" in page.locator(".alert-error").inner_text()
    shot(page, "admin")
    admin.close()


def test_a_supervisor_on_a_phone_sees_the_record_and_a_cadre_sees_the_amount(browser, live, app, api):
    """Issue 15: approving blind is impossible; 25万 is read back in 大写 before it is saved."""
    from tests.flows import Walk

    walk = Walk(api)
    walk.start()
    walk.meeting("two_committees", "two_committees", attended=7, approve=5, oppose=1, abstain=1,
                 minutes="两委会议商议硬化村东道路方案，逐项表决", supervisors_present="赵监委")
    zhao = Person(browser, live, "zhao", **PHONE)
    page = zhao.open_task("监委会审核商议记录")
    record = page.locator("#subject")
    assert record.is_visible()
    text = record.inner_text()
    for expected in ("村两委会议", "实到人数", "7人", "赞成票数", "两委会议商议硬化村东道路方案，逐项表决", "张书记"):
        assert expected in text, expected
    # The record comes before the decision.
    assert record.bounding_box()["y"] < page.locator("form.task-form").bounding_box()["y"]
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    shot(page, "review-phone")
    zhao.close()
    zhang = Person(browser, live, "zhang", **PHONE)
    page = zhang.go("/start/major-decision")
    page.get_by_label("涉及金额（元）").fill("25万")
    assert page.locator("#echo-amount").inner_text() == "即 贰拾伍万元整（250,000.00 元）"
    page.get_by_label("涉及金额（元）").fill("约25万")
    assert "写法不对" in page.locator("#echo-amount").inner_text()
    page.get_by_label("涉及金额（元）").fill("2.5万元")
    assert page.locator("#echo-amount").inner_text() == "即 贰万伍仟元整（25,000.00 元）"
    shot(page, "amount-phone", full_page=False)
    zhang.close()


def test_the_case_chart_on_a_phone_is_a_step_list(browser, live, app, api):
    """Issue 15: at 390 px the case page lists the steps in order (numbered as on the chart, the
    current one marked, done ones with their date, who acts by its Chinese name); the full chart
    opens behind a tap at a readable size, not a shrunken poster."""
    from tests.flows import Walk

    walk = Walk(api)
    walk.start()
    walk.meeting("two_committees", "two_committees")
    walk.review("review_two_committees")
    case_id = walk.case["id"]
    zhang = Person(browser, live, "zhang", **PHONE)
    page = zhang.go(f"/cases/{case_id}")
    steps = page.locator("ol.case-steps li.step")
    assert steps.count() == 17  # 24 in the definition: the eight 乡镇纪委核查 are drawn as one
    first = steps.nth(0).inner_text()
    assert "①" in first and "村党组织提议" in first and "村党组织书记" in first and "办结" in first
    assert re.search(r"\d{4}-\d{2}-\d{2} 办结", first)
    assert "done" in steps.nth(1).get_attribute("class") and "限30天内" in steps.nth(1).inner_text()
    assert "需上传：签到表照片" in steps.nth(1).inner_text()
    current = page.locator("ol.case-steps li.current")
    assert current.count() == 1
    text = current.inner_text()
    assert "党员大会审议" in text and "当前步骤" in text and "④" in text and "办理期限" in text
    assert "村务监督委员会" in steps.nth(2).inner_text()
    later = steps.nth(16).inner_text()
    assert "乡镇纪委核查" in later and "提出异议或异议报核查时才有" in later
    assert "optional" in steps.nth(16).get_attribute("class")
    assert "公示期内有人提出异议时才有" in page.locator("ol.case-steps li.step", has_text="答复决议异议").inner_text()
    assert page.locator("figure#chart").is_hidden()
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    assert not re.search(r"\b(review_|inspect_|gw_|Task_)", page.locator("main").inner_text())
    shot(page, "case-steps-phone", full_page=False)
    shot(page, "case-steps-phone-full")

    page.get_by_role("link", name="点击放大查看完整流程图").click()
    figure = page.locator("figure#chart")
    assert figure.is_visible()
    assert page.locator("figure#chart svg").bounding_box()["width"] >= 850  # readable, scrolled sideways
    assert page.evaluate("document.documentElement.scrollWidth") <= 390  # the figure scrolls, not the page
    assert "current" in (page.locator("figure#chart g#node-party_members").get_attribute("class") or "")
    titles = page.evaluate("Array.from(document.querySelectorAll('figure#chart title')).map(t => t.textContent)")
    assert titles == ["村级重大事项决策（四议两公开）流程图"]  # no node id as a tooltip
    shot(page, "case-chart-phone", full_page=False)
    page.get_by_role("link", name="收起流程图").click()
    assert page.locator("figure#chart").is_hidden()
    zhang.close()

    desk = Person(browser, live, "zhang")
    page = desk.go(f"/cases/{case_id}")
    assert page.locator("figure#chart").is_visible() and page.locator("ol.case-steps").is_hidden()
    desk.close()


def test_an_anonymous_objection_on_a_phone_and_the_township_desk_on_a_phone(browser, live, app, api):
    """Issue 15: a villager objects on a phone without giving a name; nobody's name reaches the
    board; the supervisor answers it; the township desk works at 390 px."""
    from tests.flows import Walk

    walk = Walk(api)
    walk.start()
    walk.to_resolution()
    walk.disclose("resolution", content="经村民代表会议表决通过：硬化村东道路。")
    villager = Person(browser, live, None, **PHONE)
    page = villager.go("/villages/demo-001/board")
    page.get_by_text("我有异议").first.click()
    assert page.get_by_label("姓名").input_value() == ""
    page.get_by_label("异议内容").fill("预算里没有排水沟，下雨会积水。")
    page.get_by_role("button", name="提交异议").click()
    page.wait_for_load_state()
    assert "您的异议已收到" in page.locator(".flash").inner_text()
    board = page.locator("main").inner_text()
    assert "预算里没有排水沟" in board and "刘大爷" not in board
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    shot(page, "objection-anonymous-phone", full_page=False)
    villager.close()
    zhao = Person(browser, live, "zhao", **PHONE)
    page = zhao.open_task("答复决议异议")
    assert "预算里没有排水沟" in page.locator("blockquote").inner_text()
    assert "匿名" in page.locator("main").inner_text()  # whoever answers sees that nobody gave a name
    zhao.close()
    zhou = Person(browser, live, "zhou", **PHONE)
    page = zhou.go("/township")
    assert "预算里没有排水沟" in page.locator("main").inner_text()
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    shot(page, "township-phone")
    zhou.close()
