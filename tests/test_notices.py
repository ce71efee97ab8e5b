"""Notices to people (issue 17, CONTRACT.md "Notices to people"): who is told of what, in the
transaction of the event; the inbox API; phone and email in the import file."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from engine.domain.errors import Conflict, Invalid
from engine.services.importer import import_data, parse_yaml
from engine.store.models import DeliveryAttempt, Notification, OutboxMessage, User
from tests.flows import Walk

CONTACTS = """
people:
  - {username: zhang, name: 张书记, phone: 13800000001, email: zhang@example.cn,
     roles: [{village: demo-001, role: party_secretary}]}
  - {username: zhao, name: 赵监委, phone: "138-0000-0002", roles: [{village: demo-001, role: supervisor}]}
  - {username: wu, name: 吴纪委, email: wu@example.cn, roles: [{township: 示范镇, role: discipline_inspector}]}
"""


def contacts(app, text: str = CONTACTS) -> dict:
    with app.extensions["cunwu"].transaction() as session:
        return import_data(session, parse_yaml(text))


def inbox(app) -> dict[str, list[Notification]]:
    """Every person's notices, by username."""
    with app.extensions["cunwu"].sessions() as session:
        out: dict[str, list[Notification]] = {}
        for notice, username in session.execute(select(Notification, User.username).join(
                User, User.id == Notification.user_id).order_by(Notification.id)):
            out.setdefault(username, []).append(notice)
        return out


def who(app, kind: str) -> set[str]:
    return {u for u, ns in inbox(app).items() if any(n.kind == kind for n in ns)}


def outbox(app) -> list[OutboxMessage]:
    with app.extensions["cunwu"].sessions() as session:
        return list(session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))


def count(app, model) -> int:
    with app.extensions["cunwu"].sessions() as session:
        return session.scalar(select(func.count()).select_from(model))


@pytest.fixture
def walk(api):
    return Walk(api)


# -- phone and email in the import file ----------------------------------------------------------------
def test_phone_and_email_are_imported_and_bad_ones_refused_naming_the_entry(app):
    contacts(app)
    with app.extensions["cunwu"].sessions() as session:
        people = {u.username: u for u in session.scalars(select(User))}
    assert (people["zhang"].phone, people["zhang"].email) == ("13800000001", "zhang@example.cn")
    assert (people["zhao"].phone, people["zhao"].email) == ("13800000002", None)
    assert (people["wu"].phone, people["wu"].email) == (None, "wu@example.cn")
    assert people["qian"].phone is None  # not in the file: unchanged
    for bad, words in (("phone: 12345", ["people 第1项（zhang）", "手机号（phone）", "12345"]),
                       ("phone: 23800000001", ["11位大陆手机号码"]),
                       ("phone: 138000000011", ["手机号（phone）"]),
                       ("email: zhang@", ["people 第1项（zhang）", "电子邮箱（email）", "zhang@"]),
                       ("email: [a]", ["电子邮箱（email）"])):
        text = f"people:\n  - {{username: zhang, name: 张书记, {bad}, roles: [{{village: demo-001, role: party_secretary}}]}}\n"
        with pytest.raises(Invalid) as err:
            contacts(app, text)
        for word in words:
            assert word in err.value.message, (bad, err.value.message)
    with app.extensions["cunwu"].sessions() as session:  # nothing changed by the refused files
        assert session.scalar(select(User.phone).where(User.username == "zhang")) == "13800000001"


# -- who is told of what --------------------------------------------------------------------------------
def test_an_objection_tells_the_supervisors_and_the_township_inspectors_never_the_objector(app, walk, clock):
    contacts(app)
    walk.start()
    walk.to_resolution()
    walk.disclose("resolution")
    assert count(app, Notification) == 0
    entry = walk.board()[0]
    r = walk.public.post(f"/board/{entry['id']}/objections",
                         json={"name": "刘秘密", "contact": "13912345678", "text": "金额不对"})
    assert r.status_code == 201, r.get_json()
    assert who(app, "objection") == {"zhao", "qian", "wu"}  # not zhang, zhou, xu, chen
    notice = inbox(app)["zhao"][0]
    assert notice.case_id == walk.case["id"] and "示范村" in notice.title and "硬化村东道路" in notice.title
    messages = outbox(app)
    # zhao has a phone, wu an email, qian nothing; the chat group hears of it once
    assert sorted((m.channel, m.address) for m in messages) == [
        ("email", "wu@example.cn"), ("sms", "13800000002"), ("webhook", "")]
    for text in [n.title for ns in inbox(app).values() for n in ns] + [m.subject for m in messages]:
        assert "刘秘密" not in text and "13912345678" not in text and "金额不对" not in text


def test_a_hold_and_its_release_tell_the_secretary_the_supervisors_and_the_township_inspectors(app, walk):
    walk.start()
    case_id = walk.case["id"]
    r = walk.supervisor.post(f"/instances/{case_id}/hold", json={"reason": "账目存疑"})
    assert r.status_code == 200, r.get_json()
    expected = {"zhang", "zhao", "qian", "wu"}  # not wang, li, sun, zhou, he, xu, chen, admin
    assert who(app, "hold") == expected
    assert all("已暂停办理" in inbox(app)[u][0].title for u in expected)
    r = walk.supervisor.post(f"/instances/{case_id}/release", json={"reason": "核查完毕"})
    assert r.status_code == 200, r.get_json()
    for user in expected:
        titles = [n.title for n in inbox(app)[user]]
        assert len(titles) == 2 and "已恢复办理" in titles[1], titles
    assert "账目存疑" not in " ".join(n.title for ns in inbox(app).values() for n in ns)


def test_a_review_that_objects_holds_the_case_and_tells(app, walk):
    walk.start()
    walk.meeting("two_committees", "two_committees")
    walk.review("review_two_committees", "object", "会议记录与签到不符")
    assert walk.refresh()["status"] == "on_hold"
    assert who(app, "hold") == {"zhang", "zhao", "qian", "wu"}


def test_a_failed_step_tells_nobody(app, walk, monkeypatch, clock):
    contacts(app)
    walk.start()
    engine = app.extensions["cunwu"]

    def broken(*_args, **_kw):
        raise Conflict("保存失败")

    monkeypatch.setattr(type(engine), "case_json", broken)  # fails after the hold and its notices
    with pytest.raises(Conflict):
        engine.hold_case("zhao", walk.case["id"], "核查")
    monkeypatch.undo()
    assert count(app, Notification) == 0 and count(app, OutboxMessage) == 0
    assert walk.refresh()["status"] == "running"
    # a refused objection (the entry is not in its notice period) tells nobody either
    walk.to_resolution()
    walk.disclose("resolution", notice_days=7)
    entry = walk.board()[0]
    clock.advance(days=8)
    r = walk.public.post(f"/board/{entry['id']}/objections", json={"name": "村民", "text": "太晚了"})
    assert r.status_code == 409
    assert count(app, Notification) == 0 and count(app, OutboxMessage) == 0


def test_an_overdue_task_is_told_once(app, walk, clock):
    contacts(app)
    walk.start()
    engine = app.extensions["cunwu"]
    clock.advance(days=29)
    engine.run_timers()
    assert count(app, Notification) == 0  # the 两委会议 is due in 30 days
    clock.advance(days=2)
    engine.run_timers()
    # the task's role (party_secretary) in its village, and the township's 纪委
    assert who(app, "overdue") == {"zhang", "wu"}
    assert "村两委会议商议" in inbox(app)["zhang"][0].title and "已超过办理期限" in inbox(app)["zhang"][0].title
    before = count(app, Notification), count(app, OutboxMessage)
    clock.advance(days=5)
    engine.run_timers()
    assert (count(app, Notification), count(app, OutboxMessage)) == before


def test_cunwu_timers_run_finds_overdue_tasks(app, walk, clock):
    walk.start()
    clock.advance(days=31)
    result = app.test_cli_runner().invoke(args=["timers", "run"])
    assert result.exit_code == 0, result.output
    assert who(app, "overdue") == {"zhang", "wu"}


def test_quiet_hours_hold_back_sms_except_for_a_hold(app, walk, clock):
    from datetime import UTC, datetime

    contacts(app)
    clock.value = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)  # 23:00 Beijing
    walk.start()
    clock.advance(days=31)  # 23:00 Beijing again: the overdue SMS waits until 07:00
    app.extensions["cunwu"].run_timers()
    zhang = [m for m in outbox(app) if m.address == "13800000001"]  # the overdue is for him
    assert zhang and zhang[0].next_at == datetime(2026, 4, 2, 23, 0, tzinfo=UTC)
    r = walk.supervisor.post(f"/instances/{walk.case['id']}/hold", json={"reason": "核查"})
    assert r.status_code == 200
    hold_sms = [m for m in outbox(app) if m.channel == "sms" and m.kind == "hold"]
    assert hold_sms and all(m.next_at == clock() for m in hold_sms)


# -- the inbox API ----------------------------------------------------------------------------------------
def test_the_inbox_lists_own_notices_newest_first_and_marks_them_read(app, walk, api, clock):
    walk.start()
    case_id = walk.case["id"]
    walk.supervisor.post(f"/instances/{case_id}/hold", json={"reason": "核查"})
    clock.advance(minutes=5)
    walk.supervisor.post(f"/instances/{case_id}/release", json={"reason": "好了"})
    zhang, wang = walk.secretary, walk.director
    r = zhang.get("/notifications")
    assert r.status_code == 200
    items = r.get_json()
    assert [i["kind"] for i in items] == ["hold", "hold"]
    assert "已恢复办理" in items[0]["title"] and "已暂停办理" in items[1]["title"]
    assert set(items[0]) == {"id", "at", "kind", "title", "case", "read"}
    assert items[0]["case"] == case_id and items[0]["read"] is False and items[0]["at"] > items[1]["at"]
    assert wang.get("/notifications").get_json() == []
    # someone else's notice does not exist for you
    r = wang.post(f"/notifications/{items[0]['id']}/read")
    assert r.status_code == 404 and set(r.get_json()["error"]) == {"code", "message", "fields"}
    assert walk.public.post(f"/notifications/{items[0]['id']}/read").status_code == 401
    assert walk.public.get("/notifications").status_code == 401
    assert zhang.post("/notifications/999999/read").status_code == 404
    r = zhang.post(f"/notifications/{items[0]['id']}/read")
    assert r.status_code == 204 and r.data == b""
    assert zhang.post(f"/notifications/{items[0]['id']}/read").status_code == 204  # again: still fine
    assert [i["read"] for i in zhang.get("/notifications").get_json()] == [True, False]
    # zhao's copy of the same event is his own, still unread
    assert [i["read"] for i in walk.supervisor.get("/notifications").get_json()] == [False, False]


def test_delivery_attempts_start_empty(app, walk):
    walk.start()
    walk.supervisor.post(f"/instances/{walk.case['id']}/hold", json={"reason": "核查"})
    assert count(app, DeliveryAttempt) == 0  # nothing is sent inside a request
    assert all(m.status == "pending" and m.attempts == 0 for m in outbox(app))


# -- the worker: real SMTP, real HTTP ----------------------------------------------------------------------
def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def smtp_server():
    """A real SMTP server on localhost (aiosmtpd) that keeps what it receives."""
    from aiosmtpd.controller import Controller

    class Keep:
        def __init__(self):
            self.messages = []

        async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's hook name
            self.messages.append(envelope)
            return "250 OK"

    handler = Keep()
    controller = Controller(handler, hostname="127.0.0.1", port=_free_port())
    controller.start()
    yield controller, handler.messages
    controller.stop()


@pytest.fixture
def http_server():
    """A real HTTP server standing in for the chat robot (/robot) and the SMS gateway (/sms)."""
    import json
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    state = {"received": [], "status": 200, "answer": {"errcode": 0, "errmsg": "ok"}}

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 - http.server's hook name
            body = self.rfile.read(int(self.headers["Content-Length"]))
            state["received"].append((self.path, json.loads(body), dict(self.headers)))
            out = json.dumps(state["answer"]).encode()
            self.send_response(state["status"])
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(out)))
            self.end_headers()
            self.wfile.write(out)

        def log_message(self, *_args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state["url"] = f"http://127.0.0.1:{server.server_address[1]}"
    yield state
    server.shutdown()
    server.server_close()


def configure(app, smtp=None, http=None) -> None:
    app.config["CUNWU_PUBLIC_URL"] = "https://cunwu.example.cn"
    if smtp is not None:
        app.config["CUNWU_SMTP_URL"] = f"smtp://127.0.0.1:{smtp[0].port}?from=notice@town.example.cn"
    if http is not None:
        app.config["CUNWU_WEBHOOK_URL"] = http["url"] + "/robot"
        app.config["CUNWU_SMS_URL"] = http["url"] + "/sms"
        app.config["CUNWU_SMS_TEMPLATE"] = "SMS_0001"


def worker_once(app):
    result = app.test_cli_runner().invoke(args=["worker", "--once"])
    assert result.exit_code == 0, result.output
    return result.output


def test_the_worker_sends_email_sms_and_the_chat_robot(app, walk, smtp_server, http_server):
    import email
    from email.policy import default

    contacts(app)
    configure(app, smtp_server, http_server)
    walk.start()
    case_id = walk.case["id"]
    walk.supervisor.post(f"/instances/{case_id}/hold", json={"reason": "核查"})
    assert smtp_server[1] == [] and http_server["received"] == []  # not inside the request
    output = worker_once(app)
    assert "发出 5 条" in output, output
    mails = {m.rcpt_tos[0]: email.message_from_bytes(m.content, policy=default) for m in smtp_server[1]}
    assert set(mails) == {"zhang@example.cn", "wu@example.cn"}
    mail = mails["wu@example.cn"]
    assert mail["From"] == "notice@town.example.cn"
    assert "示范村" in mail["Subject"] and "硬化村东道路" in mail["Subject"] and "已暂停办理" in mail["Subject"]
    assert f"https://cunwu.example.cn/cases/{case_id}" in mail.get_content()
    robot = [body for path, body, _h in http_server["received"] if path == "/robot"]
    assert len(robot) == 1 and robot[0]["msgtype"] == "text"
    assert "已暂停办理" in robot[0]["text"]["content"] and f"/cases/{case_id}" in robot[0]["text"]["content"]
    sms = {body["phone"]: body for path, body, _h in http_server["received"] if path == "/sms"}
    assert set(sms) == {"13800000001", "13800000002"}
    for body in sms.values():
        assert len(body["content"]) <= 70 and body["template_id"] == "SMS_0001"
        assert "示范村" in body["content"] and f"https://cunwu.example.cn/cases/{case_id}" in body["content"]
    assert all(m.status == "sent" and m.attempts == 1 for m in outbox(app))
    assert count(app, DeliveryAttempt) == 5
    worker_once(app)  # nothing twice
    assert len(smtp_server[1]) == 2 and len(http_server["received"]) == 3


def test_a_failing_channel_is_retried_with_backoff_then_dead_every_try_recorded(app, walk, clock, http_server):
    from engine.records.delivery import BACKOFF, MAX_ATTEMPTS

    contacts(app)
    configure(app, None, http_server)
    http_server["status"] = 503
    walk.start()
    walk.supervisor.post(f"/instances/{walk.case['id']}/hold", json={"reason": "核查"})
    worker_once(app)
    for tries in range(1, MAX_ATTEMPTS):
        assert all(m.status == "pending" and m.attempts == tries for m in outbox(app) if m.channel != "email")
        worker_once(app)  # not yet: the pause has not passed
        assert all(m.attempts == tries for m in outbox(app) if m.channel != "email")
        clock.advance(seconds=BACKOFF[tries - 1].total_seconds())
        worker_once(app)
    messages = [m for m in outbox(app) if m.channel != "email"]
    assert all(m.status == "dead" and m.attempts == MAX_ATTEMPTS and "503" in m.last_error for m in messages)
    assert count(app, DeliveryAttempt) == MAX_ATTEMPTS * len(messages)
    # no email configured: skipped, not tried
    assert all(m.status == "skipped" for m in outbox(app) if m.channel == "email")
    http_server["status"] = 200
    clock.advance(days=1)
    received = len(http_server["received"])
    worker_once(app)
    assert len(http_server["received"]) == received  # dead stays dead


def test_a_robot_that_answers_an_error_code_is_a_failure(app, walk, http_server):
    configure(app, None, http_server)
    http_server["answer"] = {"errcode": 93000, "errmsg": "invalid webhook url"}
    walk.start()
    walk.supervisor.post(f"/instances/{walk.case['id']}/hold", json={"reason": "核查"})
    worker_once(app)
    robot = next(m for m in outbox(app) if m.channel == "webhook")
    assert robot.status == "pending" and "93000" in robot.last_error


def test_a_crash_between_commit_and_send_loses_nothing(app, walk, clock, smtp_server):
    from engine.records.delivery import LEASE, Channels

    contacts(app)
    configure(app, smtp_server)
    walk.start()
    walk.supervisor.post(f"/instances/{walk.case['id']}/hold", json={"reason": "核查"})
    engine = app.extensions["cunwu"]

    def dies(_message):
        raise KeyboardInterrupt  # the worker is killed in the middle of a send

    channels = Channels(smtp_url="smtp://unused", senders={"email": dies})
    with pytest.raises(KeyboardInterrupt):
        engine.deliver_notices(channels)
    assert smtp_server[1] == []
    assert all(m.status == "pending" for m in outbox(app) if m.channel == "email")
    worker_once(app)  # restarted at once: the dead worker's claim still stands
    clock.advance(seconds=LEASE.total_seconds() + 1)
    worker_once(app)
    assert sorted(m.rcpt_tos[0] for m in smtp_server[1]) == ["wu@example.cn", "zhang@example.cn"]
    assert all(m.status == "sent" for m in outbox(app) if m.channel == "email")


def test_two_workers_send_each_notice_once(pg_app, clock):
    import threading
    import time

    from engine.records.delivery import Channels
    from tests.conftest import ApiClient

    app = pg_app
    contacts(app)
    walk = Walk(lambda u: ApiClient(app, u))
    walk.start()
    for _ in range(6):
        assert walk.supervisor.post(f"/instances/{walk.case['id']}/hold", json={"reason": "核查"}).status_code == 200
        assert walk.supervisor.post(f"/instances/{walk.case['id']}/release", json={"reason": "好"}).status_code == 200
    total = count(app, OutboxMessage)
    assert total == 12 * 5
    sent: list[int] = []
    guard = threading.Lock()

    def record(message):
        time.sleep(0.005)
        with guard:
            sent.append(message["id"])

    channels = Channels(senders={"email": record, "sms": record, "webhook": record})
    engine = app.extensions["cunwu"]
    errors = []

    def work():
        try:
            engine.deliver_notices(channels, batch=4)
        except Exception as exc:  # noqa: BLE001
            errors.append(exc)

    workers = [threading.Thread(target=work) for _ in range(2)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    assert not errors
    assert sorted(sent) == sorted({m.id for m in outbox(app)})  # every one, none twice
    assert all(m.status == "sent" for m in outbox(app))


def test_sms_texts_stay_within_70_characters():
    from engine.records.delivery import sms_text

    long = "示范村“" + "硬化村东道路" * 20 + "”已暂停办理"
    url = "https://cunwu.example.cn/cases/123456"
    text = sms_text(long, url)
    assert len(text) <= 70 and text.endswith(url) and "已暂停办理" in text and "…" in text
    assert sms_text("示范村“修路”已暂停办理", url) == f"示范村“修路”已暂停办理。 {url}"


# -- the inbox page ------------------------------------------------------------------------------------------
def _web(app, username):
    client = app.test_client()
    r = client.post("/login", data={"username": username, "password": "demo123"})
    assert r.status_code in (302, 303)
    return client


def test_the_inbox_page_and_the_unread_count_in_the_header(app, walk):
    walk.start()
    case_id = walk.case["id"]
    zhang = _web(app, "zhang")
    html = zhang.get("/").get_data(as_text=True)
    assert 'href="/notifications"' in html and 'id="unread-count"' not in html
    walk.supervisor.post(f"/instances/{case_id}/hold", json={"reason": "核查"})
    walk.supervisor.post(f"/instances/{case_id}/release", json={"reason": "好"})
    html = zhang.get("/").get_data(as_text=True)
    assert '<span class="count" id="unread-count">2</span>' in html
    page = zhang.get("/notifications").get_data(as_text=True)
    assert page.index("已恢复办理") < page.index("已暂停办理") and page.count('class="notice unread"') == 2
    newest = walk.secretary.get("/notifications").get_json()[0]["id"]
    # someone else cannot open (or mark) zhang's notice
    assert _web(app, "wang").post(f"/notifications/{newest}/open").status_code == 404
    r = zhang.post(f"/notifications/{newest}/open")
    assert r.status_code == 302 and r.headers["Location"].endswith(f"/cases/{case_id}")
    html = zhang.get("/notifications").get_data(as_text=True)
    assert '<span class="count" id="unread-count">1</span>' in html and html.count('class="notice unread"') == 1
    assert app.test_client().get("/notifications").status_code == 302  # to the login page


# -- complaint leads (issue 12) ------------------------------------------------------------------------------
LEAD = {"village": "demo-001", "text": "村里的集体鱼塘承包费去向不明，请核查。", "category": "sanzi",
        "name": "刘反映", "contact": "13800138000"}


def _secret_free(app, *secrets_):
    texts = [n.title for ns in inbox(app).values() for n in ns] + [m.subject for m in outbox(app)]
    for text in texts:
        for secret in secrets_:
            assert secret not in text, (secret, text)


def test_a_lead_tells_the_township_inspectors_and_when_unaccepted_the_county(app, api, clock):
    contacts(app)
    r = api(None).post("/leads", json=LEAD)
    assert r.status_code == 201, r.get_json()
    code = r.get_json()["code"]
    assert who(app, "lead") == {"wu"}  # not the village, not the county yet
    notice = api("wu").get("/notifications").get_json()[0]
    with app.extensions["cunwu"].sessions() as session:
        from engine.store.models import Lead

        lead = session.scalar(select(Lead))
    assert notice["kind"] == "lead" and notice["lead"] == lead.id and notice["case"] == lead.case_id
    assert "示范镇" in notice["title"] and "问题线索" in notice["title"] and "请及时受理" in notice["title"]
    clock.advance(days=40)  # past the 15 working days of accept_due, still not accepted
    app.extensions["cunwu"].run_timers()
    late = {u: [n for n in ns if n.kind == "lead" and "超过受理期限" in n.title] for u, ns in inbox(app).items()}
    assert {u for u, ns in late.items() if ns} == {"wu", "xu"}
    assert who(app, "overdue") == set()  # the intake past its due date is told as a lead, once
    app.extensions["cunwu"].run_timers()
    assert sum(len(ns) for ns in late.values()) == 2 == sum(
        1 for ns in inbox(app).values() for n in ns if "超过受理期限" in n.title)
    # never the reporter, their contact, what the lead says, or the query code
    _secret_free(app, "刘反映", "13800138000", "鱼塘", code)


def test_a_lead_about_a_township_official_is_told_to_the_county_only(app, api):
    r = api(None).post("/leads", json={**LEAD, "township_official": True})
    assert r.status_code == 201, r.get_json()
    assert who(app, "lead") == {"xu"}  # R60: not the township's own inspectors


def test_a_hold_on_a_lead_is_never_told_to_the_village(app, api):
    r = api(None).post("/leads", json=LEAD)
    case_id = api("wu").get("/notifications").get_json()[0]["case"]
    r = api("wu").post(f"/instances/{case_id}/hold", json={"reason": "核查"})
    assert r.status_code == 200, r.get_json()
    assert who(app, "hold") == {"wu", "xu"}  # the 纪检 roles; not zhang or the supervisors (R60)


def test_the_admin_sees_what_failed_and_sends_it_again(app, walk, http_server):
    from engine.records.delivery import Channels

    contacts(app)
    walk.start()
    walk.supervisor.post(f"/instances/{walk.case['id']}/hold", json={"reason": "核查"})
    http_server["status"] = 503
    channels = Channels(sms_url=http_server["url"] + "/sms", webhook_url=http_server["url"] + "/robot")
    app.extensions["cunwu"].deliver_notices(channels, max_attempts=1)
    dead = [m for m in outbox(app) if m.status == "dead"]
    assert len(dead) == 3  # two SMS and the robot; email is not configured
    admin = _web(app, "admin")
    page = admin.get("/admin/notices").get_data(as_text=True)
    assert "HTTP 503" in page and page.count('class="notice unread"') == 3 and "13800000002" in page
    assert _web(app, "zhao").get("/admin/notices").status_code == 403
    target = dead[0].id
    assert _web(app, "zhao").post(f"/admin/notices/{target}/resend").status_code == 403
    assert admin.post("/admin/notices/999999/resend").status_code == 404
    assert admin.post(f"/admin/notices/{target}/resend").status_code == 302
    again = next(m for m in outbox(app) if m.id == target)
    assert (again.status, again.attempts) == ("pending", 0)
    http_server["status"] = 200
    app.extensions["cunwu"].deliver_notices(channels)
    assert next(m for m in outbox(app) if m.id == target).status == "sent"
    assert count(app, DeliveryAttempt) == 4  # three failures and the resend, every one recorded
    r = admin.post(f"/admin/notices/{target}/resend", follow_redirects=True)
    assert "该消息已发出，不再重发" in r.get_data(as_text=True)
    html = admin.get("/admin").get_data(as_text=True)
    assert "13800000001" in html and "zhang@example.cn" in html
