"""The assets and resources register (资产/资源台账; issue 13, DOMAIN §3.3.4, R40, R41), contracts
made by asset-disposal cases entering the contracts register by themselves, and the receivable
reminders of the contracts register (应收, 应收未收)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import func, select

from engine.models import AuditEvent, LedgerAsset, LedgerAssetEvent, LedgerContract
from tests.conftest import ApiClient

POND = {"entity": "cooperative", "category": "resource", "code": "ZY-012", "name": "村东鱼塘", "location": "村东大堤外",
        "quantity": "20", "unit": "亩", "status": "idle"}
HALL = {"entity": "committee", "category": "non_operating", "name": "村文化礼堂", "location": "村委会东侧",
        "quantity": "350.5", "unit": "平方米", "original_value": "48万", "book_value": "412,500.50",
        "acquired_on": "2019-06-01"}


@pytest.fixture(params=["sqlite", "postgresql"])
def reg(request):
    """The same test on SQLite and on PostgreSQL: (app, client by username)."""
    app = request.getfixturevalue("app" if request.param == "sqlite" else "pg_app")
    clients: dict = {}

    def client(username):
        if username not in clients:
            clients[username] = ApiClient(app, username)
        return clients[username]

    return app, client


def _count(app, model) -> int:
    with app.extensions["cunwu"].sessions() as session:
        return session.scalar(select(func.count(model.id)))


def test_register_assets_with_exact_values_and_filter_them(reg):
    """Values as people write them ("48万", "412,500.50") are exact Decimals with two places;
    a resource may have no book value; filters by entity, category, status and text."""
    app, client = reg
    sun = client("sun")
    r = sun.post("/villages/demo-001/assets", json=POND)
    assert r.status_code == 201, r.get_json()
    pond = r.get_json()
    assert {k: pond[k] for k in ("entity", "category", "category_name", "code", "name", "quantity", "unit",
                                 "original_value", "book_value", "status", "status_name")} == {
        "entity": "cooperative", "category": "resource", "category_name": "资源性资产", "code": "ZY-012",
        "name": "村东鱼塘", "quantity": "20", "unit": "亩", "original_value": None, "book_value": None,
        "status": "idle", "status_name": "闲置"}
    assert [h["to"] for h in pond["history"]] == ["idle"] and pond["history"][0]["reason"] == "登记入台账"
    r = client("he").post("/villages/demo-001/assets", json=HALL)  # the township agency too
    assert r.status_code == 201, r.get_json()
    hall = r.get_json()
    assert hall["original_value"] == "480000.00" and hall["book_value"] == "412500.50"
    assert hall["status"] == "in_use" and hall["acquired_on"] == "2019-06-01"
    small = sun.post("/villages/demo-001/assets", json={**HALL, "name": "广播设备", "category": "operating",
                                                          "quantity": "1", "unit": "套", "original_value": "0.10",
                                                          "book_value": "0.20"})
    assert small.status_code == 201, small.get_json()
    listing = sun.get("/villages/demo-001/assets").get_json()
    assert listing["count"] == 3 and [a["name"] for a in listing["assets"]] == ["村东鱼塘", "村文化礼堂", "广播设备"]
    assert listing["totals"] == {"original_value": "480000.10", "book_value": "412500.70"}, "exact sums"
    assert [a["name"] for a in sun.get("/villages/demo-001/assets?entity=cooperative").get_json()["assets"]] == ["村东鱼塘"]
    assert sun.get("/villages/demo-001/assets?category=non_operating").get_json()["count"] == 1
    assert sun.get("/villages/demo-001/assets?status=in_use").get_json()["count"] == 2
    assert [a["name"] for a in sun.get("/villages/demo-001/assets?q=礼堂").get_json()["assets"]] == ["村文化礼堂"]
    assert sun.get("/villages/demo-001/assets?q=ZY-012").get_json()["count"] == 1
    bad = sun.get("/villages/demo-001/assets?category=land")
    assert bad.status_code == 422 and "category" in bad.get_json()["error"]["fields"]
    # another village's register is its own; a neighbour's reader sees nothing of it
    assert client("chen").get("/villages/demo-002/assets").get_json()["count"] == 0
    assert client("chen").get("/villages/demo-001/assets").status_code == 403
    with app.extensions["cunwu"].sessions() as session:
        value = session.scalar(select(LedgerAsset.book_value).where(LedgerAsset.name == "村文化礼堂"))
    assert value == Decimal("412500.50") and isinstance(value, Decimal)


def test_bad_assets_answer_422_naming_every_field_and_write_nothing(reg):
    app, client = reg
    sun = client("sun")
    r = sun.post("/villages/demo-001/assets", json={"entity": "village", "category": "land", "name": "",
                                                     "quantity": "-3", "unit": "", "original_value": "约5万",
                                                     "book_value": 1.5, "acquired_on": "2099-01-01",
                                                     "status": "disposed"})
    assert r.status_code == 422
    error = r.get_json()["error"]
    assert set(error["fields"]) == {"entity", "category", "name", "quantity", "unit", "original_value",
                                    "book_value", "acquired_on", "status"}
    assert "核算主体" in error["message"] and "entity" not in error["message"]
    for change, field in (({"quantity": "1.23456"}, "quantity"), ({"quantity": 0}, "quantity"),
                          ({"original_value": "1.005"}, "original_value"), ({"original_value": None}, "original_value"),
                          ({"book_value": "-1"}, "book_value"), ({"acquired_on": "2026-02-30"}, "acquired_on"),
                          ({"name": "长" * 201}, "name"), ({"entity": None}, "entity")):
        r = sun.post("/villages/demo-001/assets", json={**HALL, **change})
        assert r.status_code == 422 and field in r.get_json()["error"]["fields"], (change, r.get_json())
    assert sun.post("/villages/demo-001/assets", json=[1, 2]).status_code == 400, "a body that is not an object"
    assert _count(app, LedgerAsset) == 0 and _count(app, LedgerAssetEvent) == 0
    assert sun.post("/villages/demo-001/assets", json=POND).status_code == 201
    again = sun.post("/villages/demo-001/assets", json={**POND, "name": "另一鱼塘"})
    assert again.status_code == 422 and "code" in again.get_json()["error"]["fields"], "登记编号 unique in the village"
    assert client("zhang").post("/villages/demo-001/assets", json=POND).status_code == 403, "not a bookkeeper"
    assert _count(app, LedgerAsset) == 1


def test_a_status_change_is_history_never_a_silent_edit(reg):
    """在用 → 出租 → 闲置 → 处置, each with its reason; after 处置 no more changes; the original
    record stays as registered; every change is in the audit trail."""
    app, client = reg
    sun = client("sun")
    hall = sun.post("/villages/demo-001/assets", json=HALL).get_json()
    path = f"/villages/demo-001/assets/{hall['id']}/status"
    r = sun.post(path, json={"status": "leased"})
    assert r.status_code == 422 and "reason" in r.get_json()["error"]["fields"]
    r = sun.post(path, json={"status": "sold", "reason": "x"})
    assert r.status_code == 422 and "status" in r.get_json()["error"]["fields"]
    r = sun.post(path, json={"status": "in_use", "reason": "仍在用"})
    assert r.status_code == 422 and "已是在用" in r.get_json()["error"]["message"]
    for status, reason in (("leased", "出租给村民开办农家书屋"), ("idle", "租期届满收回"), ("disposed", "危房拆除，经村民会议决定")):
        r = sun.post(path, json={"status": status, "reason": reason})
        assert r.status_code == 201, r.get_json()
    detail = sun.get(f"/villages/demo-001/assets/{hall['id']}").get_json()
    assert detail["status"] == "disposed" and detail["status_name"] == "处置"
    assert [(h["from"], h["to"]) for h in detail["history"]] == [
        (None, "in_use"), ("in_use", "leased"), ("leased", "idle"), ("idle", "disposed")]
    assert detail["history"][-1]["reason"] == "危房拆除，经村民会议决定" and detail["history"][-1]["by"] == "孙会计"
    assert detail["book_value"] == "412500.50", "the registered values are never edited by a status change"
    r = sun.post(path, json={"status": "in_use", "reason": "重新启用"})
    assert r.status_code == 409 and "已处置" in r.get_json()["error"]["message"]
    assert client("zhao").post(path, json={"status": "idle", "reason": "x"}).status_code == 403
    assert client("zhao").get(f"/villages/demo-001/assets/{hall['id']}").status_code == 200, "supervisors read"
    assert sun.get("/villages/demo-001/assets/99999").status_code == 404
    assert sun.post("/villages/demo-001/assets/99999/status", json={"status": "idle", "reason": "x"}).status_code == 404
    assert client("chen").get(f"/villages/demo-002/assets/{hall['id']}").status_code == 404, "not in demo-002"
    with app.extensions["cunwu"].sessions() as session:
        actions = list(session.scalars(select(AuditEvent.action).where(AuditEvent.action.like("ledger_asset%"))))
    assert actions.count("ledger_asset") == 1 and actions.count("ledger_asset_status") == 3


def test_a_contract_registered_for_an_asset_links_it_and_moves_its_status(reg):
    app, client = reg
    sun = client("sun")
    pond = sun.post("/villages/demo-001/assets", json=POND).get_json()
    contract = {"entity": "cooperative", "kind": "contracting", "subject": "村东鱼塘20亩", "counterparty": "张三",
                "starts_on": "2026-01-01", "ends_on": "2030-12-31", "amount": "6000.00", "every_months": 12,
                "asset": pond["id"]}
    r = sun.post("/villages/demo-001/contracts", json={**contract, "entity": "committee"})
    assert r.status_code == 422 and "entity" in r.get_json()["error"]["fields"], "the asset's own entity"
    r = sun.post("/villages/demo-001/contracts", json={**contract, "asset": 99999})
    assert r.status_code == 422 and "asset" in r.get_json()["error"]["fields"]
    assert _count(app, LedgerContract) == 0
    r = sun.post("/villages/demo-001/contracts", json=contract)
    assert r.status_code == 201, r.get_json()
    assert r.get_json()["asset"] == pond["id"]
    detail = sun.get(f"/villages/demo-001/assets/{pond['id']}").get_json()
    assert detail["status"] == "contracted" and detail["contracts"] == [r.get_json()["id"]]
    assert detail["history"][-1]["contract"] == r.get_json()["id"] and "承包" in detail["history"][-1]["reason"]
    assert detail["contract_rows"][0]["receivable"]["outstanding"] == "6000.00"
    listing = sun.get("/villages/demo-001/assets").get_json()
    assert listing["assets"][0]["contracts"] == [r.get_json()["id"]]


# ------------------------------------------------------------------------------ the pages and the exports


def _web(app, username):
    client = app.test_client()
    r = client.post("/login", data={"username": username, "password": "demo123"})
    assert r.status_code in (302, 303)
    return client


def test_the_register_page_registers_and_changes_status_with_chinese_errors(app):
    sun = _web(app, "sun")
    page = sun.get("/assets?village=demo-001").get_data(as_text=True)
    assert "资产资源台账" in page and "登记资产资源" in page and "没有符合条件的资产资源" in page
    r = sun.post("/assets", data={"village": "demo-001", "entity": "committee", "category": "operating",
                                  "name": "村集体厂房", "quantity": "600", "unit": "平方米", "original_value": "约30万"})
    assert r.status_code == 422
    text = r.get_data(as_text=True)
    assert "原值写法不对" in text and "账面价值" in text and "original_value" not in text.split("<form")[0]
    r = sun.post("/assets", data={"village": "demo-001", "entity": "committee", "category": "operating",
                                  "name": "村集体厂房", "quantity": "600", "unit": "平方米", "original_value": "30万",
                                  "book_value": "254,000.5", "location": "工业园路8号"})
    assert r.status_code in (302, 303)
    page = sun.get("/assets?village=demo-001").get_data(as_text=True)
    assert "村集体厂房" in page and "300,000.00" in page and "254,000.50" in page and "在用" in page
    asset_id = app.extensions["cunwu"].assets("sun", "demo-001")["assets"][0]["id"]
    r = sun.post(f"/assets/{asset_id}", data={"village": "demo-001", "status": "idle", "reason": ""})
    assert r.status_code == 422 and "请填写变更原因" in r.get_data(as_text=True)
    r = sun.post(f"/assets/{asset_id}", data={"village": "demo-001", "status": "idle", "reason": "企业搬迁，厂房空置"})
    assert r.status_code in (302, 303)
    detail = sun.get(f"/assets/{asset_id}?village=demo-001").get_data(as_text=True)
    assert "企业搬迁，厂房空置" in detail and "闲置" in detail and "登记入台账" in detail
    # filters on the page; a reader without the bookkeeper's role gets no forms
    assert "村集体厂房" not in sun.get("/assets?village=demo-001&status=in_use").get_data(as_text=True)
    zhao = _web(app, "zhao").get(f"/assets/{asset_id}?village=demo-001").get_data(as_text=True)
    assert "村集体厂房" in zhao and "变更状态" not in zhao
    assert "登记资产资源" not in _web(app, "zhao").get("/assets?village=demo-001").get_data(as_text=True)
    assert _web(app, "chen").get("/assets?village=demo-001").status_code == 403
    assert "合同台账" in sun.get("/ledger?village=demo-001").get_data(as_text=True)


def test_exports_keep_money_exact_and_formulas_as_text(app):
    import csv
    import io

    from openpyxl import load_workbook

    engine = app.extensions["cunwu"]
    engine.add_asset("sun", "demo-001", {**HALL, "name": "=HYPERLINK(\"x\")", "original_value": "0.10",
                                         "book_value": "0.20"})
    engine.add_asset("sun", "demo-001", {**HALL, "original_value": "0.20", "book_value": "0.10"})
    engine.add_asset("sun", "demo-001", POND)
    sun = _web(app, "sun")
    r = sun.get("/assets/export.xlsx?village=demo-001&category=non_operating")
    assert r.status_code == 200 and r.mimetype.endswith("spreadsheetml.sheet")
    assert "filename*=UTF-8''" in r.headers["Content-Disposition"]
    ws = load_workbook(io.BytesIO(r.data)).active
    rows = list(ws.iter_rows(min_row=3, values_only=True))
    assert len(rows) == 3, "two halls and the total; the pond is filtered out"
    assert rows[0][4] == '=HYPERLINK("x")' and ws.cell(row=3, column=5).data_type == "s", "text, not a formula"
    assert rows[-1][4] == "合计" and str(rows[-1][8]) in ("0.3", "0.30") and str(rows[-1][9]) in ("0.3", "0.30")
    assert ws.cell(row=3, column=9).number_format == "#,##0.00"
    r = sun.get("/assets/export.csv?village=demo-001")
    assert r.status_code == 200 and r.data.startswith("\ufeff".encode())
    table = list(csv.reader(io.StringIO(r.data.decode("utf-8-sig"))))
    assert table[0][:5] == ["编号", "登记编号", "核算主体", "资产类别", "名称"]
    assert table[1][4] == "'=HYPERLINK(\"x\")" and table[1][8] == "0.10"
    assert table[3][4] == "村东鱼塘" and table[3][8] == "" and table[-1][8] == "0.30"
    assert _web(app, "chen").get("/assets/export.csv?village=demo-001").status_code == 403


def test_the_contracts_page_shows_what_is_due_and_unpaid(app):
    engine = app.extensions["cunwu"]
    engine.add_contract("sun", "demo-001", {"entity": "cooperative", "kind": "lease", "subject": "村委会旧仓库",
                                            "counterparty": "李四", "starts_on": "2026-01-01", "ends_on": "2027-12-31",
                                            "amount": "3000.50", "every_months": 12})
    page = _web(app, "zhao").get("/contracts?village=demo-001").get_data(as_text=True)
    assert "村委会旧仓库" in page and "应收未收" in page and "3,000.50" in page
