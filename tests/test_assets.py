"""The assets and resources register (资产/资源台账; issue 13, DOMAIN §3.3.4, R40, R41), contracts
made by asset-disposal cases entering the contracts register by themselves, and the receivable
reminders of the contracts register (应收, 应收未收)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import func, select

from engine.store.models import AuditEvent, LedgerAsset, LedgerAssetEvent, LedgerContract
from tests.conftest import ApiClient
from tests.test_items_public import APPROVE, DISPOSAL, TRADE, Item, resolution, set_village, today

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


# ------------------------------------------------------------------------------ asset-disposal contracts (R40)


@pytest.fixture
def api(app):
    clients: dict = {}

    def login(username=None) -> ApiClient:
        if username not in clients:
            clients[username] = ApiClient(app, username)
        return clients[username]

    return login


@pytest.fixture
def item(app, api):
    return lambda process: Item(app, api, process)


def _disposal_to_contract(app, item, api, clock, asset_id: int | None, method: str = "lease"):
    """An asset-disposal case of a building let in the village (村内公开竞价), walked to its contract step."""
    set_village(app, assembly_authorisation="2025年第1次村民会议授权村民代表会议决定集体资产处置事项")
    case = item("asset-disposal")
    plan = {**DISPOSAL, "asset": "村委会旧仓库（ZC-003）", "asset_type": "building", "outsider": False,
            "method": method, "reserve_price": "30000", "resolution_case": resolution(api, matter="asset_disposal")}
    if asset_id is not None:
        plan["asset_no"] = asset_id
    case.start("wang", plan)
    case.do("zhao", "review_plan", APPROVE)
    case.do("wang", "local_trading", {**TRADE, "traded_on": today(clock), "price": "31000", "platform": ""})
    case.disclose("deal", clock)
    assert case.ready() == ["contract"]
    return case


def _contract(clock, **change) -> dict:
    return {"signed_on": today(clock), "counterparty": "某某农业公司", "contract_no": "ZL-2026-07", "price": "31000",
            "term": "5年", "filed_with": "镇三资管理平台", "starts_on": "2026-04-01", "ends_on": "2031-03-31",
            "every_months": 12, "period_amount": "6200", **change}


def _contracts(app) -> list[LedgerContract]:
    with app.extensions["cunwu"].sessions() as session:
        return list(session.scalars(select(LedgerContract).order_by(LedgerContract.id)))


def test_a_disposal_case_walked_to_the_end_creates_exactly_one_contract(app, item, api, clock):
    """R40 (DOMAIN §3.3.4 合同录入三资平台): the contract step writes the register's contract in its
    own transaction, linked to the case and the asset, whose status becomes 出租; the supervisors
    returning the contract correct the same row; the case ends with exactly one contract."""
    engine = app.extensions["cunwu"]
    store = engine.add_asset("sun", "demo-001", {**HALL, "name": "村委会旧仓库", "category": "operating",
                                                 "code": "ZC-003", "status": "idle"})
    case = _disposal_to_contract(app, item, api, clock, store["id"])
    assert _contracts(app) == []
    case.do("wang", "contract", _contract(clock, period_amount="6000"))
    (row,) = _contracts(app)
    assert (row.case_id, row.asset_id, row.kind, row.entity) == (case.case["id"], store["id"], "lease", "committee")
    assert row.amount == Decimal("6000.00") and row.every_months == 12 and row.counterparty == "某某农业公司"
    assert row.subject == "村委会旧仓库（ZC-003）" and row.task_id is not None
    assert engine.asset("sun", "demo-001", store["id"])["status"] == "leased"
    case.do("zhao", "review_contract", {"decision": "return", "opinion": "每期租金应为6200元"})
    case.do("wang", "contract", _contract(clock))
    case.do("zhao", "review_contract", APPROVE)
    assert case.status == "completed"
    (row,) = _contracts(app)
    assert row.amount == Decimal("6200.00"), "the returned contract corrected the same register row"
    detail = engine.asset("sun", "demo-001", store["id"])
    assert detail["status"] == "leased" and detail["contracts"] == [row.id]
    assert [(h["from"], h["to"]) for h in detail["history"]] == [(None, "idle"), ("idle", "leased")]
    assert detail["history"][-1]["case"] == case.case["id"] and "租赁" in detail["history"][-1]["reason"]
    listed = api("sun").get("/villages/demo-001/contracts").get_json()
    assert [(c["case"], c["asset"], c["amount"], c["kind_name"]) for c in listed] == [
        (case.case["id"], store["id"], "6200.00", "租赁")]
    assert listed[0]["receivable"]["next_due"] == "2026-04-01", "the first rent falls due on the start date"
    history = case.refresh()["history"]
    assert [h for h in history if h["action"] == "complete" and "签订合同" in h["summary"]]


@pytest.mark.parametrize("method,status,kind", [("contract", "contracted", "outsourcing"),
                                                ("transfer", "disposed", "transfer")])
def test_the_assets_status_follows_the_disposal_method(app, item, api, clock, method, status, kind):
    engine = app.extensions["cunwu"]
    store = engine.add_asset("sun", "demo-001", {**HALL, "name": "村委会旧仓库", "category": "operating"})
    case = _disposal_to_contract(app, item, api, clock, store["id"], method=method)
    case.refused("wang", "contract", _contract(clock, kind="lease"), "kind")
    terms = {"ends_on": "2026-04-01", "period_amount": "31000"} if method == "transfer" else {}
    case.do("wang", "contract", _contract(clock, **terms))
    (row,) = _contracts(app)
    assert row.kind == kind and engine.asset("sun", "demo-001", store["id"])["status"] == status
    if status == "disposed":  # a sold asset takes no second disposal
        other = item("asset-disposal")
        r = other.start("wang", {**DISPOSAL, "asset_type": "building", "outsider": False, "reserve_price": "30000",
                                 "resolution_case": resolution(api, matter="asset_disposal"), "asset_no": store["id"]},
                        status=422)
        assert "asset_no" in r.get_json()["error"]["fields"] and "已处置" in r.get_json()["error"]["message"]


def test_a_failed_contract_step_creates_no_contract(app, item, api, clock, monkeypatch):
    """A refused step (422) and a step that fails after the contract was written (the transaction
    rolls back) leave no contract and the asset as it was."""
    engine = app.extensions["cunwu"]
    store = engine.add_asset("sun", "demo-001", {**HALL, "name": "村委会旧仓库", "category": "operating",
                                                 "status": "idle"})
    case = _disposal_to_contract(app, item, api, clock, store["id"])
    for change, field in (({"period_amount": "31000.01"}, "period_amount"), ({"ends_on": "2026-03-01"}, "ends_on"),
                          ({"counterparty": "别人"}, "counterparty"), ({"entity": "cooperative"}, "entity"),
                          ({"asset_no": 99999}, "asset_no"), ({"every_months": 0}, "every_months"),
                          ({"period_amount": "约6000"}, "period_amount")):
        case.refused("wang", "contract", _contract(clock, **change), field)
    assert _contracts(app) == []

    import engine.services as services

    def broken(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(services.Engine, "sync", broken)
    task = case.task("contract")
    client = api("wang")
    client.client.application.config["PROPAGATE_EXCEPTIONS"] = False
    r = client.post(f"/tasks/{task['id']}/complete", json={"data": _contract(clock)})
    assert r.status_code == 500
    monkeypatch.undo()
    assert _contracts(app) == [] and engine.asset("sun", "demo-001", store["id"])["status"] == "idle"
    assert case.ready() == ["contract"]
    case.do("wang", "contract", _contract(clock))
    assert len(_contracts(app)) == 1


def test_a_disposal_without_a_registered_asset_still_enters_the_register(app, item, api, clock):
    case = _disposal_to_contract(app, item, api, clock, None)
    case.refused("wang", "contract", _contract(clock), "entity")
    case.do("wang", "contract", _contract(clock, entity="cooperative"))
    (row,) = _contracts(app)
    assert row.asset_id is None and row.entity == "cooperative" and row.case_id == case.case["id"]


# ------------------------------------------------------------------------------ receivable reminders (应收, 应收未收)

from engine.store.models import Notification, ReceivableNotice, User  # noqa: E402

LEASE = {"entity": "cooperative", "kind": "lease", "subject": "村委会旧仓库", "counterparty": "李四",
         "starts_on": "2026-03-10", "ends_on": "2027-03-09", "amount": "1500.00", "every_months": 3}


def _notices(app, kind: str = "receivable") -> dict[str, list[Notification]]:
    with app.extensions["cunwu"].sessions() as session:
        rows = session.execute(select(User.username, Notification).join(User, User.id == Notification.user_id)
                               .where(Notification.kind == kind).order_by(Notification.id))
        out: dict[str, list[Notification]] = {}
        for username, notice in rows:
            out.setdefault(username, []).append(notice)
        return out


def test_a_due_amount_is_told_once_then_once_more_when_overdue_and_a_receipt_clears_it(app, clock):
    """The timers tell the village's 报账员 and the township agency when a period's amount falls
    due, and once more when it is still unpaid after the grace days (default 30), once per due
    date; a receipt against the contract collects it: nothing more is told of that date, and its
    reminders are read."""
    engine = app.extensions["cunwu"]
    sun = ApiClient(app, "sun")
    contract = sun.post("/villages/demo-001/contracts", json=LEASE).get_json()
    engine.run_timers()
    assert _notices(app) == {}, "not due before 2026-03-10"
    clock.advance(days=8)  # 2026-03-10 16:00 Beijing: the first rent falls due
    engine.run_timers()
    engine.run_timers()
    told = _notices(app)
    assert set(told) == {"sun", "he"}, "the village's 报账员 and the township agency, nobody else"
    (notice,) = told["sun"]
    assert "合同" in notice.title and "第1期（2026-03-10）" in notice.title and "1500.00元已到期" in notice.title
    assert notice.path == f"/contracts?village=demo-001#contract-{contract['id']}"
    assert [n["kind"] for n in sun.get("/notifications").get_json()] == ["receivable"]
    clock.advance(days=29)
    engine.run_timers()
    assert len(_notices(app)["sun"]) == 1, "29 days: not yet overdue"
    clock.advance(days=1)
    engine.run_timers()
    engine.run_timers()
    late = _notices(app)["he"]
    assert len(late) == 2 and "逾期未收" in late[1].title and "应收未收合计1500.00元" in late[1].title
    r = sun.post("/villages/demo-001/ledger/receipts", json={
        "received_on": ledger_today(clock), "entity": "cooperative", "amount": "1000.00", "account": "经营收入",
        "summary": "旧仓库租金（部分）", "counterparty": "李四", "contract": contract["id"]})
    assert r.status_code == 201
    assert all(n.read_at is None for n in _notices(app)["sun"]), "part paid: still due"
    sun.post("/villages/demo-001/ledger/receipts", json={
        "received_on": ledger_today(clock), "entity": "cooperative", "amount": "500.00", "account": "经营收入",
        "summary": "旧仓库租金（余款）", "counterparty": "李四", "contract": contract["id"]})
    assert all(n.read_at is not None for ns in _notices(app).values() for n in ns), "paid: the reminders are read"
    assert sun.get("/villages/demo-001/contracts").get_json()[0]["receivable"]["outstanding"] == "0.00"
    # The second period (2026-06-10) is paid within the grace days: told when due, never as overdue.
    clock.value = clock.value.replace(month=6, day=10)
    engine.run_timers()
    assert len(_notices(app)["sun"]) == 3 and "第2期（2026-06-10）" in _notices(app)["sun"][-1].title
    sun.post("/villages/demo-001/ledger/receipts", json={
        "received_on": ledger_today(clock), "entity": "cooperative", "amount": "1500.00", "account": "经营收入",
        "summary": "旧仓库租金", "counterparty": "李四", "contract": contract["id"]})
    clock.advance(days=40)
    engine.run_timers()
    assert len(_notices(app)["sun"]) == 3, "paid before it was overdue: no overdue notice"
    with engine.sessions() as session:
        claims = sorted((c.due_on.isoformat(), c.stage) for c in session.scalars(select(ReceivableNotice)))
    assert claims == [("2026-03-10", "due"), ("2026-03-10", "overdue"), ("2026-06-10", "due")]


def ledger_today(clock) -> str:
    from engine.records.ledger_chart import local_today

    return local_today(clock()).isoformat()


def test_the_grace_days_are_a_village_setting(app, clock):
    from engine.catalogue.village_settings import (
        check_item_setting as check_setting,  # the one door for village settings
    )

    assert check_setting("ledger.receivable_grace_days", 10) == []
    assert check_setting("ledger.receivable_grace_days", 400) and check_setting("ledger.receivable_grace_days", "10")
    set_village(app, **{"ledger.receivable_grace_days": 0})
    engine = app.extensions["cunwu"]
    engine.add_contract("sun", "demo-001", {**LEASE, "starts_on": "2026-03-01"})
    engine.run_timers()
    titles = [n.title for n in _notices(app)["sun"]]
    assert len(titles) == 2 and "已到期" in titles[0] and "逾期未收" in titles[1], "0 days: overdue at once"


def test_a_backlog_of_due_dates_is_told_in_one_notice_per_stage(app, clock):
    """A contract registered late (monthly rent since 2025-11-01): every unpaid date is claimed, in
    one notice per stage, not one message per month."""
    engine = app.extensions["cunwu"]
    engine.add_contract("he", "demo-001", {**LEASE, "starts_on": "2025-11-01", "ends_on": "2026-10-31",
                                           "every_months": 1, "amount": "100.00"})
    engine.run_timers()
    titles = [n.title for n in _notices(app)["he"]]
    assert len(titles) == 2, titles
    assert "第1至5期（2025-11-01起）应收500.00元已到期" in titles[0]
    assert "第1至3期（2025-11-01起）应收300.00元逾期未收" in titles[1], "February's and March's are not yet 30 days late"


def test_two_workers_tell_each_due_date_once(pg_app, clock):
    import threading

    engine = pg_app.extensions["cunwu"]
    for n in range(6):
        engine.add_contract("he", "demo-001" if n % 2 else "demo-002",
                            {**LEASE, "subject": f"仓库{n}", "starts_on": "2026-01-01", "every_months": 1})
    clock.advance(days=40)  # 2026-04-11: four monthly dates due each, three of them overdue
    barrier = threading.Barrier(2)
    errors: list = []

    def work():
        barrier.wait()
        try:
            for _ in range(3):
                engine.run_timers()
        except Exception as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors
    told = _notices(pg_app)
    assert len(told["he"]) == 12, "six contracts, a due and an overdue notice each, told once"
    assert len(told["sun"]) == 6, "the demo-001 报账员: its three contracts"
    with engine.sessions() as session:
        assert session.scalar(select(func.count(ReceivableNotice.id))) == 6 * (4 + 3)


def test_doctor_finds_a_silent_status_edit_and_a_lost_disposal_contract(app, item, api, clock):
    from sqlalchemy import text

    from engine.services.doctor import check

    engine = app.extensions["cunwu"]
    store = engine.add_asset("sun", "demo-001", {**HALL, "name": "村委会旧仓库", "category": "operating"})
    case = _disposal_to_contract(app, item, api, clock, store["id"])
    case.do("wang", "contract", _contract(clock))
    assert check(engine).ok, check(engine).problems
    db = app.extensions["cunwu_db"]
    with db.begin() as conn:
        conn.execute(text("update ledger_asset set status = 'idle' where id = :i"), {"i": store["id"]})
    assert any("状态被直接改动" in p for p in check(engine).problems)
    with db.begin() as conn:
        conn.execute(text("update ledger_asset set status = 'leased' where id = :i"), {"i": store["id"]})
        conn.execute(text("update ledger_contract set amount = amount + 1"))
    assert any("不一致" in p and f"事项{case.case['id']}" in p for p in check(engine).problems)
    with db.begin() as conn:
        conn.execute(text("delete from ledger_asset_event where contract_id is not null"))
        conn.execute(text("delete from ledger_contract"))
    problems = check(engine).problems
    assert any("现有0份" in p for p in problems), problems


def test_a_returned_contract_that_names_another_asset_gives_the_first_its_status_back(app, item, api, clock):
    engine = app.extensions["cunwu"]
    first = engine.add_asset("sun", "demo-001", {**HALL, "name": "村委会旧仓库", "category": "operating",
                                                 "status": "idle"})
    second = engine.add_asset("sun", "demo-001", {**HALL, "name": "村委会新仓库", "category": "operating",
                                                  "status": "idle"})
    case = _disposal_to_contract(app, item, api, clock, first["id"])
    case.do("wang", "contract", _contract(clock))
    assert engine.asset("sun", "demo-001", first["id"])["status"] == "leased"
    case.do("zhao", "review_contract", {"decision": "return", "opinion": "出租的是新仓库，台账编号填错"})
    case.do("wang", "contract", _contract(clock, asset_no=second["id"]))
    case.do("zhao", "review_contract", APPROVE)
    (row,) = _contracts(app)
    assert row.asset_id == second["id"]
    old, new = engine.asset("sun", "demo-001", first["id"]), engine.asset("sun", "demo-001", second["id"])
    assert old["status"] == "idle" and [h["to"] for h in old["history"]] == ["idle", "leased", "idle"]
    assert "恢复原状态" in old["history"][-1]["reason"] and old["contracts"] == []
    assert new["status"] == "leased" and new["contracts"] == [row.id]
    from engine.services.doctor import check

    assert check(engine).ok, check(engine).problems


def test_two_cases_selling_one_asset_at_once_sell_it_once(pg_app, clock):
    """PostgreSQL, two asset-disposal cases (转让) of the same asset reach their contract steps and
    complete them at the same moment: the asset row is locked, one contract is written and the
    asset is 处置; the other step is refused (422) and writes nothing."""
    import threading

    clients: dict = {}

    def login(username=None):
        if username not in clients:
            clients[username] = ApiClient(pg_app, username)
        return clients[username]

    engine = pg_app.extensions["cunwu"]
    store = engine.add_asset("sun", "demo-001", {**HALL, "name": "村委会旧仓库", "category": "operating"})
    cases = [_disposal_to_contract(pg_app, lambda p: Item(pg_app, login, p), login, clock, store["id"],
                                   method="transfer") for _ in range(2)]
    tasks = [c.task("contract")["id"] for c in cases]
    workers = [ApiClient(pg_app, "wang") for _ in range(2)]
    for w in workers:
        assert w.headers  # log in before the race
    barrier = threading.Barrier(2)
    answers: list[int] = []

    def complete(client, task_id):
        barrier.wait()
        r = client.post(f"/tasks/{task_id}/complete", json={"data": _contract(clock, ends_on="2026-04-01",
                                                                               period_amount="31000")})
        answers.append(r.status_code)

    threads = [threading.Thread(target=complete, args=(w, t)) for w, t in zip(workers, tasks, strict=True)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sorted(answers) == [200, 422], answers
    (row,) = _contracts(pg_app)
    detail = engine.asset("sun", "demo-001", store["id"])
    assert detail["status"] == "disposed" and detail["contracts"] == [row.id]
    assert [h["to"] for h in detail["history"]] == ["in_use", "disposed"]


def test_the_demo_has_a_register_and_a_fee_due(app):
    from web.demo_seed import seed

    engine = app.extensions["cunwu"]
    seed(engine)
    register = engine.assets("sun", "demo-001")
    assert [a["code"] for a in register["assets"]] == ["ZY-012", "FJ-003", "JY-007"]
    assert register["assets"][0]["status"] == "contracted" and register["assets"][0]["contracts"]
    (contract,) = engine.contracts("zhou", "demo-001")
    assert contract["receivable"]["received"] == "3000.00" and contract["receivable"]["outstanding"] == "3000.00"
    assert any("应收3000.00元已到期" in n.title for n in _notices(app).get("sun", []))
    from engine.records import assets, ledger_entries

    with engine.sessions() as session:
        assert assets.doctor(session) == [] and ledger_entries.doctor(session) == []


def test_opening_a_receivable_notice_goes_to_the_contract(app, clock):
    engine = app.extensions["cunwu"]
    contract = engine.add_contract("sun", "demo-001", {**LEASE, "starts_on": "2026-03-01"})
    engine.run_timers()
    web = _web(app, "sun")
    page = web.get("/notifications").get_data(as_text=True)
    assert "应收" in page and "合同应收款" in page
    (notice, *_) = _notices(app)["sun"]
    r = web.post(f"/notifications/{notice.id}/open")
    assert r.status_code in (302, 303)
    assert r.headers["Location"].endswith(f"/contracts?village=demo-001#contract-{contract['id']}")
    assert _web(app, "he").post(f"/notifications/{notice.id}/open").status_code == 404, "not his notice"


def test_a_json_backup_moves_the_register_from_sqlite_to_postgresql_exactly(app, clock, tmp_path):
    """Asset values are Money columns (fen on SQLite, NUMERIC on PostgreSQL): the JSON dump writes
    yuan, so the register restores into the other backend unchanged."""
    from tests.conftest import _drop_pg_schema, _fresh_pg_schema
    from tests.test_backup import _app, _cli

    engine = app.extensions["cunwu"]
    hall = engine.add_asset("sun", "demo-001", {**HALL, "original_value": "0.10", "book_value": "412,500.55"})
    engine.add_asset("sun", "demo-001", POND)
    backup = tmp_path / "cunwu.json"
    _cli(app, "backup", str(backup), "--format", "json")
    url, schema = _fresh_pg_schema()
    target = _app(url, clock)
    try:
        _cli(target, "restore", str(backup), "--yes")
        moved = target.extensions["cunwu"].assets("sun", "demo-001")
        assert moved["totals"] == {"original_value": "0.10", "book_value": "412500.55"}
        assert target.extensions["cunwu"].asset("sun", "demo-001", hall["id"])["history"][0]["reason"] == "登记入台账"
    finally:
        target.extensions["cunwu_db"].dispose()
        _drop_pg_schema(schema)


def test_the_township_overview_links_each_villages_registers(app):
    app.extensions["cunwu"].add_contract("sun", "demo-001", {**LEASE, "starts_on": "2026-03-01"})
    page = _web(app, "zhou").get("/ledger/overview").get_data(as_text=True)
    assert "/assets?village=demo-001" in page and "/contracts?village=demo-002" in page
    assert '<a href="/contracts?village=demo-001"><strong class="bad">1500.00</strong></a>' in page, "应收未收 links the contracts"
    assert _web(app, "zhou").get("/assets?village=demo-002").status_code == 200, "the township reads every village's"
