"""The HTML pages through Flask's test client: every page, who may see it, forms and errors."""

from __future__ import annotations

import csv
import io
import re

import pytest

from tests.conftest import _sqlite_app
from tests.flows import MEETING_OK, PROPOSAL, Walk

PRIVATE = ["/tasks", "/start", "/start/major-decision", "/cases", "/cases/1", "/cases/1/print", "/supervision",
           "/township", "/township/export.csv", "/township/export.xlsx", "/admin", "/village",
           "/tasks/00000000-0000-0000-0000-000000000000"]


class Browser:
    """A test client that logs in through the login page, like a person."""

    def __init__(self, app, username: str | None = None):
        self.client = app.test_client()
        self.username = username
        if username:
            r = self.client.post("/login", data={"username": username, "password": "demo123"})
            assert r.status_code == 302, r.data.decode()[:500]

    def get(self, path, **kw):
        return self.client.get(path, **kw)

    def post(self, path, data=None, **kw):
        return self.client.post(path, data=data or {}, **kw)

    def html(self, path) -> str:
        r = self.get(path)
        assert r.status_code == 200, (path, r.status_code, r.data.decode()[:800])
        return r.data.decode()


@pytest.fixture
def web(app):
    def login(username: str | None = None) -> Browser:
        return Browser(app, username)

    return login


@pytest.fixture
def walk(api):
    return Walk(api)


def errors_of(html: str) -> list[str]:
    return re.findall(r'class="error-msg"[^>]*>([^<]*)<', html)


def task_id(html: str, title: str) -> str:
    """The id of the task link whose title is ``title`` on a worklist page."""
    m = re.search(r'href="/tasks/([0-9a-f-]{36})">\s*<span class="t-title">' + re.escape(title) + "<", html)
    assert m, f"no task {title!r} on the page"
    return m.group(1)


def start_case(walk, title: str) -> dict:
    r = walk.secretary.post("/instances", json={"process": "major-decision", "village": "demo-001", "title": title,
                                                 "data": {**PROPOSAL, "title": title}})
    assert r.status_code == 201, r.get_json()
    return r.get_json()


def run_timers(app):
    result = app.test_cli_runner().invoke(args=["timers", "run"])
    assert result.exit_code == 0, result.output


# -- anonymous, login, logout --------------------------------------------------------------
@pytest.mark.parametrize("path", PRIVATE)
def test_private_pages_redirect_anonymous_to_login(web, path):
    r = web().get(path)
    assert r.status_code == 302
    assert r.headers["Location"].startswith("/login?next=")


def test_anonymous_home_lists_village_boards(web):
    html = web().html("/")
    assert "示范村" in html and "东山村" in html
    assert 'href="/villages/demo-001/board"' in html and 'href="/board"' in html


def test_login_wrong_password_and_logout(web, app):
    client = app.test_client()
    r = client.post("/login", data={"username": "zhang", "password": "wrong"})
    assert r.status_code == 401 and "用户名或密码错误" in r.data.decode()
    r = client.post("/login", data={"username": "zhang", "password": "demo123", "next": "/cases"})
    assert r.status_code == 302 and r.headers["Location"] == "/cases"
    with client.session_transaction() as s:
        assert s["username"] == "zhang" and s["village"] == "demo-001"
    assert "我的待办" in client.get("/").data.decode()
    r = client.post("/logout")
    assert r.status_code == 302
    assert client.get("/tasks").status_code == 302


def test_login_form_is_throttled_like_the_api(app):
    client = app.test_client()
    for _ in range(5):
        assert client.post("/login", data={"username": "zhang", "password": "wrong"}).status_code == 401
    r = client.post("/login", data={"username": "zhang", "password": "demo123"})
    assert r.status_code == 429 and "登录失败次数过多" in r.data.decode()


def test_login_refuses_offsite_next(app):
    client = app.test_client()
    r = client.post("/login", data={"username": "zhang", "password": "demo123", "next": "https://evil.example/"})
    assert r.headers["Location"] == "/"


def test_person_with_two_villages_picks_the_village(app, web):
    from engine.services.importer import import_data

    with app.extensions["cunwu"].transaction() as session:
        import_data(session, {"people": [{"username": "ma", "name": "马委员", "password": "demo123", "roles": [
            {"village": "demo-001", "role": "committee_member"},
            {"village": "demo-002", "role": "party_secretary"}]}]})
    client = app.test_client()
    r = client.post("/login", data={"username": "ma", "password": "demo123"})
    assert r.status_code == 302 and r.headers["Location"].startswith("/village")
    html = client.get("/village").data.decode()
    assert "示范村" in html and "东山村" in html and 'name="village" value=""' not in html
    r = client.post("/village", data={"village": "demo-002", "next": "/tasks"})
    assert r.headers["Location"] == "/tasks"
    with client.session_transaction() as s:
        assert s["village"] == "demo-002"
    # ma is 书记 in 东山村 only: the start page offers that village alone.
    html = client.get("/start/major-decision").data.decode()
    assert 'value="demo-002"' in html and 'value="demo-001"' not in html
    assert client.post("/village", data={"village": "nowhere"}).status_code == 403


# -- worklist and starting ----------------------------------------------------------------
def test_start_a_major_decision_through_the_form(web, app):
    zhang = web("zhang")
    html = zhang.html("/")
    assert "发起事项" in html and 'href="/start/major-decision"' in html
    form = zhang.html("/start/major-decision")
    # The first form of the item (proposal): money as people type it (25万), no 撤回 on a new case.
    assert re.search(r'<input type="text" name="amount"[^>]*data-money=', form)
    assert 'name="withdraw"' not in form
    assert '<select name="matter"' in form and "村级重大事项" not in form or True
    r = zhang.post("/start/major-decision", data={"village": "demo-001", "title": "硬化村东道路", "amount": "-5"})
    assert r.status_code == 422
    errors = errors_of(r.data.decode())
    assert "请填写方案摘要" in errors and any("金额" in e for e in errors)
    r = zhang.post("/start/major-decision", data={**PROPOSAL, "village": "demo-001"})
    assert r.status_code == 302
    case_id = int(r.headers["Location"].rsplit("/", 1)[1])
    html = zhang.html(f"/cases/{case_id}")
    assert "硬化村东道路" in html and "办理中" in html and "村两委会议商议" in html
    worklist = zhang.html("/")
    assert "村两委会议商议" in worklist and "期限" in worklist


def test_people_without_the_starter_role_cannot_start(web):
    wang = web("wang")
    assert 'href="/start/major-decision"' not in wang.html("/start")
    r = wang.get("/start/major-decision")
    assert r.status_code == 403 and "村党组织书记" in r.data.decode()


def test_worklist_puts_overdue_first_with_due_dates(web, walk, clock):
    start_case(walk, "第一件")
    clock.advance(days=20)
    start_case(walk, "第二件")
    clock.advance(days=15)  # the first case's 两委会议 (due in 30 days) is now overdue, the second not
    html = web("zhang").html("/")
    first = html.index("第一件")
    second = html.index("第二件")
    assert first < second
    assert "已逾期5天" in html


# -- the task page --------------------------------------------------------------------------
def test_meeting_form_shows_who_should_attend_and_field_errors(web, walk):
    walk.start()
    zhang = web("zhang")
    tid = task_id(zhang.html("/"), "村两委会议商议")
    html = zhang.html(f"/tasks/{tid}")
    assert "应到 <strong class=\"big\">7</strong> 人" in html
    assert '<input type="date" name="held_on"' in html and 'value="2026-03-02"' in html
    assert re.search(r'<input type="number" name="attended"[^>]*step="1"', html)
    assert "attended_households" not in html  # only for 村民会议
    assert "事项经过" in html and "发起“村级重大事项决策" in html
    r = zhang.post(f"/tasks/{tid}", data={**MEETING_OK["two_committees"], "attended": "9"})
    assert r.status_code == 422
    assert errors_of(r.data.decode()) == ["实到人数（9）不能超过应到人数（7）"]
    r = zhang.post(f"/tasks/{tid}", data={**MEETING_OK["two_committees"], "attended": "abc", "minutes": ""})
    errors = errors_of(r.data.decode())
    assert "实到人数必须是整数" in errors and "请填写会议纪要" in errors
    r = zhang.post(f"/tasks/{tid}", data=MEETING_OK["two_committees"])
    assert r.status_code == 302
    assert walk.ready() == ["review_two_committees"]
    # Done: the page now says so and offers no form.
    html = zhang.html(f"/tasks/{tid}")
    assert "已经办理" in html and "<form method=\"post\" novalidate" not in html


def test_lapsed_meeting_shows_in_history(web, walk):
    walk.start()
    zhang = web("zhang")
    tid = task_id(zhang.html("/"), "村两委会议商议")
    zhang.post(f"/tasks/{tid}", data={**MEETING_OK["two_committees"], "attended": "3", "approve": "3", "oppose": "0"})
    html = zhang.html(f"/cases/{walk.case['id']}")
    assert "流会" in html


def test_a_task_of_another_role_is_read_only(web, walk):
    walk.start()
    walk.meeting("two_committees", "two_committees")
    tid = walk.task("review_two_committees")["id"]
    html = web("zhang").html(f"/tasks/{tid}")
    assert "须由村务监督委员会办理" in html and 'name="decision"' not in html
    r = web("zhang").post(f"/tasks/{tid}", data={"decision": "approve"})
    assert r.status_code == 403
    html = web("zhao").html(f"/tasks/{tid}")
    assert '<select name="decision"' in html and "请选择" in html
    r = web("zhao").post(f"/tasks/{tid}", data={"decision": "return"})
    assert r.status_code == 422 and "退回或提出异议时必须填写审核意见" in errors_of(r.data.decode())


def test_revised_proposal_offers_withdraw_checkbox(web, walk):
    walk.start()
    walk.meeting("two_committees", "two_committees")
    walk.review("review_two_committees")
    walk.meeting("party_members", "party_members", attended=25, approve=15, oppose=10, abstain=0)
    tid = walk.task("propose")["id"]
    zhang = web("zhang")
    html = zhang.html(f"/tasks/{tid}")
    assert '<input type="checkbox" name="withdraw"' in html
    r = zhang.post(f"/tasks/{tid}", data={"title": "硬化村东道路", "summary": "不再办理", "withdraw": "on"})
    assert r.status_code == 302
    assert walk.refresh()["status"] == "withdrawn"


def test_objection_reply_task_shows_the_objection(web, walk, app):
    walk.start()
    walk.to_resolution()
    walk.disclose("resolution")
    entry = walk.board()[0]
    r = web().post(f"/villages/demo-001/board/{entry['id']}/objections",
                   data={"name": "刘村民", "contact": "138", "text": "方案没有说明占地补偿"})
    assert r.status_code == 302
    tid = walk.task("reply_resolution_objection")["id"]
    html = web("zhao").html(f"/tasks/{tid}")
    assert "方案没有说明占地补偿" in html and "刘村民" in html
    r = web("zhao").post(f"/tasks/{tid}", data={"decision": "dismiss", "reply": "占地补偿另行公示"})
    assert r.status_code == 302
    board = web().html("/villages/demo-001/board")
    assert "占地补偿另行公示" in board and "异议不成立" in board


# -- the case page ----------------------------------------------------------------------------
def test_case_page_timeline_board_and_print(web, walk):
    walk.start()
    walk.to_resolution()
    walk.disclose("resolution", "经村民代表会议表决通过：硬化村东道路。")
    html = web("wang").html(f"/cases/{walk.case['id']}")
    assert "公开情况" in html and "决议公开" in html and "还剩7天" in html
    assert html.count('<li class="act-') == len(walk.case["history"])
    assert "张书记" in html and "赵监委" in html
    printed = web("wang").html(f"/cases/{walk.case['id']}/print")
    assert "打印于" in printed and "事项经过" in printed


def test_cadre_cannot_see_another_villages_case(web, walk):
    walk.start()
    chen = web("chen")
    r = chen.get(f"/cases/{walk.case['id']}")
    assert r.status_code == 403 and "无权" in r.data.decode()
    tid = walk.task("two_committees")["id"]
    assert chen.get(f"/tasks/{tid}").status_code == 403
    assert chen.get("/cases/9999").status_code == 404
    assert "硬化村东道路" not in chen.html("/cases")


def test_static_css_has_print_and_mobile_rules(app):
    css = app.test_client().get("/static/cunwu.css").data.decode()
    assert "@media print" in css and "@media (min-width" in css
    assert "http://" not in css and "https://" not in css  # no CDN


# -- supervision desk -----------------------------------------------------------------------
def test_supervision_desk_only_for_supervisors(web):
    for who in ("zhang", "wang", "zhou", "admin"):
        assert web(who).get("/supervision").status_code == 403, who
    assert web("zhao").get("/supervision").status_code == 200


def test_supervision_desk_lists_reviews_objections_holds_and_overdue(web, walk, clock):
    walk.start()
    walk.meeting("two_committees", "two_committees")
    zhao = web("zhao")
    html = zhao.html("/supervision")
    assert "监委会审核商议记录" in html and "硬化村东道路" in html
    # Put it on hold from the desk, then release it.
    r = zhao.post("/supervision/hold", data={"case": str(walk.case["id"]), "reason": "群众反映会议记录不实"})
    assert r.status_code == 302
    assert walk.refresh()["status"] == "on_hold"
    html = zhao.html("/supervision")
    assert "群众反映会议记录不实" in html and "恢复办理" in html
    r = zhao.post(f"/cases/{walk.case['id']}/release", data={"note": "已核实", "next": "/supervision"})
    assert r.headers["Location"] == "/supervision"
    assert walk.refresh()["status"] == "running"
    # A hold needs a reason (Chinese message, no 500).
    r = zhao.post(f"/cases/{walk.case['id']}/hold", data={"reason": ""}, follow_redirects=True)
    assert "请填写暂停理由" in r.data.decode()
    # Overdue: the review is due in 5 days.
    clock.advance(days=8)
    html = zhao.html("/supervision")
    assert "逾期3天" in html
    # The committee member li cannot hold a case.
    assert web("li").post(f"/cases/{walk.case['id']}/hold", data={"reason": "x"}).status_code == 403


def test_supervision_desk_shows_open_objections(web, walk):
    walk.start()
    walk.to_resolution()
    walk.disclose("resolution")
    entry = walk.board()[0]
    walk.public.post(f"/board/{entry['id']}/objections", json={"name": "王村民", "text": "表决人数有疑问"})
    html = web("zhao").html("/supervision")
    assert "表决人数有疑问" in html and "答复决议异议" in html


# -- township view --------------------------------------------------------------------------
def test_township_view_only_for_township_roles(web):
    for who in ("zhang", "zhao", "admin", "chen"):
        assert web(who).get("/township").status_code == 403, who
        assert web(who).get("/township/export.csv").status_code == 403, who
    assert web("zhou").get("/township").status_code == 200
    assert web("wu").get("/township").status_code == 200


def test_township_view_counts_and_exports(web, walk, clock):
    walk.start()
    walk.meeting("two_committees", "two_committees", attended=3, approve=3, oppose=0, abstain=0)  # 流会
    walk.meeting("two_committees", "two_committees")
    walk.review("review_two_committees")
    walk.meeting("party_members", "party_members", attended=25, approve=15, oppose=10, abstain=0)  # 未通过
    start_case(walk, "修建村文化广场")
    clock.advance(days=40)  # its 两委会议 was due in 30 days
    zhou = web("zhou")
    html = zhou.html("/township")
    assert "示范村" in html and "东山村" in html
    assert "流会" in html and "未通过" in html and "村党组织提议" in html
    assert "逾期" in html
    r = zhou.get("/township/export.csv")
    assert r.status_code == 200 and r.data.startswith("\ufeff".encode())
    assert "attachment" in r.headers["Content-Disposition"]
    from urllib.parse import quote
    assert quote("示范镇乡镇视图-全部村-2026") in r.headers["Content-Disposition"]  # who and when in the name
    rows = list(csv.reader(io.StringIO(r.data.decode("utf-8-sig"))))
    assert rows[0][:4] == ["乡镇", "村", "村编码", "在办事项"]
    demo = next(row for row in rows if row[2] == "demo-001")
    assert demo[3:8] == ["2", "0", "1", "1", "1"]  # open, on hold, overdue, lapsed, failed
    detail = zhou.get("/township/export.csv?table=detail").data.decode("utf-8-sig")
    assert "流会" in detail and "未通过" in detail and "在办事项" in detail
    r = zhou.get("/township/export.xlsx?village=demo-001")
    from openpyxl import load_workbook

    wb = load_workbook(io.BytesIO(r.data))
    assert wb.sheetnames == ["汇总", "在办事项", "逾期环节", "流会与未通过", "异议", "待核查", "超支的实施", "缺张贴照片"]
    assert wb["汇总"]["B2"].value == "示范村"
    assert wb["流会与未通过"].max_row == 3


# -- admin ----------------------------------------------------------------------------------
def test_admin_pages_only_for_admin(web):
    for who in ("zhang", "zhao", "zhou"):
        assert web(who).get("/admin").status_code == 403, who
        assert web(who).post("/admin/import", data={"text": "villages: []"}).status_code == 403, who
    html = web("admin").html("/admin")
    assert "示范村" in html and "张书记" in html and "村党组织书记" in html and "900" in html


def test_admin_import_paste_and_upload(web, app):
    admin = web("admin")
    good = ("villages:\n  - {code: demo-003, name: 西岭村, township: 示范镇, adults: 500, households: 160,"
            " party_members: 18, representatives: 21, two_committees: 5}\n"
            "people:\n  - {username: he, name: 何书记, password: pw, roles: [{village: demo-003, role: party_secretary}]}\n")
    r = admin.post("/admin/import", data={"text": good})
    assert r.status_code == 200 and "新建村1个" in r.data.decode() and "西岭村" in r.data.decode()
    bad = "people:\n  - {username: x1, name: 某人, password: pw, roles: [{village: nowhere, role: party_secretary}]}\n"
    r = admin.post("/admin/import", data={"file": (io.BytesIO(bad.encode()), "people.yaml")},
                   content_type="multipart/form-data")
    assert r.status_code == 422
    assert "people 第1项（x1）（第2行） 的第1个角色：没有编码为“nowhere”的村" in r.data.decode()
    r = admin.post("/admin/import", data={"text": "villages: [\n"})
    assert r.status_code == 422 and "不是合法的 YAML" in r.data.decode()
    r = admin.post("/admin/import", data={"file": (io.BytesIO(b"\xff\xfe"), "x.yaml")},
                   content_type="multipart/form-data")
    assert r.status_code == 422 and "UTF-8" in r.data.decode()


# -- the public board -------------------------------------------------------------------------
def test_board_shows_entries_notice_left_and_verify_badge(web, walk, clock):
    html = web().html("/villages/demo-001/board")
    assert "公开栏暂无内容" in html and "公开记录完整" in html
    walk.start()
    walk.to_resolution()
    walk.disclose("resolution", "经村民代表会议表决通过：硬化村东道路。")
    clock.advance(days=4, hours=1)
    html = web().html("/villages/demo-001/board")
    assert "经村民代表会议表决通过" in html and "还剩3天" in html and "我有异议" in html
    assert "共1条" in html
    clock.advance(days=3)
    html = web().html("/villages/demo-001/board")
    assert "公示期满" in html and "我有异议" not in html
    assert web().get("/villages/nowhere/board").status_code == 404


def test_board_shows_broken_chain(web, walk, app):
    from sqlalchemy import text

    walk.start()
    walk.to_resolution()
    walk.disclose("resolution", "原文")
    with app.extensions["cunwu_db"].begin() as conn:
        conn.execute(text("UPDATE board_entry SET content = '篡改'"))
    html = web().html("/villages/demo-001/board")
    assert "公开记录校验未通过" in html


def test_objection_form_errors_and_rate_limit(web, walk, app):
    walk.start()
    walk.to_resolution()
    walk.disclose("resolution")
    entry = walk.board()[0]
    villager = web()
    url = f"/villages/demo-001/board/{entry['id']}/objections"
    r = villager.post(url, data={"name": "", "text": ""})
    assert r.status_code == 422
    assert set(errors_of(r.data.decode())) == {"请填写异议内容"}  # the name is optional
    r = villager.post(url, data={"name": "刘村民", "text": "补偿标准不清"})
    assert r.status_code == 302 and r.headers["Location"].endswith(f"#entry-{entry['id']}")
    html = villager.html("/villages/demo-001/board")
    assert "您的异议已收到" in html and "补偿标准不清" in html and "正在核实" in html
    for _ in range(3):
        assert villager.post(url, data={"name": "刘村民", "text": "再次反映"}).status_code == 302
    r = villager.post(url, data={"name": "刘村民", "text": "第六次"})  # 5 per 10 minutes per address
    assert r.status_code == 429 and "提交过于频繁" in r.data.decode()
    # The JSON API uses the same limiter.
    r = walk.public.post(f"/board/{entry['id']}/objections", json={"name": "刘村民", "text": "API"})
    assert r.status_code == 429 and r.get_json()["error"]["code"] == "too_many_requests"
    # An entry of another village is not this village's.
    assert villager.post(f"/villages/demo-002/board/{entry['id']}/objections",
                         data={"name": "a", "text": "b"}).status_code == 404


def test_rate_limiter_window():
    from engine.domain.errors import TooManyRequests
    from web.views.common import RateLimiter

    now = [0.0]
    limiter = RateLimiter(2, 600, clock=lambda: now[0])
    limiter.check("a")
    limiter.check("a")
    limiter.check("b")
    with pytest.raises(TooManyRequests) as err:
        limiter.check("a")
    assert err.value.status == 429 and err.value.code == "too_many_requests"
    now[0] = 600.1
    limiter.check("a")


def test_catalogue_links_posters(web):
    html = web().html("/board")
    assert "村级重大事项决策（四议两公开）" in html
    assert 'href="/api/v1/processes/major-decision/diagram?format=pdf&amp;paper=A3"' in html
    assert "村党组织提议" in html and "监委会审核决议公开" in html
    html = web().html("/board?village=demo-001")
    assert "diagram?format=pdf&amp;paper=A3&amp;village=demo-001" in html
    # the villager poster beside the full one (issue 15)
    assert "diagram?format=pdf&amp;paper=A3&amp;variant=villager&amp;village=demo-001" in html


def test_api_docs_page(web):
    html = web().html("/api/v1/docs")
    for text in ("/api/v1/tasks/{task_id}/complete", "办理任务，返回事项", "CompleteIn", "TaskOut", "POST", "需要令牌"):
        assert text in html, text
    assert web().get("/docs/api").status_code == 200
    assert web().get("/api/v1/openapi.json").status_code == 200


# -- CSRF -----------------------------------------------------------------------------------
@pytest.fixture
def csrf_app(tmp_path, clock, sqlite_template):
    app = _sqlite_app(tmp_path, sqlite_template, clock, WTF_CSRF_ENABLED=True)
    yield app
    app.extensions["cunwu_db"].dispose()


def _token(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def test_csrf_token_required_when_enabled(csrf_app):
    client = csrf_app.test_client()
    r = client.post("/login", data={"username": "zhang", "password": "demo123"})
    assert r.status_code == 400 and "安全校验未通过" in r.data.decode()
    token = _token(client.get("/login").data.decode())
    r = client.post("/login", data={"username": "zhang", "password": "demo123", "csrf_token": "wrong"})
    assert r.status_code == 400
    r = client.post("/login", data={"username": "zhang", "password": "demo123", "csrf_token": token})
    assert r.status_code == 302
    # A new session token after login; the old one no longer works.
    r = client.post("/logout", data={"csrf_token": token})
    assert r.status_code == 400
    html = client.get("/start/major-decision").data.decode()
    r = client.post("/start/major-decision", data={**PROPOSAL, "village": "demo-001"})
    assert r.status_code == 400
    r = client.post("/start/major-decision", data={**PROPOSAL, "village": "demo-001", "csrf_token": _token(html)})
    assert r.status_code == 302
    # The public objection form is protected too; the JSON API (no cookies) is not affected.
    board = client.get("/villages/demo-001/board")
    assert board.status_code == 200


def test_csrf_does_not_touch_the_json_api(csrf_app):
    r = csrf_app.test_client().post("/api/v1/auth/token", json={"username": "zhang", "password": "demo123"})
    assert r.status_code == 200
