"""Evidence from a phone in real Chromium (issue 14): the file chooser of the task page, the
thumbnail, the meeting record submitted with it, the case page listing it under the step."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from tests.conftest import ApiClient
from tests.flows import Walk
from tests.test_browser import PHONE, Person, browser_type_launch_args, live, shot  # noqa: F401

pytestmark = pytest.mark.browser


def test_upload_from_a_phone_with_the_file_chooser(app, live, browser, tmp_path):  # noqa: F811
    walk = Walk(lambda u: ApiClient(app, u))
    walk.start()
    photo = tmp_path / "签到表.jpg"
    img = Image.new("RGB", (1200, 900), (240, 240, 230))
    for x in range(0, 1200, 60):
        for y in range(0, 900, 45):
            img.putpixel((x, y), (20, 20, 20))
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=90)
    photo.write_bytes(buf.getvalue())

    zhang = Person(browser, live, "zhang", **PHONE)
    page = zhang.open_task("村两委会议商议")
    camera = page.locator("#evidence-camera")
    assert camera.get_attribute("capture") == "environment"
    assert camera.get_attribute("accept") == "image/*,application/pdf"
    with page.expect_file_chooser() as chooser:
        page.locator("#evidence-file").click()
    assert chooser.value.is_multiple()
    chooser.value.set_files(str(photo))
    page.get_by_role("button", name="上传", exact=True).click()
    page.wait_for_url("**/tasks/*#evidence")
    assert "已上传“签到表.jpg”" in page.locator(".flash").inner_text()
    thumb = page.locator("ul.evidence img").first
    thumb.wait_for()
    # The thumbnail is fetched after the page: wait for it to load (under load it may take a moment).
    page.wait_for_function("(img) => img.complete && img.naturalWidth > 0", arg=thumb.element_handle(),
                           timeout=15000)
    shot(page, "evidence-task-phone")

    page.fill("#f-held_on", "2026-03-02")
    for name, value in (("attended", "7"), ("approve", "6"), ("oppose", "1"), ("abstain", "0"),
                        ("minutes", "两委会议商议修路方案，签到表见附件。")):
        page.fill(f"#f-{name}", value)
    zhang.submit(page)
    assert "/cases/" in page.url
    step = page.locator("ol.timeline li.act-complete", has_text="村两委会议商议")
    assert step.locator("img").count() == 1 and "签到表.jpg" in step.inner_text()
    shot(page, "evidence-case-phone")
    zhang.close()


def test_the_poster_adds_the_notice_photo_from_a_phone(app, live, browser, tmp_path, clock):  # noqa: F811
    """张贴照片 (R44): the village director, back from the board, photographs the posted notice from
    the case page; the township desk shows a notice without one as 缺张贴照片 from the third day."""
    walk = Walk(lambda u: ApiClient(app, u))
    walk.start()
    walk.to_resolution()
    walk.disclose("resolution", "经村民代表会议表决通过：硬化村东道路，预算18万元。")
    other = Walk(lambda u: ApiClient(app, u))
    other.start()
    other.to_resolution()
    other.disclose("resolution", "经村民代表会议表决通过：修建村文化活动室。")
    notice = next(e for e in walk.board() if e["case"] == walk.case["id"] and e["kind"] == "resolution")
    unphotographed = next(e for e in walk.board() if e["case"] == other.case["id"] and e["kind"] == "resolution")
    photo = tmp_path / "公开栏.jpg"
    img = Image.new("RGB", (1200, 900), (235, 225, 200))
    for x in range(100, 1100):
        for y in (150, 151, 750, 751):
            img.putpixel((x, y), (120, 30, 30))
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=90)
    photo.write_bytes(buf.getvalue())

    wang = Person(browser, live, "wang", **PHONE)
    page = wang.go(f"/cases/{walk.case['id']}")
    camera = page.locator(f"#photo-camera-{notice['id']}")
    assert camera.get_attribute("capture") == "environment" and camera.get_attribute("accept") == "image/*"
    assert "需上传：公示张贴照片" in page.locator(f"#entry-{notice['id']}").inner_text()
    with page.expect_file_chooser() as chooser:
        page.locator(f"#photo-file-{notice['id']}").click()
    chooser.value.set_files(str(photo))
    page.get_by_role("button", name="上传张贴照片").click()
    page.wait_for_url(f"**/cases/{walk.case['id']}#entry-{notice['id']}")
    assert "已上传张贴照片“公开栏.jpg”" in page.locator(".flash").inner_text()
    img_el = page.locator("figure.notice-photo img").first
    img_el.wait_for()
    page.wait_for_function("(img) => img.complete && img.naturalWidth > 0", arg=img_el.element_handle(),
                           timeout=15000)
    assert "张贴照片：已上传1张" in page.locator(f"#entry-{notice['id']}").inner_text()
    shot(page, "notice-photo-case-phone")
    wang.close()

    clock.advance(days=3)
    zhou = Person(browser, live, "zhou")
    page = zhou.go("/township")
    section = page.locator("#photos")
    html = section.inner_html()
    assert f"#entry-{unphotographed['id']}" in html and f"#entry-{notice['id']}" not in html
    assert section.inner_text().count("缺张贴照片 · 逾期1天") == 1
    shot(page, "notice-photo-township")
    zhou.close()
