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


def test_photos_supervision_and_accountability_in_chromium(app, live, browser, tmp_path):  # noqa: F811
    """Issue 12's rest: a photo from the phone's form; 徐纪委 (county) supervises the lead from its
    page; 吴纪委 closes it as substantiated and records who is held to account (一案双查)."""
    from PIL import Image

    from tests.test_browser import SHOTS

    photo = tmp_path / "IMG_0001.jpg"
    Image.new("RGB", (640, 480), (30, 120, 60)).save(photo, "JPEG")
    villager = Person(browser, live, None, **PHONE)
    page = villager.go("/villages/demo-001/leads/new")
    page.get_by_label("反映的问题").fill("村道硬化工程偷工减料，路面已开裂。")
    page.get_by_label("问题类别").select_option("project")
    page.locator("#lead-files").set_input_files(str(photo))
    page.get_by_role("button", name="提交").click()
    page.wait_for_load_state()
    assert "已收到1件" in page.content()
    villager.close()

    xu = Person(browser, live, "xu", **DESK)
    lead_page = xu.go("/township/leads")
    lead_page.locator("table a").first.click()
    lead_page.wait_for_url(re.compile(r"/cases/\d+$"))
    case_url = lead_page.url
    assert lead_page.locator(".lead-box img").first.evaluate("i => i.complete && i.naturalWidth > 0")
    lead_page.locator("summary", has_text="县纪委督办").click()
    lead_page.get_by_label("办结时限").fill("2026-03-20")
    lead_page.get_by_label("督办理由").fill("群众反映强烈，挂牌督办")
    lead_page.get_by_role("button", name="督办").click()
    lead_page.wait_for_load_state()
    assert "限2026-03-20前办结" in lead_page.locator(".lead-box").inner_text()
    xu.close()

    wu = Person(browser, live, "wu", **DESK)
    task = wu.open_task("受理审查")
    task.get_by_label("受理意见").select_option("accept")
    task.get_by_label("处置方式").select_option("preliminary_verification")
    task.get_by_label("责任单位").fill("示范镇纪委")
    task.get_by_label("经办人").fill("吴纪委")
    task.get_by_label("完成时限").fill("2026-03-07")  # a Saturday: refused, in Chinese
    wu.submit(task)
    assert "不是工作日" in task.content()
    task.get_by_label("完成时限").fill("2026-03-19")
    wu.submit(task)
    task = wu.open_task("核查处理（四个不放过）")
    task.get_by_label("核查结论").select_option("substantiated")
    task.get_by_label("核查情况").fill("路面厚度不足设计要求")
    task.get_by_label("整改情况").fill("施工方返工，村党支部作出检查")
    for box in ("原因已查清", "责任人员已处理", "整改措施已落实", "有关人员已受到教育"):
        task.get_by_label(box).check()
    wu.submit(task)
    page = wu.go(case_url.split(live, 1)[1])
    form = page.locator("form", has=page.get_by_role("button", name="登记"))
    form.get_by_label("被问责人").fill("张书记")
    form.get_by_label("职务").fill("村党支部书记")
    form.get_by_label("责任类型").select_option("primary")
    form.get_by_label("问责方式").select_option("admonishment")
    form.get_by_label("决定日期").fill("2026-03-02")
    form.get_by_label("决定机关").fill("示范镇纪委")
    form.get_by_role("button", name="登记").click()
    page.wait_for_load_state()
    box = page.locator(".lead-box").inner_text()
    assert "村党支部书记 张书记" in box and "诫勉" in box and "县纪委督办" in box and "示范镇纪委" in box
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.locator(".lead-box").screenshot(path=str(SHOTS / "lead-box-supervised-accountability.png"))
    desk = wu.go("/township/leads")
    assert "主体责任1" in desk.locator(".stats").inner_text()
    wu.close()
