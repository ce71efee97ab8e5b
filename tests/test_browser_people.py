"""In real Chromium on a 390 px phone (issue 15, 17): the admin creates a person and reads the
one-time password; a cadre sets their own notice preferences; the township desk of what was sent.
Screenshots go to test-artifacts/browser/ (the README's come from here).

Run: ``.venv/bin/python -m pytest -q -m browser tests/test_browser_people.py``.
"""

from __future__ import annotations

import re

import pytest

from tests.test_browser import PHONE, Person, browser_type_launch_args, live, shot  # noqa: F401
from tests.test_notices import contacts

pytestmark = pytest.mark.browser


def _fits(page):
    assert page.evaluate("document.documentElement.scrollWidth") <= 390


def test_the_admin_creates_a_person_on_a_phone(browser, live, app):  # noqa: F811
    contacts(app)
    admin = Person(browser, live, "admin", **PHONE)
    page = admin.go("/admin/people")
    _fits(page)
    page.get_by_role("link", name="新建人员").click()
    page.get_by_label("用户名").fill("liu")
    page.get_by_label("姓名").fill("刘委员")
    page.get_by_label("手机号").fill("1390000")
    page.get_by_label("第1个角色", exact=True).select_option("committee_member")
    page.get_by_label("第1个角色的范围").select_option("village:demo-001")
    page.get_by_role("button", name="新建").click()
    page.wait_for_load_state()
    assert "手机号（phone）“1390000”不是11位大陆手机号码" in page.locator("#error-phone").inner_text()
    _fits(page)
    page.get_by_label("手机号").fill("13900000001")
    page.get_by_role("button", name="新建").click()
    page.wait_for_load_state()
    password = page.locator("#one-time-password code").inner_text()
    assert re.fullmatch(r"[a-z0-9]{10}", password)
    _fits(page)
    shot(page, "admin-person-created-phone")
    page = admin.go("/admin/people?village=demo-001")
    assert page.locator("#person-liu").is_visible()
    _fits(page)
    shot(page, "admin-people-phone")
    admin.close()
    liu = Person(browser, live, None, **PHONE)
    page = liu.go("/login")
    page.get_by_label("用户名").fill("liu")
    page.get_by_label("密码").fill(password)
    page.get_by_role("button", name="登录").click()
    page.wait_for_url(f"{live}/password")  # a one-time password: their own first
    page.get_by_label("原密码（或一次性密码）").fill(password)
    page.get_by_label("新密码", exact=True).fill("liu-own-pass")
    page.get_by_label("再输一遍新密码").fill("liu-own-pass")
    _fits(page)
    page.get_by_role("button", name="修改密码").click()
    page.wait_for_url(f"{live}/")
    assert "密码已修改" in page.locator(".flash").inner_text()
    liu.close()


def test_a_cadre_sets_notice_preferences_on_a_phone(browser, live, app):  # noqa: F811
    contacts(app)
    app.config["CUNWU_SMS_URL"] = "http://127.0.0.1:9/sms"  # configured (never called here)
    app.config["CUNWU_SMTP_URL"] = "smtp://127.0.0.1:9"
    app.config["CUNWU_WEBHOOK_URL"] = "http://127.0.0.1:9/robot"
    zhang = Person(browser, live, "zhang", **PHONE)
    page = zhang.go("/notifications")
    page.get_by_role("link", name="通知设置").first.click()
    page.wait_for_url(f"{live}/notifications/settings")
    page.get_by_label("邮件（zhang@example.cn）").uncheck()
    page.get_by_label("每日汇总一次，在每天").check()
    page.get_by_label("每日汇总时间").select_option("8")
    _fits(page)
    page.get_by_role("button", name="保存").click()
    page.wait_for_load_state()
    assert "通知设置已保存" in page.locator(".flash").inner_text()
    assert not page.get_by_label("邮件（zhang@example.cn）").is_checked()
    _fits(page)
    shot(page, "notice-settings-phone")
    prefs = app.extensions["cunwu"].notice_preferences("zhang")
    assert (prefs["email"], prefs["sms"], prefs["digest_hour"]) == (False, True, 8)
    zhang.close()


def test_the_township_desk_of_what_was_sent_on_a_phone(browser, live, app, api):  # noqa: F811
    from tests.flows import Walk

    contacts(app)
    walk = Walk(api)
    walk.start()
    walk.supervisor.post(f"/instances/{walk.case['id']}/hold", json={"reason": "核查"})
    from engine.records.delivery import Channels, DeliveryError

    def gateway_down(_message):
        raise DeliveryError("HTTP 503")

    sent = Channels(senders={"email": lambda m: None, "webhook": lambda m: None, "sms": gateway_down})
    app.extensions["cunwu"].deliver_notices(sent)
    wu = Person(browser, live, "wu", **PHONE)
    page = wu.go("/township")
    page.get_by_role("link", name=re.compile("通知发送情况")).click()
    page.wait_for_url(f"{live}/township/notices")
    assert page.locator("#sent li").count() >= 4
    assert page.locator("#sent li", has_text="失败待重试").count() == 2  # the two SMS
    assert page.locator("#sent li", has_text="已发出").count() >= 3
    _fits(page)
    shot(page, "township-notices-phone")
    wu.close()
