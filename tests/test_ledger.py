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

from engine.records.ledger_chart import parse_amount
from engine.store.models import LedgerEntry, TaskRow
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
    assert case.ready() == ["agency_review"]
    case.agency()
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
    from engine.services import Engine

    client = lambda u: ApiClient(app, u)  # noqa: E731
    case = _to_payment(app, client)
    engine = app.extensions["cunwu"]
    task = case.task("payment")

    def broken(*a, **kw):
        raise RuntimeError("disk full")

    monkeypatch.setattr(Engine, "sync", broken)
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


# ------------------------------------------------------------------------------ the quarterly 财务公开 (R26, R27)


def _finance_cases(app, village: str = "demo-001") -> list[dict]:
    return [c for c in app.extensions["cunwu"].list_cases("admin", village_code=village)
            if c["process"] == "finance-disclosure"]


def _past_the_quarter(clock) -> None:
    from datetime import UTC, datetime

    clock.value = datetime(2026, 3, 31, 16, 0, 1, tzinfo=UTC)  # 2026-04-01 00:00:01 Beijing time


def test_a_quarter_end_opens_one_finance_disclosure_per_village(app, clock):
    client = ApiClient(app, "sun")
    for amount, day in (("0.10", "2026-03-01"), ("0.20", "2026-03-02")):
        assert client.post("/villages/demo-001/ledger/receipts",
                           json={**RECEIPT, "amount": amount, "received_on": day}).status_code == 201
    runner = app.test_cli_runner()
    assert runner.invoke(args=["timers", "run"]).exit_code == 0
    assert _finance_cases(app) == [], "the quarter has not ended yet (Beijing time)"
    from datetime import UTC, datetime

    clock.value = datetime(2026, 3, 31, 15, 59, 59, tzinfo=UTC)  # 23:59:59 on 31 March in Beijing
    runner.invoke(args=["timers", "run"])
    assert _finance_cases(app) == []
    _past_the_quarter(clock)
    for _ in range(2):
        result = runner.invoke(args=["timers", "run"])
        assert result.exit_code == 0, result.output
    for village in ("demo-001", "demo-002"):
        (case,) = _finance_cases(app, village)
        assert case["title"] == "2026年第一季度财务公开" and case["status"] == "running"
    case = app.extensions["cunwu"].get_case("zhao", _finance_cases(app)[0]["id"])
    (task,) = case["tasks"]
    assert task["form"] == "review" and task["role"] == "supervisor"
    assert task["id"] in {t["id"] for t in ApiClient(app, "zhao").get("/tasks").get_json()}
    assert task["id"] not in {t["id"] for t in ApiClient(app, "sun").get("/tasks").get_json()}
    shown = ApiClient(app, "zhao").get(f"/tasks/{task['id']}").get_json()["statement"]
    assert shown["totals"] == {"in": "0.30", "out": "0.00"}
    coop = next(e for e in shown["entities"] if e["entity"] == "cooperative")
    assert coop["in"] == "0.30" and coop["income"] == [["经营收入", "0.30"]] and coop["closing"] == "0.30"


def test_the_supervisors_return_with_questions_then_the_statement_is_posted(app, clock):
    client = ApiClient(app, "sun")
    client.post("/villages/demo-001/ledger/receipts", json={**RECEIPT, "amount": "5000.00", "received_on": "2026-01-15"})
    wrong = client.post("/villages/demo-001/ledger/receipts",
                        json={**RECEIPT, "amount": "300.00", "entity": "committee", "account": "补助收入",
                              "summary": "上级补助", "received_on": "2026-02-01"}).get_json()
    case = _to_payment(app, lambda u: ApiClient(app, u))
    case.do("sun", "payment", {**PAY, "amount": "800"})
    _past_the_quarter(clock)
    app.extensions["cunwu"].run_timers()
    case_id = _finance_cases(app)[0]["id"]
    walk = Item(app, lambda u: ApiClient(app, u), "finance-disclosure")
    walk.case = {"id": case_id}
    zhao, sun = ApiClient(app, "zhao"), client
    review = walk.task("review_statement")
    r = zhao.post(f"/tasks/{review['id']}/complete", json={"data": {"decision": "return",
                                                                      "opinion": "2月1日的上级补助300元是哪项补助？"}})
    assert r.status_code == 200, r.get_json()
    answer = walk.task("answer_statement")
    assert answer["role"] == "accountant"
    # the 报账员 finds the receipt was booked twice in error: red entry, then answers
    assert sun.post(f"/villages/demo-001/ledger/entries/{wrong['id']}/reversal",
                    json={"reason": "重复登记"}).status_code == 201
    r = sun.post(f"/tasks/{answer['id']}/complete", json={"data": {}})
    assert r.status_code == 422 and "reply" in r.get_json()["error"]["fields"]
    r = sun.post(f"/tasks/{answer['id']}/complete", json={"data": {"reply": "该笔系重复登记，已冲销"}})
    assert r.status_code == 200, r.get_json()
    review = walk.task("review_statement")
    statement = zhao.get(f"/tasks/{review['id']}").get_json()["statement"]
    assert statement["totals"] == {"in": "5000.00", "out": "800.00"}
    committee = next(e for e in statement["entities"] if e["entity"] == "committee")
    assert committee["spending"] == [["管理费用", "800.00"]] and committee["closing"] == "-800.00"
    coop = next(e for e in statement["entities"] if e["entity"] == "cooperative")
    assert [x["amount"] for x in coop["large"]] == ["5000.00"], "items of 5,000 yuan and more are listed"
    r = zhao.post(f"/tasks/{review['id']}/complete", json={"data": {"decision": "approve"}})
    assert r.status_code == 200, r.get_json()
    board = ApiClient(app, None).get("/villages/demo-001/board").get_json()
    entry = board[0]
    assert entry["title"] == "2026年第一季度财务公开" and entry["kind"] == "finance"
    assert "收入5000.00元" in entry["content"] and "支出800.00元" in entry["content"]
    assert entry["in_notice"] and entry["reviewed_by"] == "赵监委"
    clock.advance(days=7, seconds=1)
    app.extensions["cunwu"].run_timers()
    assert app.extensions["cunwu"].get_case("zhao", case_id)["status"] == "completed"
    assert len(_finance_cases(app)) == 1


def test_the_accountant_may_open_a_missed_period_once(app, clock):
    client = ApiClient(app, "sun")
    r = client.post("/instances", json={"process": "finance-disclosure", "village": "demo-001", "title": "x",
                                        "data": {"period": "2026Q1"}})
    assert r.status_code == 422 and "period" in r.get_json()["error"]["fields"], "the quarter has not ended"
    r = client.post("/instances", json={"process": "finance-disclosure", "village": "demo-001", "title": "x",
                                        "data": {"period": "2025Q4"}})
    assert r.status_code == 201, r.get_json()
    assert r.get_json()["title"] == "2025年第四季度财务公开"
    again = client.post("/instances", json={"process": "finance-disclosure", "village": "demo-001", "title": "x",
                                            "data": {"period": "2025Q4"}})
    assert again.status_code == 409
    assert ApiClient(app, "zhang").post("/instances", json={
        "process": "finance-disclosure", "village": "demo-001", "title": "x", "data": {}}).status_code == 403


@pytest.mark.pg
def test_four_workers_open_the_quarter_once_per_village(pg_app, clock):
    engine = pg_app.extensions["cunwu"]
    _past_the_quarter(clock)
    barrier = threading.Barrier(4)
    errors: list = []

    def work():
        barrier.wait()
        try:
            engine.run_timers()
        except Exception as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors
    for village in ("demo-001", "demo-002"):
        assert [c["title"] for c in _finance_cases(pg_app, village)] == ["2026年第一季度财务公开"]


def test_doctor_finds_a_deleted_or_altered_entry(app):
    """cunwu doctor: every paid payment has exactly one entry of the same amount and entity;
    receipts are as their audit events recorded them."""
    from engine.services.doctor import check

    client = ApiClient(app, "sun")
    receipt = client.post("/villages/demo-001/ledger/receipts", json=RECEIPT).get_json()
    case = _to_payment(app, lambda u: ApiClient(app, u))
    case.do("sun", "payment", {**PAY, "amount": "800"})
    engine = app.extensions["cunwu"]
    assert check(engine).ok, check(engine).problems
    db = app.extensions["cunwu_db"]
    paid = next(e for e in _ledger(client)["entries"] if e["case"])
    with db.begin() as conn:
        conn.execute(text("update ledger_entry set amount = amount + 1 where id = :i"), {"i": receipt["id"]})
    problems = check(engine).problems
    assert any("已被改动" in p and str(receipt["id"]) in p for p in problems), problems
    with db.begin() as conn:
        conn.execute(text("update ledger_entry set amount = 70000 where id = :i"), {"i": paid["id"]})  # 700 yuan in fen
    problems = check(engine).problems
    assert any("不一致" in p and f"事项{case.case['id']}" in p for p in problems), problems
    with db.begin() as conn:
        conn.execute(text("delete from ledger_entry where id = :i"), {"i": paid["id"]})
    problems = check(engine).problems
    assert any("现有0笔" in p for p in problems), problems
    assert app.test_cli_runner().invoke(args=["doctor"]).exit_code == 1


# ------------------------------------------------------------------------------ the HTML page


def _web(app, username):
    client = app.test_client()
    r = client.post("/login", data={"username": username, "password": "demo123"})
    assert r.status_code in (302, 303)
    return client


def test_the_ledger_page_and_the_receipt_form(app):
    sun = _web(app, "sun")
    page = sun.get("/ledger").get_data(as_text=True)
    assert "账目（三资台账）" in page and "登记收入" in page and 'inputmode="decimal"' in page
    r = sun.post("/ledger", data={"village": "demo-001", "entity": "cooperative", "amount": "1.005",
                                  "account": "经营收入", "summary": "鱼塘承包费"})
    assert r.status_code == 422 and "最多两位小数" in r.get_data(as_text=True)
    assert _count(app) == 0
    r = sun.post("/ledger", data={"village": "demo-001", "received_on": "2026-03-01", "entity": "cooperative",
                                  "amount": "1234.56", "account": "经营收入", "summary": "鱼塘承包费",
                                  "counterparty": "张三"})
    assert r.status_code in (302, 303)
    page = sun.get("/ledger?entity=cooperative").get_data(as_text=True)
    assert "鱼塘承包费" in page and 'id="total-in">1234.56<' in page
    zhao = _web(app, "zhao").get("/ledger").get_data(as_text=True)
    assert "鱼塘承包费" in zhao and "登记收入" not in zhao, "the supervisors read, they do not enter"
    assert _web(app, "zhao").post("/ledger", data={"village": "demo-001", "entity": "committee", "amount": "1",
                                                   "account": "经营收入", "summary": "x"}).status_code == 403
    assert _web(app, "chen").get("/ledger?village=demo-001").status_code == 403
    assert app.test_client().get("/ledger").status_code in (302, 401)


# ------------------------------------------------------------------------------ R37: the agency checks before money moves


def test_the_agency_checks_every_payment_and_a_refused_one_never_reaches_the_books(app):
    """R37 (DOMAIN §3.3.5 step 5): 代理中心审核入账 before the payment; 不予受理 with its reason goes
    back to the village, is on the case's record, and books nothing."""
    def client(u):
        return ApiClient(app, u)

    case = Item(app, client, "spending-approval")
    case.start("sun", CLAIM)
    case.do("zhao", "review_claim", APPROVE)
    _cosign(case)
    assert case.ready() == ["agency_review"]
    task = case.task("agency_review")
    assert task["role"] == "agency_accountant"
    assert task["id"] in {t["id"] for t in client("he").get("/tasks").get_json()}
    assert client("sun").post(f"/tasks/{task['id']}/complete",
                              json={"data": {"decision": "approve", "voucher_no": "1"}}).status_code == 403
    r = client("he").post(f"/tasks/{task['id']}/complete", json={"data": {"decision": "refuse"}})
    assert r.status_code == 422 and "reason" in r.get_json()["error"]["fields"]
    r = client("he").post(f"/tasks/{task['id']}/complete", json={"data": {"decision": "approve"}})
    assert r.status_code == 422 and "voucher_no" in r.get_json()["error"]["fields"]
    case.agency("refuse", reason="发票抬头不是本村，须补正合法原始凭证")
    assert case.ready() == ["submit"], "back to the 报账员 to put the voucher right"
    history = case.refresh()["history"]
    assert any("代理中心不予受理：发票抬头不是本村" in h["summary"] and h["actor"] == "何会计" for h in history)
    assert _count(app) == 0
    case.do("sun", "submit", CLAIM)
    case.do("zhao", "review_claim", APPROVE)
    _cosign(case)
    case.agency()
    case.do("sun", "payment", {**PAY, "amount": "800"})
    assert case.status == "completed"
    assert _ledger(client("he"))["totals"]["out"] == "800.00"
    assert any("准予支付（记账凭证号JZ-2026-001）" in h["summary"] for h in case.refresh()["history"])


def test_the_agency_cannot_pass_a_record_with_a_gap(app):
    """The engine refuses an approval whose record lacks what R34/R37 require (here: a 联签 that
    was not an approval, as a forged record would show)."""
    from engine.forms import CheckContext
    from engine.forms.ledger import record_gap
    from engine.store.models import Case

    case = _to_payment_unchecked(app)
    engine = app.extensions["cunwu"]
    with engine.transaction() as session:
        row = session.scalar(select(TaskRow).where(TaskRow.case_id == case.case["id"], TaskRow.name == "cosign_secretary"))
        ctx = CheckContext(session=session, village=None, case=session.get(Case, case.case["id"]), meta={}, now=None,
                           actor=None, task=None, properties={})
        assert record_gap(ctx) == ""
        row.data = {**row.data, "decision": "return"}
        session.flush()
        assert "意见不是同意" in record_gap(ctx)
        row.data = {**row.data, "decision": "approve"}
        first = session.scalar(select(TaskRow).where(TaskRow.case_id == case.case["id"], TaskRow.name == "submit"))
        first.data = {**first.data, "needs_resolution": True, "resolution_case": None}
        session.flush()
        assert "没有关联决议" in record_gap(ctx)


def _to_payment_unchecked(app) -> Item:
    case = Item(app, lambda u: ApiClient(app, u), "spending-approval")
    case.start("sun", CLAIM)
    case.do("zhao", "review_claim", APPROVE)
    _cosign(case)
    return case


def test_a_json_backup_moves_the_books_between_backends_exactly(app, clock, tmp_path):
    """Money is fen on SQLite and NUMERIC on PostgreSQL; the JSON dump writes yuan, so the books
    come back to the fen on either backend."""
    from tests.conftest import _drop_pg_schema, _fresh_pg_schema
    from tests.test_backup import _app, _cli

    client = ApiClient(app, "sun")
    for amount in ("0.10", "0.20", "1234.56"):
        client.post("/villages/demo-001/ledger/receipts", json={**RECEIPT, "amount": amount})
    backup = tmp_path / "books.json"
    _cli(app, "backup", str(backup), "--format", "json")
    url, schema = _fresh_pg_schema()
    target = _app(url, clock)
    try:
        _cli(target, "restore", str(backup), "--yes")
        assert _ledger(ApiClient(target, "sun"))["totals"]["in"] == "1234.86"
        again = tmp_path / "books-pg.json"
        _cli(target, "backup", str(again), "--format", "json")
        fresh = _app(f"sqlite:///{tmp_path / 'fresh.sqlite3'}", clock)
        _cli(fresh, "restore", str(again), "--yes")
        assert [e["amount"] for e in _ledger(ApiClient(fresh, "sun"))["entries"]] == ["0.10", "0.20", "1234.56"]
        fresh.extensions["cunwu_db"].dispose()
    finally:
        target.extensions["cunwu_db"].dispose()
        _drop_pg_schema(schema)


def test_the_township_desk_and_the_statement_in_excel(app, clock):
    """乡镇、县: per village income, spending, balance, payments waiting for the agency and
    disclosures not yet posted; the 村级财务公开表 as Excel, one sheet per entity, number cells."""
    import io

    from openpyxl import load_workbook

    client = ApiClient(app, "sun")
    client.post("/villages/demo-001/ledger/receipts", json={**RECEIPT, "amount": "0.10"})
    client.post("/villages/demo-001/ledger/receipts", json={**RECEIPT, "amount": "0.20", "account": "=HYPERLINK(1)"})
    waiting = _to_payment_unchecked(app)  # at the agency
    _past_the_quarter(clock)
    app.extensions["cunwu"].run_timers()
    rows = {r["code"]: r for r in app.extensions["cunwu"].ledger_overview("he")}
    assert rows["demo-001"]["in"] == "0.30" and rows["demo-001"]["balance"] == "0.30"
    assert rows["demo-001"]["agency_waiting"] == 1 and rows["demo-002"]["agency_waiting"] == 0
    assert [d["title"] for d in rows["demo-001"]["disclosures_due"]] == ["2026年第一季度财务公开"]
    assert [r["code"] for r in app.extensions["cunwu"].ledger_overview("xu")] == ["demo-001", "demo-002"]
    assert [r["code"] for r in app.extensions["cunwu"].ledger_overview("sun")] == ["demo-001"]
    page = _web(app, "zhou").get("/ledger/overview").get_data(as_text=True)
    assert "示范村" in page and "东山村" in page and "2026年第一季度财务公开" in page
    assert _web(app, "zhang").get("/ledger/overview").status_code == 403
    r = _web(app, "zhao").get("/ledger/statement.xlsx?village=demo-001&period=2026Q1")
    assert r.status_code == 200 and r.mimetype.endswith("spreadsheetml.sheet")
    wb = load_workbook(io.BytesIO(r.data))
    assert wb.sheetnames == ["村民委员会", "村集体经济组织"]
    coop = {row[0]: row[1] for row in wb["村集体经济组织"].iter_rows(min_row=4, values_only=True) if row and row[0]}
    assert coop["本期收入合计"] == pytest.approx(0.30) and str(coop["本期收入合计"]) in ("0.3", "0.30")
    assert "收入：=HYPERLINK(1)" in coop, "a formula-like account is text"
    assert _web(app, "chen").get("/ledger/statement.xlsx?village=demo-001").status_code == 403
    assert waiting.ready() == ["agency_review"]


# ------------------------------------------------------------------------------ the contracts register (R40)

CONTRACT = {"entity": "cooperative", "kind": "contracting", "subject": "村东鱼塘20亩", "counterparty": "张三",
            "starts_on": "2026-01-01", "ends_on": "2030-12-31", "amount": "6000.00", "every_months": 6}


def test_a_contract_falls_due_and_receipts_collect_it(books):
    """发包、租赁、承包: each period's amount falls due at its start; receipts naming the contract
    collect it; what is due and not received is 应收未收 on the desk."""
    app, client = books
    sun = client("sun")
    r = sun.post("/villages/demo-001/contracts", json=CONTRACT)
    assert r.status_code == 201, r.get_json()
    contract = r.get_json()
    assert contract["receivable"] == {"due": "6000.00", "received": "0.00", "outstanding": "6000.00", "overdue": True,
                                      "periods_due": 1, "next_due": "2026-07-01"}
    r = sun.post("/villages/demo-001/ledger/receipts", json={**RECEIPT, "amount": "4000.00", "contract": contract["id"]})
    assert r.status_code == 201 and r.get_json()["contract"] == contract["id"]
    (row,) = sun.get("/villages/demo-001/contracts").get_json()
    assert row["receivable"]["outstanding"] == "2000.00"
    overview = {r["code"]: r for r in app.extensions["cunwu"].ledger_overview("zhou")}
    assert overview["demo-001"]["outstanding"] == "2000.00" and overview["demo-002"]["outstanding"] == "0.00"
    bad = sun.post("/villages/demo-001/ledger/receipts", json={**RECEIPT, "entity": "committee", "contract": contract["id"]})
    assert bad.status_code == 422 and "entity" in bad.get_json()["error"]["fields"]
    bad = sun.post("/villages/demo-001/ledger/receipts", json={**RECEIPT, "contract": 99999})
    assert bad.status_code == 422 and "contract" in bad.get_json()["error"]["fields"]
    for change, field in (({"amount": 1.5}, "amount"), ({"kind": "gift"}, "kind"), ({"every_months": 0}, "every_months"),
                          ({"ends_on": "2025-01-01"}, "ends_on"), ({"subject": ""}, "subject")):
        r = sun.post("/villages/demo-001/contracts", json={**CONTRACT, **change})
        assert r.status_code == 422 and field in r.get_json()["error"]["fields"], change
    assert client("zhang").post("/villages/demo-001/contracts", json=CONTRACT).status_code == 403
    assert len(sun.get("/villages/demo-001/contracts").get_json()) == 1
