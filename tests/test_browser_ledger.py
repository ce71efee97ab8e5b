"""The ledger in real Chromium (issue 13): the 报账员 enters a receipt on a phone (a bad amount is
refused in Chinese, nothing is written), the supervisors review the generated quarterly statement
on the task page and approve it, and the statement is on the public board. Screenshots go to
test-artifacts/browser/ (the README's come from here).

Run: ``.venv/bin/python -m pytest -q -m browser tests/test_browser_ledger.py``.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tests.test_browser import DESK, PHONE, Person, browser_type_launch_args, live, shot  # noqa: F401

pytestmark = pytest.mark.browser


def test_receipt_on_a_phone_then_the_quarterly_statement_on_the_board(browser, live, app, clock):  # noqa: F811
    sun = Person(browser, live, "sun", **PHONE)
    page = sun.go("/ledger")
    form = page.locator("#receipt")
    form.get_by_label("收款日期").fill("2026-03-01")
    form.get_by_label("核算主体").select_option("cooperative")
    form.get_by_label("金额（元）").fill("1.005")
    form.get_by_label("会计科目").fill("经营收入")
    form.get_by_label("摘要").fill("村东鱼塘2026年承包费")
    form.get_by_role("button", name="登记").click()
    page.wait_for_load_state()
    assert "最多两位小数" in page.content()
    form.get_by_label("金额（元）").fill("12000.00")
    form.get_by_label("付款单位（人）").fill("张三")
    form.get_by_role("button", name="登记").click()
    page.wait_for_url(f"{live}/ledger?village=demo-001")
    assert page.locator("#total-in").inner_text() == "12000.00"
    form.get_by_label("核算主体").select_option("committee")
    form.get_by_label("金额（元）").fill("3500.50")
    form.get_by_label("会计科目").fill("补助收入")
    form.get_by_label("摘要").fill("上级村级组织运转经费补助")
    form.get_by_label("付款单位（人）").fill("示范镇财政所")
    form.get_by_role("button", name="登记").click()
    page.wait_for_url(f"{live}/ledger?village=demo-001")
    shot(page, "doc-ledger-phone", full_page=False)
    assert not sun.errors

    clock.value = datetime(2026, 3, 31, 16, 0, 1, tzinfo=UTC)  # the first quarter has ended (Beijing)
    app.extensions["cunwu"].run_timers()
    zhao = Person(browser, live, "zhao", **DESK)
    page = zhao.open_task("监委会（民主理财小组）审核财务公开表")
    assert "2026年第一季度财务公开表" in page.content() and "15500.50" in page.content()
    page.get_by_label("审核结论").select_option("approve")
    zhao.submit(page)
    villager = Person(browser, live, None, **PHONE)
    page = villager.go("/villages/demo-001/board")
    assert "2026年第一季度财务公开" in page.content() and "收入15500.50元" in page.content()
    shot(page, "doc-finance-board-phone", full_page=False)
