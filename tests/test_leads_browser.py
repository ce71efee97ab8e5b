"""Complaint leads in real Chromium (issue 12): a villager on a 390 px phone files a lead from the
village's board without an account, keeps the query code from the receipt and looks the lead up;
吴纪委 sees it on the lead desk and accepts it; the reporter then sees 已受理."""

from __future__ import annotations

import re

import pytest

from tests.test_browser import DESK, PHONE, Person, browser_type_launch_args, live, shot  # noqa: F401

pytestmark = pytest.mark.browser


def test_a_villager_files_a_lead_from_a_phone(app, live, browser):  # noqa: F811
    villager = Person(browser, live, None, **PHONE)
    page = villager.go("/villages/demo-001/board")
    page.get_by_role("link", name="我要反映问题（可匿名）").click()
    page.wait_for_url(re.compile(r"/villages/demo-001/leads/new$"))
    assert page.evaluate("document.documentElement.scrollWidth") <= 390  # no sideways scrolling
    page.get_by_role("button", name="提交").click()  # empty: the engine says what is missing
    assert "请填写反映内容" in page.locator(".error-msg").first.inner_text()
    page.get_by_label("反映的问题").fill("村集体鱼塘承包费三年没有公开，去向不明。")
    page.get_by_label("问题类别").select_option("sanzi")
    page.get_by_label("姓名").fill("刘反映")
    page.get_by_label("联系方式").fill("13800138000")
    shot(page, "lead-form-phone")
    page.get_by_role("button", name="提交").click()
    page.wait_for_load_state()
    code = page.locator("#lead-code").inner_text()
    assert re.fullmatch(r"[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}", code)
    assert "受理期限" in page.content() and "/leads/" + code not in page.url
    shot(page, "lead-receipt-phone")

    page.get_by_role("link", name="查询办理进度").click()
    page.get_by_label("查询码").fill(code.lower())
    page.get_by_role("button", name="查询").click()
    page.wait_for_load_state()
    assert "已收到，待受理" in page.locator(".lead-status").inner_text()
    assert "刘反映" not in page.content()

    wu = Person(browser, live, "wu", **DESK)
    desk = wu.go("/township/leads")
    assert "三资" in desk.locator(".stats").inner_text()
    desk.locator("table a").first.click()
    desk.wait_for_url(re.compile(r"/cases/\d+$"))
    assert "刘反映" in desk.locator(".lead-box").inner_text()
    task = wu.open_task("受理审查")
    task.get_by_label("受理意见").select_option("accept")
    task.get_by_label("处置方式").select_option("preliminary_verification")
    task.get_by_label("责任单位").fill("示范镇纪委")
    wu.submit(task)
    assert "已办理" in task.locator(".flash").inner_text()
    shot(task, "lead-case-desk")

    page.get_by_label("查询码").fill(code)
    page.get_by_role("button", name="查询").click()
    page.wait_for_load_state()
    status = page.locator(".lead-status").inner_text()
    assert "已受理" in status and "初步核实" in status and "示范镇纪委" not in status
    shot(page, "lead-status-phone")
    villager.close()
    wu.close()
