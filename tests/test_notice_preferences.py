"""Each person's notice preferences (issue 17): channels, a daily digest, quiet hours; the worker
honours them with the real local SMTP server and HTTP stand-ins of tests/test_notices.py."""

from __future__ import annotations

import email
import json
from datetime import UTC, datetime
from email.policy import default

import pytest
from sqlalchemy import select

from engine.store.models import AuditEvent, OutboxMessage
from tests import test_notices
from tests.flows import Walk
from tests.test_notices import configure, contacts, outbox, worker_once

smtp_server = test_notices.smtp_server  # the local SMTP server and HTTP stand-ins (fixtures)
http_server = test_notices.http_server


@pytest.fixture
def walk(api):
    return Walk(api)


def _mails(smtp) -> list:
    return [(m.rcpt_tos[0], email.message_from_bytes(m.content, policy=default)) for m in smtp[1]]


def _sms(http) -> list[dict]:
    return [body for path, body, _h in http["received"] if path == "/sms"]


def _web(app, username):
    client = app.test_client()
    r = client.post("/login", data={"username": username, "password": "demo123"})
    assert r.status_code in (302, 303)
    return client


def test_defaults_and_the_api(app, walk, api):
    zhang = walk.secretary
    r = zhang.get("/notifications/preferences")
    assert r.status_code == 200
    assert r.get_json() == {"sms": True, "email": True, "digest_hour": None, "quiet_from": 22, "quiet_to": 7,
                            "contact": {"phone": None, "email": None}}
    r = zhang.client.put("/api/v1/notifications/preferences", headers=zhang.headers,
                         json={"sms": "no", "digest_hour": 24, "quiet_to": 7.5})
    assert r.status_code == 422
    err = r.get_json()["error"]
    assert set(err["fields"]) == {"sms", "digest_hour", "quiet_to"}
    assert "短信（sms）" in err["message"] and "每日汇总时间（digest_hour）" in err["message"]
    assert zhang.get("/notifications/preferences").get_json()["digest_hour"] is None  # nothing changed
    r = zhang.client.put("/api/v1/notifications/preferences", headers=zhang.headers,
                         json={"email": False, "digest_hour": 8})
    assert r.status_code == 200
    prefs = zhang.get("/notifications/preferences").get_json()
    assert (prefs["sms"], prefs["email"], prefs["digest_hour"], prefs["quiet_from"]) == (True, False, 8, 22)
    with app.extensions["cunwu"].sessions() as session:  # audited, as the person's own change
        event = session.scalar(select(AuditEvent).where(AuditEvent.action == "notice_prefs"))
    assert event.actor_name == "张书记" and "每日8点汇总" in event.summary
    # each person their own: wang still has the defaults
    assert walk.director.get("/notifications/preferences").get_json()["digest_hour"] is None
    # the admin sees them
    page = _web(app, "admin").get("/admin/people/zhang").get_data(as_text=True)
    assert "站内；每日8点汇总；22:00–07:00免打扰" in page  # zhang left no phone here: SMS cannot reach him
    people = {p["username"]: p for p in api("admin").get("/people").get_json()}
    assert people["zhang"]["notices"]["digest_hour"] == 8 and people["wang"]["notices"]["digest_hour"] is None


def test_the_settings_page(app, smtp_server, http_server):
    contacts(app)
    configure(app, smtp_server, http_server)
    zhang = _web(app, "zhang")
    assert 'href="/notifications/settings"' in zhang.get("/notifications").get_data(as_text=True)
    page = zhang.get("/notifications/settings").get_data(as_text=True)
    assert "短信（13800000001）" in page and "邮件（zhang@example.cn）" in page and "已接入：" in page
    r = zhang.post("/notifications/settings", data={"sms": "1", "mode": "digest", "digest_hour": "19",
                                                    "quiet": "1", "quiet_from": "21", "quiet_to": "8"})
    assert r.status_code == 302
    prefs = app.extensions["cunwu"].notice_preferences("zhang")
    assert (prefs["sms"], prefs["email"], prefs["digest_hour"], prefs["quiet_from"], prefs["quiet_to"]) == (
        True, False, 19, 21, 8)
    page = zhang.get("/notifications/settings").get_data(as_text=True)
    assert '<option value="19" selected>19:00</option>' in page
    # no quiet hours at all; single messages
    zhang.post("/notifications/settings", data={"sms": "1", "email": "1", "mode": "single", "digest_hour": "8",
                                                "quiet_from": "22", "quiet_to": "7"})
    prefs = app.extensions["cunwu"].notice_preferences("zhang")
    assert prefs["digest_hour"] is None and prefs["quiet_from"] == prefs["quiet_to"]
    r = zhang.post("/notifications/settings", data={"mode": "digest", "digest_hour": "25", "quiet": "1",
                                                    "quiet_from": "x", "quiet_to": "7"})
    assert r.status_code == 422
    html = r.get_data(as_text=True)
    assert "每日汇总时间（digest_hour）必须是0到23之间的整点" in html and 'id="error-quiet_from"' in html
    # wu has no phone: SMS cannot be chosen, and without SMTP email says it is not connected
    app.config.pop("CUNWU_SMTP_URL")
    page = _web(app, "wu").get("/notifications/settings").get_data(as_text=True)
    assert "未留手机号，请联系系统管理员填写" in page and "本系统尚未接入邮件" in page


def test_a_channel_turned_off_sends_nothing_there(app, walk, smtp_server, http_server):
    contacts(app)
    configure(app, smtp_server, http_server)
    zhang = walk.secretary
    assert zhang.client.put("/api/v1/notifications/preferences", headers=zhang.headers,
                            json={"email": False}).status_code == 200
    assert walk.supervisor.client.put("/api/v1/notifications/preferences", headers=walk.supervisor.headers,
                                      json={"sms": False}).status_code == 200
    walk.start()
    walk.supervisor.post(f"/instances/{walk.case['id']}/hold", json={"reason": "核查"})
    worker_once(app)
    assert [to for to, _m in _mails(smtp_server)] == ["wu@example.cn"]  # not zhang
    assert [b["phone"] for b in _sms(http_server)] == ["13800000001"]  # zhang's; not zhao's
    # the inbox has it all the same (站内 is always on)
    assert len(zhang.get("/notifications").get_json()) == 1 and len(walk.supervisor.get("/notifications").get_json())


def test_a_channel_turned_off_after_the_message_was_written_sends_nothing(app, walk, clock, http_server):
    contacts(app)
    configure(app, None, http_server)
    clock.value = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)  # 23:00 Beijing
    walk.start()
    clock.advance(days=31)
    app.extensions["cunwu"].run_timers()  # zhang's overdue SMS waits for 07:00
    zhang = walk.secretary
    zhang.client.put("/api/v1/notifications/preferences", headers=zhang.headers, json={"sms": False})
    clock.advance(hours=9)  # 08:00 Beijing
    worker_once(app)
    assert [b for b in _sms(http_server) if b["phone"] == "13800000001"] == []
    sms = next(m for m in outbox(app) if m.address == "13800000001")
    assert (sms.status, sms.last_error) == ("skipped", "本人已关闭该渠道")
    html = _web(app, "wu").get("/township/notices?status=skipped").get_data(as_text=True)
    assert "未发：本人已关闭该渠道" in html


def test_leaving_the_digest_sends_what_waits_at_once(app, walk, clock, smtp_server):
    contacts(app)
    configure(app, smtp_server)
    zhang = walk.secretary
    zhang.client.put("/api/v1/notifications/preferences", headers=zhang.headers, json={"digest_hour": 8})
    walk.start()
    walk.start()
    clock.advance(days=31)
    app.extensions["cunwu"].run_timers()
    worker_once(app)
    assert [to for to, _m in _mails(smtp_server) if to == "zhang@example.cn"] == []
    zhang.client.put("/api/v1/notifications/preferences", headers=zhang.headers, json={"digest_hour": None})
    worker_once(app)
    mine = [m for to, m in _mails(smtp_server) if to == "zhang@example.cn"]
    assert len(mine) == 1 and "今日通知2条" in mine[0]["Subject"]


def test_a_daily_digest_sends_one_message_with_every_notice_and_a_hold_at_once(app, walk, clock, smtp_server,
                                                                               http_server):
    contacts(app)
    configure(app, smtp_server, http_server)
    zhang = walk.secretary
    assert zhang.client.put("/api/v1/notifications/preferences", headers=zhang.headers,
                            json={"digest_hour": 8}).status_code == 200
    titles = []
    for _ in range(3):
        walk.start()
        titles.append(walk.case["id"])
    clock.advance(days=31)  # 2026-04-02 16:00 Beijing: the three 两委会议 are overdue
    app.extensions["cunwu"].run_timers()
    walk.supervisor.post(f"/instances/{walk.case['id']}/hold", json={"reason": "核查"})
    worker_once(app)
    mine = [m for to, m in _mails(smtp_server) if to == "zhang@example.cn"]
    assert len(mine) == 1 and "已暂停办理" in mine[0]["Subject"]  # the hold: at once, digest or not
    assert [b["content"] for b in _sms(http_server) if b["phone"] == "13800000001"][0].count("已暂停办理") == 1
    assert len([b for b in _sms(http_server) if b["phone"] == "13800000001"]) == 1
    assert sum(1 for to, _m in _mails(smtp_server) if to == "wu@example.cn") == 4  # wu chose nothing: one each
    waiting = [m for m in outbox(app) if m.status == "digest"]
    assert len(waiting) == 6 and {m.address for m in waiting} == {"zhang@example.cn", "13800000001"}
    assert {m.next_at for m in waiting} == {datetime(2026, 4, 3, 0, 0, tzinfo=UTC)}  # 08:00 Beijing
    clock.advance(hours=15, minutes=59)  # 07:59 Beijing
    worker_once(app)
    assert len([1 for to, _m in _mails(smtp_server) if to == "zhang@example.cn"]) == 1  # not yet
    clock.advance(minutes=1)
    worker_once(app)
    mine = [m for to, m in _mails(smtp_server) if to == "zhang@example.cn"]
    assert len(mine) == 2
    digest = mine[1]
    assert "每日汇总" in digest["Subject"] and "今日通知3条" in digest["Subject"]
    body = digest.get_content()
    assert body.count("已超过办理期限") == 3 and "已暂停办理" not in body
    for case_id in titles:
        assert f"https://cunwu.example.cn/cases/{case_id}" in body
    sms = [b for b in _sms(http_server) if b["phone"] == "13800000001"]
    assert len(sms) == 2 and "今日通知3条" in sms[1]["content"] and len(sms[1]["content"]) <= 70
    assert "https://cunwu.example.cn/notifications" in sms[1]["content"]
    rows = outbox(app)
    assert all(m.status == "digested" and m.digest_id for m in rows if m.address in ("zhang@example.cn",
                                                                                     "13800000001")
               and m.kind == "overdue")
    digests = [m for m in rows if m.kind == "digest"]
    assert len(digests) == 2 and all(m.status == "sent" for m in digests)
    assert json.loads(digests[0].body)[0]["subject"].endswith("已超过办理期限")
    clock.advance(days=1)
    worker_once(app)  # nothing twice
    assert len([1 for to, _m in _mails(smtp_server) if to == "zhang@example.cn"]) == 2


def test_quiet_hours_defer_sms_to_their_end_and_a_hold_goes_through(app, walk, clock, http_server):
    contacts(app)
    configure(app, None, http_server)
    clock.value = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)  # 23:00 Beijing
    walk.start()
    clock.advance(days=31)  # 23:00 Beijing: zhang's overdue SMS waits for 07:00
    app.extensions["cunwu"].run_timers()
    worker_once(app)
    assert [b for b in _sms(http_server)] == []
    walk.supervisor.post(f"/instances/{walk.case['id']}/hold", json={"reason": "核查"})
    worker_once(app)
    sent = _sms(http_server)
    assert sorted(b["phone"] for b in sent) == ["13800000001", "13800000002"]  # the hold, to zhang and zhao
    assert all("已暂停办理" in b["content"] for b in sent)
    clock.value = datetime(2026, 4, 2, 22, 59, tzinfo=UTC)  # 06:59 Beijing
    worker_once(app)
    assert len(_sms(http_server)) == 2
    clock.advance(minutes=1)  # 07:00
    worker_once(app)
    late = _sms(http_server)[2:]
    assert [b["phone"] for b in late] == ["13800000001"] and "已超过办理期限" in late[0]["content"]


def test_own_quiet_hours_are_honoured_at_sending_time(app, walk, clock, http_server):
    """zhang chooses 20:00–09:00; a message written at 19:30 and still unsent at 20:30 waits for 09:00."""
    contacts(app)
    configure(app, None, http_server)
    zhang = walk.secretary
    assert zhang.client.put("/api/v1/notifications/preferences", headers=zhang.headers,
                            json={"quiet_from": 20, "quiet_to": 9}).status_code == 200
    clock.value = datetime(2026, 3, 1, 11, 30, tzinfo=UTC)  # 19:30 Beijing
    walk.start()
    clock.advance(days=31)  # 19:30 Beijing, outside zhang's quiet hours: due now
    app.extensions["cunwu"].run_timers()
    clock.advance(hours=1)  # 20:30: the worker comes late
    worker_once(app)
    assert _sms(http_server) == []
    sms = next(m for m in outbox(app) if m.address == "13800000001")
    assert sms.status == "pending" and sms.next_at == datetime(2026, 4, 2, 1, 0, tzinfo=UTC)  # 09:00 Beijing
    # written inside them: deferred at once to their end
    zhang.client.put("/api/v1/notifications/preferences", headers=zhang.headers, json={"quiet_from": 13, "quiet_to": 15})
    walk.start()
    clock.value = datetime(2026, 5, 2, 6, 0, tzinfo=UTC)  # 14:00 Beijing, the second case overdue
    app.extensions["cunwu"].run_timers()
    second = [m for m in outbox(app) if m.address == "13800000001" and m.kind == "overdue"][-1]
    assert second.next_at == datetime(2026, 5, 2, 7, 0, tzinfo=UTC)  # 15:00 Beijing


def test_quiet_hours_arithmetic():
    from engine.domain.clock import LOCAL_TZ
    from engine.records.notices import next_digest, quiet_until

    def bj(h, m=0, day=2):
        return datetime(2026, 3, day, h, m, tzinfo=LOCAL_TZ)

    assert quiet_until(bj(23)) == bj(7, day=3) and quiet_until(bj(3)) == bj(7) and quiet_until(bj(7)) is None
    assert quiet_until(bj(21, 59)) is None and quiet_until(bj(22)) == bj(7, day=3)
    assert quiet_until(bj(14), 13, 15) == bj(15) and quiet_until(bj(15), 13, 15) is None
    assert quiet_until(bj(3), 0, 0) is None  # equal: no quiet hours
    assert next_digest(bj(7, 59), 8) == bj(8) and next_digest(bj(8), 8) == bj(8, day=3)
    assert next_digest(bj(23), 0) == bj(0, day=3)


def test_messages_know_whom_and_which_village(app, walk):
    contacts(app)
    walk.start()
    walk.supervisor.post(f"/instances/{walk.case['id']}/hold", json={"reason": "核查"})
    with app.extensions["cunwu"].sessions() as session:
        rows = list(session.scalars(select(OutboxMessage)))
    assert rows and all(m.village_id is not None for m in rows)
    assert all((m.user_id is None) == (m.channel == "webhook") for m in rows)


def test_two_workers_fold_each_digest_once_on_postgresql(pg_app, clock):
    import threading

    from engine.records.delivery import Channels
    from tests.conftest import ApiClient

    app = pg_app
    contacts(app)
    walk = Walk(lambda u: ApiClient(app, u))
    zhang = walk.secretary
    assert zhang.client.put("/api/v1/notifications/preferences", headers=zhang.headers,
                            json={"digest_hour": 8}).status_code == 200
    for _ in range(4):
        walk.start()
    clock.advance(days=31)
    app.extensions["cunwu"].run_timers()
    clock.advance(days=1)  # past 08:00 Beijing
    sent: list[dict] = []
    guard = threading.Lock()

    def record(message):
        with guard:
            sent.append(message)

    channels = Channels(senders={"email": record, "sms": record, "webhook": record})
    engine = app.extensions["cunwu"]
    errors = []

    def work():
        try:
            engine.deliver_notices(channels, batch=2)
        except Exception as exc:  # noqa: BLE001
            errors.append(exc)

    workers = [threading.Thread(target=work) for _ in range(2)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    assert not errors
    digests = [m for m in sent if m["kind"] == "digest"]
    assert sorted(m["channel"] for m in digests) == ["email", "sms"]  # one each, never two
    assert all(len(json.loads(m["body"])) == 4 for m in digests)
    rows = outbox(app)
    assert all(m.status == "digested" for m in rows if m.user_id and m.address in ("zhang@example.cn", "13800000001")
               and m.kind == "overdue")
    assert len({m["id"] for m in sent}) == len(sent)
