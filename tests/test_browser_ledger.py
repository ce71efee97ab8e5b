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


def test_the_assets_register_on_a_phone(browser, live, app, clock):  # noqa: F811
    """资产资源台账 (issue 13) on a 390 px phone: the 报账员 registers an asset (a value written
    "约30万" is refused in Chinese, nothing is written; "30万" is 300,000.00), changes its status with
    a reason (the history shows it), and the contracts register shows what is due and unpaid."""
    engine = app.extensions["cunwu"]
    engine.add_asset("sun", "demo-001", {"entity": "cooperative", "category": "resource", "code": "ZY-012",
                                         "name": "村东鱼塘", "location": "村东大堤外", "quantity": "20", "unit": "亩",
                                         "status": "idle"})
    engine.add_asset("sun", "demo-001", {"entity": "committee", "category": "non_operating", "name": "村文化礼堂",
                                         "location": "村委会东侧", "quantity": "350.5", "unit": "平方米",
                                         "original_value": "48万", "book_value": "412,500.50"})
    pond = engine.assets("sun", "demo-001", q="鱼塘")["assets"][0]
    engine.add_contract("sun", "demo-001", {"entity": "cooperative", "kind": "contracting", "subject": "村东鱼塘20亩",
                                            "counterparty": "张三", "starts_on": "2026-01-01", "ends_on": "2030-12-31",
                                            "amount": "6000.00", "every_months": 12, "asset": pond["id"]})
    sun = Person(browser, live, "sun", **PHONE)
    page = sun.go("/assets")
    form = page.locator("#register")
    form.get_by_label("核算主体").select_option("committee")
    form.get_by_label("资产类别").select_option("operating")
    form.get_by_label("名称").fill("村集体厂房")
    form.get_by_label("坐落位置").fill("工业园路8号")
    form.get_by_label("面积（数量）").fill("600")
    form.get_by_label("计量单位").fill("平方米")
    form.get_by_label("原值（元，资源性资产可不填）").fill("约30万")
    form.get_by_label("账面价值（元）").fill("254,000.5")
    assert "写法不对" in page.locator("#echo-original").inner_text()
    form.get_by_role("button", name="登记").click()
    page.wait_for_load_state()
    assert "原值写法不对" in page.content()
    assert engine.assets("sun", "demo-001")["count"] == 2, "nothing written"
    form.get_by_label("原值（元，资源性资产可不填）").fill("30万")
    assert "叁拾万元整" in page.locator("#echo-original").inner_text()
    form.get_by_role("button", name="登记").click()
    page.wait_for_url(f"{live}/assets?village=demo-001")
    assert page.locator("#asset-count").inner_text() == "3"
    assert page.locator("#total-original").inner_text() == "780,000.00"
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    shot(page, "doc-assets-phone", full_page=False)
    page.get_by_role("link", name="村集体厂房").click()
    page.wait_for_load_state()
    box = page.locator("#change-status")
    box.get_by_label("新状态").select_option("idle")
    box.get_by_label("变更原因").fill("企业搬迁，厂房空置")
    box.get_by_role("button", name="变更").click()
    page.wait_for_load_state()
    assert page.locator("#asset-status").inner_text() == "闲置"
    assert "企业搬迁，厂房空置" in page.locator("#asset-history").inner_text()
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    shot(page, "doc-asset-detail-phone", full_page=True)
    page = sun.go("/contracts")
    assert "6,000.00" in page.locator("#outstanding").inner_text() and "应收未收" in page.content()
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    shot(page, "doc-contracts-phone", full_page=False)
    assert not sun.errors
