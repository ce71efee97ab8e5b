"""一事一议筹资 in real Chromium (issue 13): the 报账员 records a collection on a phone; an amount
above the approved total is refused in Chinese and nothing is booked; the right amount is booked
as 一事一议资金 income and shows on the ledger page. Screenshots go to test-artifacts/browser/.

Run: ``.venv/bin/python -m pytest -q -m browser tests/test_browser_yishi.py``.
"""

from __future__ import annotations

import pytest

from tests.conftest import ApiClient
from tests.test_browser import PHONE, Person, browser_type_launch_args, live, shot  # noqa: F401
from tests.test_items_public import Item, today
from tests.test_yishi import _to_collection

pytestmark = pytest.mark.browser


def test_collection_on_a_phone(browser, live, app, clock):  # noqa: F811
    clients: dict = {}

    def login(username=None):
        return clients.setdefault(username, ApiClient(app, username))

    case = _to_collection(lambda process: Item(app, login, process), clock)
    sun = Person(browser, live, "sun", **PHONE)
    page = sun.open_task("收取筹资、组织筹劳并入账")
    page.get_by_label("收款（出工）日期").fill(today(clock))
    page.get_by_label("本次收取筹资（元）").fill("12000.01")
    page.get_by_label("本次缴款人数（人）").fill("800")
    sun.submit(page)
    assert "超过方案批准的筹资总额12,000元" in page.content()
    shot(page, "doc-yishi-collection-refused-phone", full_page=False)
    page.get_by_label("本次收取筹资（元）").fill("1.2万")
    page.get_by_label("本次出工工日（工日）").fill("1500")
    sun.submit(page)
    assert "implement" in case.ready()
    page = sun.go("/ledger?village=demo-001")
    assert page.locator("#total-in").inner_text() == "12000.00" and "一事一议资金" in page.content()
    shot(page, "doc-yishi-ledger-phone", full_page=False)
    sun.close()
