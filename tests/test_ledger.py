"""The village ledger (issue 13; CONTRACT "The ledger"; DOMAIN §4, R34, R37, R41, R62).

Receipts through the JSON API with the contract's strict money rule, exact sums, who may read
and write, payments of power-list items booked in the step's own transaction, corrections as
reversing entries, and parallel payments on PostgreSQL booked once."""

from __future__ import annotations

import threading
from collections import Counter
from decimal import Decimal

import pytest
from sqlalchemy import func, select, text

from engine.ledger import parse_amount
from engine.models import LedgerEntry
from tests.conftest import ApiClient
from tests.test_items_public import APPROVE, CLAIM, PAY, Item, _cosign

RECEIPT = {"received_on": "2026-03-01", "entity": "cooperative", "amount": "1234.56", "account": "经营收入",
           "summary": "村东鱼塘2026年承包费", "counterparty": "张三"}


@pytest.fixture(params=["sqlite", "postgresql"])
def books(request):
    """The same test on SQLite and on PostgreSQL: (app, clients by username)."""
    app = request.getfixturevalue("app" if request.param == "sqlite" else "pg_app")
    clients: dict = {}

    def client(username):
        if username not in clients:
            clients[username] = ApiClient(app, username)
        return clients[username]

    return app, client


def _count(app) -> int:
    with app.extensions["cunwu"].sessions() as session:
        return session.scalar(select(func.count(LedgerEntry.id)))


def _ledger(client, query: str = "") -> dict:
    r = client.get(f"/villages/demo-001/ledger{query}")
    assert r.status_code == 200, r.get_json()
    return r.get_json()


# ------------------------------------------------------------------------------ receipts


def test_a_receipt_is_an_entry_with_money_as_a_two_place_string(books):
    app, client = books
    r = client("sun").post("/villages/demo-001/ledger/receipts", json=RECEIPT)
    assert r.status_code == 201, r.get_json()
    entry = r.get_json()
    assert {k: entry[k] for k in ("date", "entity", "direction", "amount", "account", "summary", "counterparty",
                                  "case")} == {
        "date": "2026-03-01", "entity": "cooperative", "direction": "in", "amount": "1234.56",
        "account": "经营收入", "summary": "村东鱼塘2026年承包费", "counterparty": "张三", "case": None}
    books_now = _ledger(client("sun"))
    assert books_now["entries"] == [{**books_now["entries"][0], **{k: entry[k] for k in entry}}]
    assert books_now["totals"] == {"in": "1234.56", "out": "0.00"}
    assert isinstance(books_now["totals"]["in"], str)


def test_sums_are_exact_decimals(books):
    """0.10 + 0.20 is 0.30, not 0.30000000000000004 (money is NUMERIC / fen, never a float)."""
    app, client = books
    for amount in ("0.10", "0.20", "0.01", "999999999.99"):
        r = client("sun").post("/villages/demo-001/ledger/receipts", json={**RECEIPT, "amount": amount})
        assert r.status_code == 201, r.get_json()
        assert r.get_json()["amount"] == amount
    assert _ledger(client("sun"))["totals"] == {"in": "1000000000.30", "out": "0.00"}
    with app.extensions["cunwu"].sessions() as session:
        total = session.scalar(select(func.sum(LedgerEntry.amount)))
    assert total == Decimal("1000000000.30") and isinstance(total, Decimal)


@pytest.mark.parametrize("amount", ["0", "0.00", "-1", "-0.01", "1.005", "abc", "", " 12", "1,000", "25万", "1e3",
                                    "NaN", "Infinity", 1.5, 0.1, 0, -5, True, None, [], {}, "1000000000000.00"])
def test_bad_amounts_answer_422_and_change_nothing(app, amount):
    client = ApiClient(app, "sun")
    before = _count(app)
    r = client.post("/villages/demo-001/ledger/receipts", json={**RECEIPT, "amount": amount})
    assert r.status_code == 422, (amount, r.get_json())
    error = r.get_json()["error"]
    assert set(error) == {"code", "message", "fields"} and "amount" in error["fields"], error
    assert "金额" in error["message"] and "amount" not in error["message"]
    assert _count(app) == before


def test_bad_amounts_on_postgresql_too(pg_app):
    client = ApiClient(pg_app, "sun")
    for amount in ("0", "-1", "1.005", "abc", 1.5):
        r = client.post("/villages/demo-001/ledger/receipts", json={**RECEIPT, "amount": amount})
        assert r.status_code == 422 and "amount" in r.get_json()["error"]["fields"], (amount, r.get_json())
    assert _count(pg_app) == 0


@pytest.mark.parametrize("amount, stored", [("0.01", "0.01"), ("1", "1.00"), ("1.5", "1.50"), (7, "7.00"),
                                            ("999999999999.99", "999999999999.99")])
def test_good_amounts(amount, stored):
    assert f"{parse_amount(amount):.2f}" == stored


@pytest.mark.parametrize("entity", ["", "village", "Committee", None, 1, ["committee"]])
def test_bad_entity_answers_422(app, entity):
    """R41: every transaction names one of the two entities."""
    client = ApiClient(app, "sun")
    body = {**RECEIPT, "entity": entity}
    r = client.post("/villages/demo-001/ledger/receipts", json=body)
    assert r.status_code == 422 and "entity" in r.get_json()["error"]["fields"], r.get_json()
    assert _count(app) == 0


def test_every_bad_field_at_once_in_chinese(app, clock):
    client = ApiClient(app, "sun")
    r = client.post("/villages/demo-001/ledger/receipts", json={
        "received_on": "2026-13-01", "entity": "x", "amount": "-3", "account": "", "summary": "  "})
    assert r.status_code == 422
    error = r.get_json()["error"]
    assert set(error["fields"]) == {"received_on", "entity", "amount", "account", "summary"}
    assert "核算主体" in error["message"] and "金额" in error["message"]
    r = client.post("/villages/demo-001/ledger/receipts", json={**RECEIPT, "received_on": "2026-03-03"})
    assert r.status_code == 422 and "received_on" in r.get_json()["error"]["fields"], "not after today"
    r = client.post("/villages/demo-001/ledger/receipts", json={**RECEIPT, "account": "管理费用"})
    assert r.status_code == 422 and "account" in r.get_json()["error"]["fields"], "a spending account"
    assert _count(app) == 0


def test_a_countys_own_chart_of_accounts(app):
    from tests.test_items_public import set_village

    set_village(app, **{"ledger.accounts": ["经营收入", "补助收入"]})
    client = ApiClient(app, "sun")
    r = client.post("/villages/demo-001/ledger/receipts", json={**RECEIPT, "account": "其他收入"})
    assert r.status_code == 422 and "account" in r.get_json()["error"]["fields"]
    r = client.post("/villages/demo-001/ledger/receipts", json={**RECEIPT, "account": "经营收入/租赁收入"})
    assert r.status_code == 201, r.get_json()


def test_who_may_read_and_write_the_books(app):
    """Write: the village's 报账员 and the township agency (村财乡管). Read: the village's roles,
    township roles and the county inspector (CONTRACT); nobody of another village."""
    for who in ("sun", "he"):
        r = ApiClient(app, who).post("/villages/demo-001/ledger/receipts", json=RECEIPT)
        assert r.status_code == 201, (who, r.get_json())
    r = ApiClient(app, "he").post("/villages/demo-002/ledger/receipts", json=RECEIPT)
    assert r.status_code == 201, "the agency keeps the books of every village of its township"
    for who in ("zhang", "wang", "zhao", "zhou", "wu", "xu", "chen"):
        r = ApiClient(app, who).post("/villages/demo-001/ledger/receipts", json=RECEIPT)
        assert r.status_code == 403, (who, r.status_code)
    for who in ("zhang", "wang", "li", "zhao", "sun", "zhou", "wu", "he", "xu"):
        data = _ledger(ApiClient(app, who))
        assert len(data["entries"]) == 2 and data["totals"]["in"] == "2469.12", who
    assert ApiClient(app, "chen").get("/villages/demo-001/ledger").status_code == 403
    assert ApiClient(app, None).get("/villages/demo-001/ledger").status_code == 401
    assert ApiClient(app, None).post("/villages/demo-001/ledger/receipts", json=RECEIPT).status_code == 401
    assert ApiClient(app, "sun").get("/villages/nowhere/ledger").status_code == 404
    assert _count(app) == 3


def test_filters_by_entity_and_dates(app, clock):
    client = ApiClient(app, "sun")
    for day, entity, amount in (("2026-01-05", "committee", "100.00"), ("2026-02-10", "cooperative", "200.00"),
                                ("2026-03-01", "committee", "300.00")):
        r = client.post("/villages/demo-001/ledger/receipts",
                        json={**RECEIPT, "received_on": day, "entity": entity, "amount": amount})
        assert r.status_code == 201
    assert _ledger(client, "?entity=committee")["totals"] == {"in": "400.00", "out": "0.00"}
    assert _ledger(client, "?entity=cooperative")["totals"]["in"] == "200.00"
    got = _ledger(client, "?from=2026-01-06&to=2026-03-01")
    assert [e["date"] for e in got["entries"]] == ["2026-02-10", "2026-03-01"] and got["totals"]["in"] == "500.00"
    assert _ledger(client, "?to=2026-01-05")["totals"]["in"] == "100.00"
    for query, field in (("?entity=village", "entity"), ("?from=2026-02-30", "from"), ("?to=yesterday", "to"),
                         ("?from=2026-03-01&to=2026-01-01", "to"), ("?limit=-1", "limit")):
        r = client.get(f"/villages/demo-001/ledger{query}")
        assert r.status_code == 422 and field in r.get_json()["error"]["fields"], query


def test_a_correction_is_a_reversing_entry_never_an_edit(app):
    """R62: the wrong receipt stays; a red entry (负数) cancels it; the right one is entered anew."""
    client = ApiClient(app, "sun")
    wrong = client.post("/villages/demo-001/ledger/receipts", json={**RECEIPT, "amount": "1000.00"}).get_json()
    r = client.post(f"/villages/demo-001/ledger/entries/{wrong['id']}/reversal", json={"reason": ""})
    assert r.status_code == 422 and "reason" in r.get_json()["error"]["fields"]
    r = ApiClient(app, "zhang").post(f"/villages/demo-001/ledger/entries/{wrong['id']}/reversal",
                                     json={"reason": "金额错"})
    assert r.status_code == 403
    r = client.post(f"/villages/demo-001/ledger/entries/{wrong['id']}/reversal", json={"reason": "金额录错，应为100元"})
    assert r.status_code == 201, r.get_json()
    red = r.get_json()
    assert red["amount"] == "-1000.00" and red["direction"] == "in" and red["reverses"] == wrong["id"]
    assert client.post(f"/villages/demo-001/ledger/entries/{wrong['id']}/reversal",
                       json={"reason": "再冲一次"}).status_code == 409
    assert client.post(f"/villages/demo-001/ledger/entries/{red['id']}/reversal",
                       json={"reason": "冲销冲销"}).status_code == 409
    client.post("/villages/demo-001/ledger/receipts", json={**RECEIPT, "amount": "100.00"})
    books_now = _ledger(client)
    assert books_now["totals"]["in"] == "100.00"
    first = next(e for e in books_now["entries"] if e["id"] == wrong["id"])
    assert first["amount"] == "1000.00" and first["reversed_by"] == red["id"], "the original is kept as it was"
    assert client.post("/villages/demo-001/ledger/entries/999999/reversal", json={"reason": "x"}).status_code == 404


# ------------------------------------------------------------------------------ payments of power-list items


def _to_payment(app, client) -> Item:
    case = Item(app, client, "spending-approval")
    case.start("sun", CLAIM)
    case.do("zhao", "review_claim", APPROVE)
    _cosign(case)
    assert case.ready() == ["payment"]
    return case


def test_a_payment_step_writes_its_out_entry_linked_to_the_case(books):
    """CONTRACT: every payment a power-list case makes writes its out entry, linked to the case."""
    app, client = books
    case = _to_payment(app, client)
    case.refused("sun", "payment", {**PAY, "amount": "801"}, "amount")  # above the claim: refused, nothing booked
    assert _count(app) == 0
    case.do("sun", "payment", {**PAY, "amount": "800", "entity": "committee"})
    assert case.status == "completed"
    books_now = _ledger(client("zhao"))
    assert books_now["totals"] == {"in": "0.00", "out": "800.00"}
    (entry,) = books_now["entries"]
    assert entry["direction"] == "out" and entry["case"] == case.case["id"] and entry["amount"] == "800.00"
    assert entry["entity"] == "committee" and entry["counterparty"] == PAY["payee"]
    assert entry["date"] == PAY["paid_on"] and entry["account"] == "管理费用"
    done = next(h for h in case.refresh()["history"] if h["action"] == "complete" and h["summary"].startswith("办理支付"))
    assert done["actor"] == "孙会计"


def test_a_payment_that_fails_books_nothing(app, monkeypatch):
    """Same transaction: when anything after the booking fails, the entry goes with it."""
    from engine.service import Engine

    client = lambda u: ApiClient(app, u)  # noqa: E731
    case = _to_payment(app, client)
    engine = app.extensions["cunwu"]
    task = case.task("payment")

    def broken(*a, **kw):
        raise RuntimeError("disk full")

    monkeypatch.setattr(Engine, "_sync", broken)
    with pytest.raises(RuntimeError):
        engine.complete_task("sun", task["id"], {**PAY, "amount": "800"})
    monkeypatch.undo()
    assert _count(app) == 0
    assert case.ready() == ["payment"]
    case.do("sun", "payment", {**PAY, "amount": "800"})
    assert _count(app) == 1


def test_a_returned_payment_is_reversed_and_booked_again(app, clock):
    """A supervisor returns the payment record (cadre allowance, 监委会核对发放情况): the earlier
    entry is cancelled by a red entry and the corrected payment booked; the case's payment is on
    the books once (R62)."""
    from tests.test_items_public import ALLOWANCE, NOTICE, resolution, today

    clients: dict = {}

    def client(u):
        return clients.setdefault(u, ApiClient(app, u))

    link = resolution(client, matter="allowance", assembly="villager_assembly", amount="20000")
    case = Item(app, client, "cadre-allowance")
    case.start("wang", {**ALLOWANCE, "resolution_case": link})
    case.do("zhao", "review_list", APPROVE)
    case.do("wang", "draft_allowance_disclosure", NOTICE)
    case.do("zhao", "review_allowance_disclosure", APPROVE)
    case.timers(clock, 7)
    case.do("sun", "payment", {**PAY, "paid_on": today(clock), "amount": "2000", "entity": "committee"})
    assert _ledger(client("sun"))["totals"]["out"] == "2000.00"
    case.do("zhao", "review_payment", {"decision": "return", "opinion": "发放金额应为20000元"})
    case.do("sun", "payment", {**PAY, "paid_on": today(clock), "amount": "20000", "entity": "committee"})
    case.do("zhao", "review_payment", APPROVE)
    assert case.status == "completed"
    books_now = _ledger(client("sun"))
    assert books_now["totals"] == {"in": "0.00", "out": "20000.00"}
    amounts = [(e["amount"], e["reverses"] is not None, e["case"]) for e in books_now["entries"]]
    assert amounts == [("2000.00", False, case.case["id"]), ("-2000.00", True, case.case["id"]),
                       ("20000.00", False, case.case["id"])]
    assert books_now["entries"][0]["reversed_by"] == books_now["entries"][1]["id"]
    assert all(e["account"] == "应付工资" for e in books_now["entries"])
    paid = client("sun").post(f"/villages/demo-001/ledger/entries/{books_now['entries'][2]['id']}/reversal",
                              json={"reason": "想改"})
    assert paid.status_code == 409, "a payment's entry is corrected through its case"


@pytest.mark.pg
def test_parallel_payments_on_postgresql_are_booked_once(pg_app):
    """Twenty people submit the same payment at the same moment: one wins, one entry."""
    clients: dict = {}

    def client(u):
        return clients.setdefault(u, ApiClient(pg_app, u))

    case = _to_payment(pg_app, client)
    task = case.task("payment")
    parallel = 20
    testers = [ApiClient(pg_app, "sun") for _ in range(parallel)]
    for t in testers:
        t.headers  # log in first  # noqa: B018
    barrier = threading.Barrier(parallel)
    statuses: list = []

    def press(c):
        barrier.wait()
        statuses.append(c.post(f"/tasks/{task['id']}/complete", json={"data": {**PAY, "amount": "800"}}).status_code)

    threads = [threading.Thread(target=press, args=(c,)) for c in testers]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    counts = Counter(statuses)
    assert counts[200] == 1 and counts[409] == parallel - 1, counts
    with pg_app.extensions["cunwu_db"].connect() as conn:
        rows = conn.execute(text("select amount, case_id from ledger_entry")).all()
    assert rows == [(Decimal("800.00"), case.case["id"])]
