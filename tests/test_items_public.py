"""The public-power items A2–A10 through the JSON API, with the test clock.

A small generic driver (:class:`Item`) starts an item and completes its ready tasks by name;
resolutions are real ``major-decision`` cases driven by ``tests.flows.Walk``.
"""

from __future__ import annotations

import pytest
from sqlalchemy import select

from engine.domain.clock import LOCAL_TZ
from engine.forms import FORMS, members, office, party, projects
from engine.store.models import RoleAssignment, User, Village
from tests.conftest import ApiClient
from tests.flows import MEETING_OK, Walk

PUBLIC_FORMS = {**projects.PROJECT_FORMS, **office.OFFICE_FORMS, **party.PARTY_FORMS, **members.MEMBER_FORMS}

VILLAGE = "demo-001"
NOTICE = {"content": "公示内容", "notice_days": 7}
APPROVE = {"decision": "approve"}


class Item:
    """Drive one case of a power-list item: ``start``, ``do(who, task, data)``, ``ready()``."""

    def __init__(self, app, api, process: str):
        self.app = app
        self.api = api
        self.process = process
        self._clients: dict[str, object] = {}
        self.case: dict | None = None

    def client(self, who: str | None):
        if who not in self._clients:
            self._clients[who] = self.api(who)
        return self._clients[who]

    def start(self, who: str, data: dict, *, title: str = "测试事项", status: int = 201, village: str = VILLAGE):
        r = self.client(who).post("/instances", json={"process": self.process, "village": village,
                                                      "title": title, "data": data})
        assert r.status_code == status, r.get_json()
        if status == 201:
            self.case = r.get_json()
        return r

    def refresh(self) -> dict:
        self.case = self.client("zhao").get(f"/instances/{self.case['id']}").get_json()
        return self.case

    @property
    def status(self) -> str:
        return self.refresh()["status"]

    def ready(self) -> list[str]:
        return [t["name"] for t in self.refresh()["tasks"] if t["state"] == "ready"]

    def waiting(self) -> list[str]:
        return [t["name"] for t in self.refresh()["tasks"] if t["state"] == "waiting"]

    def task(self, name: str) -> dict:
        tasks = [t for t in self.refresh()["tasks"] if t["name"] == name and t["state"] == "ready"]
        assert tasks, f"{name} not ready; open: {[(t['name'], t['state']) for t in self.case['tasks']]}"
        return tasks[0]

    def do(self, who: str, name: str, data: dict, status: int = 200):
        if name == "payment" and "agency_review" in self.ready():
            self.agency()  # R37: the township agency checks the record before every payment
        task = self.task(name)
        r = self.client(who).post(f"/tasks/{task['id']}/complete", json={"data": data})
        assert r.status_code == status, r.get_json()
        if status == 200:
            self.case = r.get_json()
        return r

    def agency(self, decision: str = "approve", **data):
        """代理中心审核入账 by 何会计 (the township's agency accountant)."""
        body = {"decision": decision, **({"voucher_no": "JZ-2026-001"} if decision == "approve" else {}), **data}
        return self.do("he", "agency_review", body)

    def refused(self, who: str, name: str, data: dict, field: str, status: int = 422) -> str:
        """Complete ``name`` expecting a refusal that names ``field``; return the message."""
        r = self.do(who, name, data, status)
        error = r.get_json()["error"]
        if status == 422:
            assert field in error["fields"], error
        return error["message"]

    def data_of(self, name: str) -> dict:
        """The data recorded by the newest completion of task ``name``."""
        task_id = [h["task"] for h in self.refresh()["history"] if h["action"] == "complete"
                   and h["summary"].startswith(self._title(name))][-1]
        return self.client("zhao").get(f"/tasks/{task_id}").get_json()["data"]

    def _title(self, name: str) -> str:
        steps = self.client("zhao").get(f"/processes/{self.process}").get_json()["steps"]
        return next(s["name"] for s in steps if s["id"] == name)

    def timers(self, clock, days: float = 7) -> None:
        clock.advance(days=days, seconds=1)
        self.app.extensions["cunwu"].run_timers()

    def disclose(self, stem: str, clock, drafter: str = "wang", reviewer: str = "zhao", notice_days: int = 7) -> None:
        self.do(drafter, f"draft_{stem}_disclosure", {"content": f"{stem}公示", "notice_days": notice_days})
        self.do(reviewer, f"review_{stem}_disclosure", APPROVE)
        assert self.ready() == [] or all(n.startswith("reply_") for n in self.ready())
        self.timers(clock, notice_days)

    def board(self) -> list[dict]:
        return self.client(None).get(f"/villages/{VILLAGE}/board").get_json()


@pytest.fixture
def api(app):
    """Logged-in clients, one per user for the whole test (logging in is deliberately slow)."""
    clients: dict[str | None, ApiClient] = {}

    def login(username: str | None = None) -> ApiClient:
        if username not in clients:
            clients[username] = ApiClient(app, username)
        return clients[username]

    return login


def today(clock) -> str:
    return clock().astimezone(LOCAL_TZ).date().isoformat()


@pytest.fixture
def item(app, api):
    def make(process: str) -> Item:
        return Item(app, api, process)
    return make


def resolution(api, *, matter: str = "major_spending", assembly: str = "representatives", amount: str = "180000",
               post: bool = True, **vote) -> int:
    """A ``major-decision`` case of the demo village whose resolution is passed and (by default) posted."""
    walk = Walk(api)
    walk.start(matter=matter, assembly=assembly, amount=amount)
    walk.meeting("two_committees", "two_committees")
    walk.review("review_two_committees")
    walk.meeting("party_members", "party_members")
    walk.review("review_party_members")
    walk.meeting(assembly, assembly, **vote)
    walk.review("review_resolution")
    if post:
        walk.disclose("resolution")
    return walk.case["id"]


def give_role(app, username: str, role: str, village: str = VILLAGE) -> None:
    with app.extensions["cunwu"].transaction() as session:
        user = session.scalar(select(User).where(User.username == username))
        v = session.scalar(select(Village).where(Village.code == village))
        session.add(RoleAssignment(user_id=user.id, role=role, village_id=v.id))


def set_village(app, **settings) -> None:
    with app.extensions["cunwu"].transaction() as session:
        v = session.scalar(select(Village).where(Village.code == VILLAGE))
        v.settings = {**(v.settings or {}), **settings}


def test_public_forms_are_registered_as_ours():
    for key, schema in PUBLIC_FORMS.items():
        assert FORMS[key] is schema, f"form {key!r} was registered twice"


def test_catalogue_lists_the_items_with_chinese_names(app):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["processes", "list"])
    assert result.exit_code == 0, result.output
    for key, name in [("construction-project", "村级工程项目建设与招投标"), ("procurement", "村级物资与服务采购"),
                      ("asset-disposal", "集体资产资源处置与发包租赁"), ("spending-approval", "村级财务收支审批（报销联签）"),
                      ("seal-use", "村级印章使用"), ("cadre-allowance", "村干部误工补贴发放"),
                      ("party-admission", "发展党员"), ("member-confirmation", "农村集体经济组织成员认定"),
                      ("requisition-distribution", "土地征收补偿款分配")]:
        assert f"{key}\t{name}\tA（村级公共权力）" in result.output


# ---------------------------------------------------------------------------- A5 spending approval

CLAIM = {"claimant": "李委员", "claimant_user": "li", "purpose": "购买办公用品", "amount": "800",
         "voucher_type": "invoice", "voucher_count": 2, "witness": "王主任", "entity": "committee"}
PAY = {"paid_on": "2026-03-02", "payee": "某某文具店", "method": "transfer", "reference": "YH20260302001",
       "entity": "committee"}


def _cosign(case: Item, *, township: bool = False) -> None:
    case.do("wang", "cosign_director", APPROVE)
    case.do("zhang", "cosign_secretary", APPROVE)
    if township:
        assert case.ready() == ["township_sign"]
        case.do("zhou", "township_sign", APPROVE)


def test_spending_small_claim_happy_path(item):
    case = item("spending-approval")
    case.start("sun", CLAIM)
    assert case.ready() == ["review_claim"]
    case.do("zhao", "review_claim", APPROVE)
    assert case.ready() == ["cosign_director"], "1,000 yuan or less needs no joint meeting"
    _cosign(case)
    assert case.ready() == ["agency_review"]
    case.do("sun", "payment", {**PAY, "amount": "800"})
    assert case.status == "completed"
    data = case.data_of("submit")
    assert data["rules_version"] == "organic-law-2025"
    assert data["needs_joint_meeting"] is False and data["needs_township"] is False


@pytest.mark.parametrize("amount,joint", [("1000", False), ("1001", True)])
def test_spending_joint_meeting_tier_edge(item, amount, joint):
    case = item("spending-approval")
    case.start("sun", {**CLAIM, "amount": amount})
    case.do("zhao", "review_claim", APPROVE)
    assert case.ready() == (["joint_meeting"] if joint else ["cosign_director"])


def test_spending_joint_meeting_lapses_then_fails(item):
    case = item("spending-approval")
    case.start("sun", {**CLAIM, "amount": "5000"})
    case.do("zhao", "review_claim", APPROVE)
    case.do("zhang", "joint_meeting", {**MEETING_OK["two_committees"], "attended": 3, "approve": 3, "oppose": 0})
    assert case.ready() == ["joint_meeting"], "流会: the meeting is held again"
    # li is the claimant: kept off the case (回避, R36), even as a committee member
    li = case.client("li").post(f"/tasks/{case.task('joint_meeting')['id']}/complete",
                                json={"data": MEETING_OK["two_committees"]})
    assert li.status_code == 403
    case.do("zhang", "joint_meeting", {**MEETING_OK["two_committees"], "approve": 3, "oppose": 4})
    assert case.status == "rejected"


@pytest.mark.parametrize("amount,needs_link", [("20000", False), ("20001", True)])
def test_spending_resolution_tier_edge(item, amount, needs_link):
    case = item("spending-approval")
    if needs_link:
        r = case.start("sun", {**CLAIM, "amount": amount}, status=422)
        assert "resolution_case" in r.get_json()["error"]["fields"]
    else:
        case.start("sun", {**CLAIM, "amount": amount})


@pytest.mark.parametrize("amount,township", [("50000", False), ("50001", True)])
def test_spending_township_tier_edge(item, api, amount, township):
    link = resolution(api)
    case = item("spending-approval")
    case.start("sun", {**CLAIM, "amount": amount, "resolution_case": link})
    case.do("zhao", "review_claim", APPROVE)
    case.do("zhang", "joint_meeting", MEETING_OK["two_committees"])
    _cosign(case, township=township)
    assert case.ready() == ["agency_review"]
    case.refused("sun", "payment", {**PAY, "amount": str(int(amount) + 1)}, "amount")
    case.do("sun", "payment", {**PAY, "amount": amount})
    assert case.status == "completed"
    data = case.data_of("submit")
    assert data["resolution_body"] == "representatives" and data["resolution_rules_version"] == "organic-law-2025"


def test_spending_linked_resolution_is_enforced(item, api):
    big = {**CLAIM, "amount": "30000"}
    case = item("spending-approval")
    # no linked case
    r = case.start("sun", big, status=422)
    assert "resolution_case" in r.get_json()["error"]["fields"]
    # a case of another village (陈书记 of demo-002 starts one there)
    other = api("chen").post("/instances", json={"process": "major-decision", "village": "demo-002",
                                                 "title": "东山村修路", "data": {"title": "修路", "summary": "修路"}})
    assert other.status_code == 201
    r = case.start("sun", {**big, "resolution_case": other.get_json()["id"]}, status=422)
    assert "东山村" in r.get_json()["error"]["fields"]["resolution_case"][0]
    # a rejected case
    walk = Walk(api)
    walk.start()
    walk.meeting("two_committees", "two_committees")
    walk.review("review_two_committees")
    walk.meeting("party_members", "party_members")
    walk.review("review_party_members")
    walk.meeting("representatives", "representatives", attended=24, approve=12, oppose=12, abstain=0)
    assert walk.refresh()["status"] == "rejected"
    r = case.start("sun", {**big, "resolution_case": walk.case["id"]}, status=422)
    assert "未获通过" in r.get_json()["error"]["message"]
    # a resolution voted but not yet posted
    unposted = resolution(api, post=False)
    r = case.start("sun", {**big, "resolution_case": unposted}, status=422)
    assert "尚未形成并公开决议" in r.get_json()["error"]["message"]
    # not a major-decision case
    seal = item("seal-use")
    seal.start("li", SEAL)
    r = case.start("sun", {**big, "resolution_case": seal.case["id"]}, status=422)
    assert "不是“村级重大事项决策" in r.get_json()["error"]["message"]
    # a posted resolution of this village
    case.start("sun", {**big, "resolution_case": resolution(api)})
    assert case.ready() == ["review_claim"]


def test_spending_claims_may_not_exceed_the_resolution_together(item, api):
    link = resolution(api, amount="30000")
    first = item("spending-approval")
    first.start("sun", {**CLAIM, "amount": "20001", "resolution_case": link})
    second = item("spending-approval")
    msg = second.start("sun", {**CLAIM, "amount": "10000", "resolution_case": link}, status=422).get_json()
    assert "超出决议金额" in msg["error"]["message"]
    second.start("sun", {**CLAIM, "amount": "9999", "resolution_case": link})


def test_spending_refuses_iou_cash_and_accountant_signers(app, item):
    case = item("spending-approval")
    r = case.start("sun", {**CLAIM, "voucher_type": "iou"}, status=422)
    assert "白条" in r.get_json()["error"]["message"]
    case.start("sun", {**CLAIM, "amount": "1500", "claimant_user": ""})
    case.do("zhao", "review_claim", APPROVE)
    case.do("zhang", "joint_meeting", MEETING_OK["two_committees"])
    give_role(app, "wang", "accountant")  # a director who is also the 报账员 may not sign (R36)
    r = case.do("wang", "cosign_director", APPROVE, status=403)
    assert "报账员" in r.get_json()["error"]["message"]


@pytest.mark.parametrize("amount,cash_ok", [("1000", True), ("1001", False)])
def test_spending_cash_limit_edge(item, amount, cash_ok):
    case = item("spending-approval")
    case.start("sun", {**CLAIM, "amount": amount})
    case.do("zhao", "review_claim", APPROVE)
    if not cash_ok:
        case.do("zhang", "joint_meeting", MEETING_OK["two_committees"])
    _cosign(case)
    if not cash_ok:
        case.refused("sun", "payment", {**PAY, "amount": amount, "method": "cash"}, "method")
        case.do("sun", "payment", {**PAY, "amount": amount})
    else:
        case.do("sun", "payment", {**PAY, "amount": amount, "method": "cash"})
    assert case.status == "completed"


def test_spending_signer_returns_and_rejects(item):
    case = item("spending-approval")
    case.start("sun", CLAIM)
    case.do("zhao", "review_claim", APPROVE)
    case.refused("wang", "cosign_director", {"decision": "return"}, "opinion")
    case.do("wang", "cosign_director", {"decision": "return", "opinion": "缺少证明人签字"})
    assert case.ready() == ["submit"]
    case.do("sun", "submit", CLAIM)
    case.do("zhao", "review_claim", APPROVE)
    case.do("wang", "cosign_director", APPROVE)
    case.do("zhang", "cosign_secretary", {"decision": "reject", "opinion": "不属于必要开支"})
    assert case.status == "rejected"


# ---------------------------------------------------------------------------- A6 seal use

SEAL = {"applicant": "村民刘某", "document": "居住情况证明", "reason": "办理入学手续", "copies": 2, "seal": "committee",
        "purpose": "certificate"}
SEAL_LOG = {"stamped_on": "2026-03-02", "impressions": 2, "document_ref": "ZM-2026-001", "handler": "李委员"}


def test_the_party_organisations_seal_is_approved_by_its_secretary(item):
    case = item("seal-use")
    case.start("li", {**SEAL, "seal": "party"})
    assert case.ready() == ["approve_party_seal"]
    assert "村党组织书记" in case.refused("wang", "approve_party_seal", APPROVE, "decision", status=403)
    case.do("zhang", "approve_party_seal", APPROVE)
    case.do("zhao", "review_seal", APPROVE)
    case.do("li", "seal_log", SEAL_LOG)
    assert case.status == "completed"


def test_seal_use_happy_path(item):
    case = item("seal-use")
    case.start("li", SEAL)
    case.do("wang", "approve_seal", APPROVE)
    case.do("zhao", "review_seal", APPROVE)
    case.refused("li", "seal_log", {**SEAL_LOG, "impressions": 3}, "impressions")
    case.do("li", "seal_log", SEAL_LOG)
    assert case.status == "completed"
    assert case.data_of("seal_log")["rules_version"] == "organic-law-2025"


def test_seal_use_refusals(app, item, api):
    case = item("seal-use")
    r = case.start("li", {**SEAL, "blank": True}, status=422)
    assert "blank" in r.get_json()["error"]["fields"]
    r = case.start("li", {**SEAL, "purpose": "guarantee", "outsider": True}, status=422)
    assert "outsider" in r.get_json()["error"]["fields"]
    r = case.start("li", {**SEAL, "purpose": "loan", "document": "借款合同"}, status=422)
    assert "resolution_case" in r.get_json()["error"]["fields"]
    case.start("li", {**SEAL, "purpose": "loan", "document": "借款合同", "resolution_case": resolution(api)})
    case.do("wang", "approve_seal", APPROVE)
    case.do("zhao", "review_seal", APPROVE)
    give_role(app, "wang", "committee_member")  # the approver may not stamp himself (R36)
    r = case.do("wang", "seal_log", SEAL_LOG, status=403)
    assert "管章人" in r.get_json()["error"]["message"]
    case.do("li", "seal_log", SEAL_LOG)
    assert case.status == "completed"


def test_seal_use_rejected_and_returned(item):
    case = item("seal-use")
    case.start("li", SEAL)
    case.do("wang", "approve_seal", APPROVE)
    case.do("zhao", "review_seal", {"decision": "return", "opinion": "事由不清"})
    assert case.ready() == ["apply"]
    case.do("li", "apply", SEAL)
    case.refused("wang", "approve_seal", {"decision": "reject"}, "opinion")
    case.do("wang", "approve_seal", {"decision": "reject", "opinion": "不属于本村出具范围"})
    assert case.status == "rejected"


# ---------------------------------------------------------------------------- A2 construction project

PROJECT = {"title": "村东道路硬化", "summary": "长1.2公里水泥路面", "budget": "180000", "contract_type": "construction",
           "funding": "collective"}
BID = {"opened_on": "2026-03-02", "bid_outcome": "awarded", "bidders": 3, "winner": "某某建筑公司", "price": "170000",
       "evaluation": "三家比选，某某建筑公司报价最低且资质符合"}
CONTRACT = {"signed_on": "2026-03-10", "counterparty": "某某建筑公司", "contract_no": "HT-2026-01", "price": "170000",
            "filed_with": "镇三资委托代理服务中心"}
PANEL5 = "张书记，两委成员\n王主任，两委成员\n刘某，党员代表\n陈某，村民代表\n赵监委，监委会成员"
ACCEPT = {"accepted_on": "2026-03-10", "acceptance_result": "pass", "amount": "170000", "panel": PANEL5,
          "audit_report": "县审计中心审字〔2026〕5号，结算审定170000元"}


def test_construction_project_happy_path(app, item, api, clock):
    set_village(app, assembly_authorisation="2025年第1次村民会议授权决定")
    link = resolution(api, matter="public_welfare")
    case = item("construction-project")
    case.start("wang", {**PROJECT, "resolution_case": link})
    # 流会 then passed
    case.do("zhang", "two_committees", {**MEETING_OK["two_committees"], "attended": 3, "approve": 3, "oppose": 0})
    assert case.ready() == ["two_committees"]
    case.do("zhang", "two_committees", MEETING_OK["two_committees"])
    # 180,000: at least 比选 (100,000 以上); direct award is refused
    msg = case.refused("wang", "procurement_plan", {"method": "direct", "reason": "熟悉的施工队"}, "method")
    assert "比选" in msg
    case.do("wang", "procurement_plan", {"method": "selection", "reason": "邀请三家比选"})
    case.do("zhao", "review_procurement_plan", APPROVE)
    assert case.ready() == ["selection"]
    case.refused("wang", "selection", {**BID, "bidders": 2}, "bidders")
    case.refused("wang", "selection", {**BID, "price": "180001"}, "price")
    case.do("wang", "selection", BID)
    case.disclose("award", clock)
    assert case.ready() == ["contract"]
    clock.advance(days=1)
    case.refused("wang", "contract", {**CONTRACT, "counterparty": "另一家公司"}, "counterparty")
    case.refused("wang", "contract", {**CONTRACT, "price": "170001"}, "price")
    case.do("wang", "contract", CONTRACT)
    case.do("wang", "implement", {"summary": "道路硬化完工", "amount_spent": "170000"})
    case.do("zhao", "review_implementation", APPROVE)
    # R43: 5 people from 20,000; audit from 80,000
    case.refused("wang", "acceptance", {**ACCEPT, "panel": "\n".join(PANEL5.splitlines()[:4])}, "panel")
    case.refused("wang", "acceptance", {**ACCEPT, "audit_report": ""}, "audit_report")
    case.do("wang", "acceptance", {**ACCEPT, "acceptance_result": "rectify", "audit_report": ""})
    assert case.ready() == ["implement"], "不合格: back to construction"
    case.do("wang", "implement", {"summary": "整改完成", "amount_spent": "170000"})
    case.do("zhao", "review_implementation", APPROVE)
    case.do("wang", "acceptance", ACCEPT)
    case.do("zhao", "review_acceptance", APPROVE)
    case.refused("sun", "payment", {**PAY, "amount": "170001", "payee": "某某建筑公司"}, "amount")
    case.do("sun", "payment", {**PAY, "paid_on": today(clock), "amount": "170000", "payee": "某某建筑公司"})
    case.disclose("result", clock)
    assert case.status == "completed"
    assert [e["kind"] for e in case.board() if e["case"] == case.case["id"]] == ["result", "notice"]


@pytest.mark.parametrize("budget,least", [("49999", "direct"), ("99999", "direct"), ("100000", "selection"),
                                          ("499999", "selection"), ("500000", "tender")])
def test_construction_procurement_tier_edges(app, item, api, budget, least):
    set_village(app, assembly_authorisation="授权决定")
    case = item("construction-project")
    data = {**PROJECT, "budget": budget}
    if int(budget) >= 50000:  # 5万元以上 needs the resolution
        r = case.start("wang", data, status=422)
        assert "resolution_case" in r.get_json()["error"]["fields"]
        data["resolution_case"] = resolution(api, matter="public_welfare", amount="600000")
    case.start("wang", data)
    case.do("zhang", "two_committees", MEETING_OK["two_committees"])
    order = ["direct", "selection", "tender"]
    for method in order[:order.index(least)]:
        case.refused("wang", "procurement_plan", {"method": method, "reason": "试图从宽"}, "method")
    case.do("wang", "procurement_plan", {"method": least, "reason": "按规定"})
    case.do("zhao", "review_procurement_plan", APPROVE)
    assert case.ready() == [{"direct": "direct_award", "selection": "selection", "tender": "tender"}[least]]


def test_construction_must_tender_floor_and_village_settings(app, item, api):
    # R42: services from 1,000,000 must be tendered; a village may not set the threshold above the law
    runner = app.test_cli_runner()
    bad = app.instance_path + "/bad.yaml"
    import os
    os.makedirs(app.instance_path, exist_ok=True)
    with open(bad, "w", encoding="utf-8") as fh:
        fh.write("villages:\n  - {code: demo-001, name: 示范村, township: 示范镇, adults: 900, households: 320, "
                 "party_members: 30, representatives: 30, two_committees: 7,\n"
                 "     settings: {construction-project.tender_from_services: 1000001}}\n")
    result = runner.invoke(args=["import", bad])
    assert result.exit_code == 1 and "只能从严设置" in result.output
    with open(bad, "w", encoding="utf-8") as fh:
        fh.write("villages:\n  - {code: demo-001, name: 示范村, township: 示范镇, adults: 900, households: 320, "
                 "party_members: 30, representatives: 30, two_committees: 7,\n"
                 "     settings: {construction-project.selection_from: 30000, assembly_authorisation: 授权决定}}\n")
    result = runner.invoke(args=["import", bad])
    assert result.exit_code == 0, result.output
    # the village's stricter setting applies: 40,000 now needs 比选
    case = item("construction-project")
    case.start("wang", {**PROJECT, "budget": "40000"})
    case.do("zhang", "two_committees", MEETING_OK["two_committees"])
    case.refused("wang", "procurement_plan", {"method": "direct", "reason": "x"}, "method")


def test_construction_tender_fails_and_award_objection(app, item, api, clock):
    set_village(app, assembly_authorisation="授权决定")
    case = item("construction-project")
    case.start("wang", {**PROJECT, "budget": "600000", "contract_type": "services",
                        "resolution_case": resolution(api, matter="public_welfare", amount="600000")})
    case.do("zhang", "two_committees", MEETING_OK["two_committees"])
    case.do("wang", "procurement_plan", {"method": "tender", "reason": "进入镇交易中心"})
    case.do("zhao", "review_procurement_plan", APPROVE)
    tender = {**BID, "price": "590000"}
    case.refused("zhou", "tender", tender, "platform")
    case.do("zhou", "tender", {**tender, "bid_outcome": "failed", "bidders": 1})
    assert case.ready() == ["procurement_plan"], "流标: plan again"
    case.do("wang", "procurement_plan", {"method": "tender", "reason": "重新招标"})
    case.do("zhao", "review_procurement_plan", APPROVE)
    case.do("zhou", "tender", {**tender, "platform": "示范镇公共资源交易中心 ZB-2026-003"})
    case.do("wang", "draft_award_disclosure", NOTICE)
    case.do("zhao", "review_award_disclosure", APPROVE)
    entry = case.board()[0]
    assert entry["kind"] == "notice" and entry["case"] == case.case["id"]
    r = case.client(None).post(f"/board/{entry['id']}/objections", json={"name": "刘村民", "text": "中标人资质不符"})
    assert r.status_code == 201
    assert case.ready() == ["reply_award_objection"]
    case.do("zhao", "reply_award_objection", {"decision": "uphold", "reply": "经核实资质不符，重新确定发包方式"})
    assert case.ready() == ["procurement_plan"]


def test_construction_two_committees_vote_no_returns_to_the_proposal(app, item):
    case = item("construction-project")
    case.start("wang", {**PROJECT, "budget": "30000"})
    case.do("zhang", "two_committees", {**MEETING_OK["two_committees"], "approve": 3, "oppose": 4})
    assert case.ready() == ["propose_project"]
    case.do("wang", "propose_project", {**PROJECT, "budget": "30000", "withdraw": True})
    assert case.status == "withdrawn"


# ---------------------------------------------------------------------------- A3 procurement

PURCHASE = {"item": "办公桌椅", "quantity": "桌子2张、椅子4把", "budget": "1500", "reason": "村委会办公室更新"}
QUOTE = {"quoted_on": "2026-03-02", "suppliers": "甲家具店，1500\n乙家具店，1600\n丙家具店，1700", "chosen": "甲家具店",
         "price": "1500", "channel": "village"}
PURCHASE_ACCEPT = {"accepted_on": "2026-03-02", "acceptance_result": "pass", "amount": "1500",
                   "panel": "李委员，两委成员\n钱监委，监委会成员", "supervisor_member": "钱监委"}


def test_procurement_small_purchase_happy_path(item, clock):
    case = item("procurement")
    case.start("li", PURCHASE)
    assert case.ready() == ["approve_purchase"], "2,000 or less: the director approves"
    case.do("wang", "approve_purchase", APPROVE)
    case.do("zhao", "review_purchase", APPROVE)
    case.refused("li", "quotation", {**QUOTE, "chosen": "丁家具店"}, "chosen")
    case.refused("li", "quotation", {**QUOTE, "price": "1501"}, "price")
    case.do("li", "quotation", QUOTE)
    case.refused("li", "acceptance", {**PURCHASE_ACCEPT, "supervisor_member": ""}, "supervisor_member")
    case.refused("li", "acceptance", {**PURCHASE_ACCEPT, "panel": "李委员，两委成员"}, "panel")
    case.do("li", "acceptance", PURCHASE_ACCEPT)
    case.refused("sun", "payment", {**PAY, "amount": "1500", "method": "cash"}, "method")
    case.do("sun", "payment", {**PAY, "amount": "1500"})
    case.disclose("result", clock)
    assert case.status == "completed"


@pytest.mark.parametrize("budget,first", [("2000", "approve_purchase"), ("2001", "joint_meeting")])
def test_procurement_joint_meeting_edge(item, budget, first):
    case = item("procurement")
    case.start("li", {**PURCHASE, "budget": budget})
    assert case.ready() == [first]


def test_procurement_tiers_need_quotes_link_and_platform(item, api):
    case = item("procurement")
    r = case.start("li", {**PURCHASE, "budget": "50001"}, status=422)
    assert "resolution_case" in r.get_json()["error"]["fields"]
    case.start("li", {**PURCHASE, "budget": "50000"})
    assert case.ready() == ["joint_meeting"]
    big = item("procurement")
    big.start("li", {**PURCHASE, "budget": "200001", "resolution_case": resolution(api, amount="300000")})
    big.do("zhang", "joint_meeting", MEETING_OK["two_committees"])
    big.do("wang", "approve_purchase", APPROVE)
    big.do("zhao", "review_purchase", APPROVE)
    quote = {**QUOTE, "suppliers": "甲，200000\n乙，200001", "chosen": "甲", "price": "200000"}
    big.refused("li", "quotation", quote, "suppliers")
    quote["suppliers"] += "\n丙，200100"
    big.refused("li", "quotation", quote, "channel")
    big.refused("li", "quotation", {**quote, "channel": "platform"}, "platform_ref")
    big.do("li", "quotation", {**quote, "channel": "platform", "platform_ref": "CG-2026-09"})
    assert big.ready() == ["acceptance"]


def test_procurement_rejections(item):
    case = item("procurement")
    case.start("li", {**PURCHASE, "budget": "3000"})
    case.do("zhang", "joint_meeting", {**MEETING_OK["two_committees"], "attended": 2, "approve": 2, "oppose": 0})
    assert case.ready() == ["joint_meeting"]
    case.do("zhang", "joint_meeting", MEETING_OK["two_committees"])
    case.do("wang", "approve_purchase", {"decision": "reject", "opinion": "暂缓购置"})
    assert case.status == "rejected"


# ---------------------------------------------------------------------------- A4 asset disposal

DISPOSAL = {"asset": "村北荒地50亩（ZY-012）", "asset_type": "land", "method": "contract", "outsider": True,
            "term_years": 10, "reserve_price": "80000", "valuation": "参照周边流转价格，每亩每年160元"}
TRADE = {"traded_on": "2026-03-02", "bid_outcome": "awarded", "bidders": 2, "winner": "某某农业公司", "price": "86000",
         "platform": "县农村产权交易中心 CQ-2026-11"}


def test_asset_disposal_land_to_outsider(app, item, api, clock):
    # Art. 24(8) needs the 村民会议; land to an outsider needs two thirds of ALL members (R22)
    weak = resolution(api, matter="asset_disposal", assembly="villager_assembly", attended=700, approve=599,
                      oppose=50, abstain=51)
    case = item("asset-disposal")
    r = case.start("wang", {**DISPOSAL, "resolution_case": weak}, status=422)
    assert "三分之二" in r.get_json()["error"]["message"]
    strong = resolution(api, matter="asset_disposal", assembly="villager_assembly", attended=700, approve=600,
                        oppose=50, abstain=50)
    case.start("wang", {**DISPOSAL, "resolution_case": strong})
    case.do("zhao", "review_plan", APPROVE)
    assert case.ready() == ["township_approval"]
    approval = {"decision": "approve", "approved_on": "2026-03-02"}
    case.refused("zhou", "township_approval", approval, "credit_checked")
    case.do("zhou", "township_approval", {**approval, "credit_checked": True})
    assert case.ready() == ["public_trading"], "above 50,000 the trade goes to the platform (R40)"
    case.refused("zhou", "public_trading", {**TRADE, "price": "79999"}, "price")
    case.refused("zhou", "public_trading", {**TRADE, "platform": ""}, "platform")
    case.do("zhou", "public_trading", TRADE)
    case.disclose("deal", clock)
    contract = {"signed_on": today(clock), "counterparty": "某某农业公司", "contract_no": "ZL-2026-02", "price": "86000",
                "term": "10年", "filed_with": "镇三资管理平台", "entity": "cooperative", "starts_on": "2026-04-01",
                "ends_on": "2036-03-31", "every_months": 12, "period_amount": "8600"}
    case.refused("wang", "contract", {**contract, "price": "85999"}, "price")
    case.do("wang", "contract", contract)
    case.do("zhao", "review_contract", APPROVE)
    assert case.status == "completed"


def test_asset_disposal_refusals_and_village_trade(app, item, api):
    case = item("asset-disposal")
    local = {**DISPOSAL, "asset_type": "building", "outsider": False, "reserve_price": "50000"}
    r = case.start("wang", local, status=422)
    assert "resolution_case" in r.get_json()["error"]["fields"]
    # A resolution of the 村民代表会议 made under an authorisation that has since been withdrawn.
    set_village(app, assembly_authorisation="2025年第1次村民会议授权决定")
    reps = resolution(api, matter="asset_disposal")
    set_village(app, assembly_authorisation="")
    r = case.start("wang", {**local, "resolution_case": reps}, status=422)
    assert "村民会议" in r.get_json()["error"]["message"], "R2: Art. 24 matters need the 村民会议"
    r = case.start("wang", {**local, "method": "guarantee", "resolution_case": reps, "outsider": True}, status=422)
    assert "method" in r.get_json()["error"]["fields"], "R39"
    wrong = resolution(api, matter="major_spending")
    r = case.start("wang", {**local, "resolution_case": wrong}, status=422)
    assert "本事项须依据" in r.get_json()["error"]["message"]
    set_village(app, assembly_authorisation="2025年第1次村民会议授权村民代表会议决定集体资产处置事项")
    case.start("wang", {**local, "resolution_case": reps})
    case.do("zhao", "review_plan", APPROVE)
    assert case.ready() == ["local_trading"], "exactly 50,000: in the village"
    case.do("wang", "local_trading", {**TRADE, "bid_outcome": "failed", "bidders": 0, "platform": ""})
    assert case.ready() == ["plan"], "流拍: a new plan"
    case.do("wang", "plan", {**local, "reserve_price": "50001", "resolution_case": reps})
    case.do("zhao", "review_plan", APPROVE)
    assert case.ready() == ["public_trading"]


# ---------------------------------------------------------------------------- A7 cadre allowance

ALLOWANCE = {"year": 2026, "standard": "主任每年12000元，委员每年8000元",
             "recipients": "王主任，村委会主任，12000\n李委员，村委会委员，8000", "total": "20000"}


def test_cadre_allowance_happy_path_with_objection(item, api, clock):
    link = resolution(api, matter="allowance", assembly="villager_assembly", amount="20000")
    case = item("cadre-allowance")
    r = case.start("wang", ALLOWANCE, status=422)
    assert "resolution_case" in r.get_json()["error"]["fields"]
    r = case.start("wang", {**ALLOWANCE, "total": "20001", "resolution_case": link}, status=422)
    assert "total" in r.get_json()["error"]["fields"]
    case.start("wang", {**ALLOWANCE, "resolution_case": link})
    case.do("zhao", "review_list", APPROVE)
    case.do("wang", "draft_allowance_disclosure", NOTICE)
    case.do("zhao", "review_allowance_disclosure", APPROVE)
    entry = case.board()[0]
    case.client(None).post(f"/board/{entry['id']}/objections", json={"name": "村民甲", "text": "名单有误"})
    case.do("qian", "reply_allowance_objection", {"decision": "uphold", "reply": "名单更正后重新公示"})
    assert case.ready() == ["allowance_list"]
    case.do("wang", "allowance_list", {**ALLOWANCE, "resolution_case": link})
    case.do("zhao", "review_list", APPROVE)
    case.disclose("allowance", clock)
    case.refused("sun", "payment", {**PAY, "amount": "20001"}, "amount")
    case.do("sun", "payment", {**PAY, "paid_on": today(clock), "amount": "20000"})
    case.do("zhao", "review_payment", APPROVE)
    assert case.status == "completed"
    assert case.data_of("allowance_list")["resolution_body"] == "villager_assembly"


def test_cadre_allowance_needs_the_villager_assembly(app, item, api):
    case = item("cadre-allowance")
    set_village(app, assembly_authorisation="2025年第1次村民会议授权决定")
    reps = resolution(api, matter="allowance", amount="20000")
    set_village(app, assembly_authorisation="")  # withdrawn since
    r = case.start("wang", {**ALLOWANCE, "resolution_case": reps}, status=422)
    assert "须由村民会议决定" in r.get_json()["error"]["message"]
    other = resolution(api, matter="major_spending", assembly="villager_assembly")
    r = case.start("wang", {**ALLOWANCE, "resolution_case": other}, status=422)
    assert "享受误工补贴的人员及补贴标准" in r.get_json()["error"]["message"]


def test_linked_resolution_of_a_completed_case(app, item, api, clock):
    walk = Walk(api)
    walk.start(matter="allowance", assembly="villager_assembly", amount="20000")
    walk.to_resolution("villager_assembly")
    walk.disclose("resolution")
    clock.advance(days=7, seconds=1)
    app.extensions["cunwu"].run_timers()
    walk.do(walk.director, "implement", {"summary": "已执行", "amount_spent": "0"})
    walk.review("review_implementation")
    walk.disclose("result")
    clock.advance(days=7, seconds=1)
    app.extensions["cunwu"].run_timers()
    assert walk.refresh()["status"] == "completed"
    case = item("cadre-allowance")
    case.start("wang", {**ALLOWANCE, "resolution_case": walk.case["id"]})
    assert case.ready() == ["review_list"]


def test_linked_resolution_with_an_upheld_objection_is_refused(item, api):
    walk = Walk(api)
    walk.start(matter="allowance", assembly="villager_assembly", amount="20000")
    walk.to_resolution("villager_assembly")
    walk.disclose("resolution")
    entry = walk.board()[0]
    walk.public.post(f"/board/{entry['id']}/objections", json={"name": "甲", "text": "标准过高"})
    walk.do(walk.supervisor, "reply_resolution_objection", {"decision": "uphold", "reply": "重新研究"})
    case = item("cadre-allowance")
    r = case.start("wang", {**ALLOWANCE, "resolution_case": walk.case["id"]}, status=422)
    assert "异议成立" in r.get_json()["error"]["message"]


def test_hold_on_the_linked_case_blocks_the_link(item, api):
    link = resolution(api, matter="allowance", assembly="villager_assembly", amount="20000")
    zhao = api("zhao")
    assert zhao.post(f"/instances/{link}/hold", json={"reason": "群众反映表决有问题"}).status_code == 200
    case = item("cadre-allowance")
    r = case.start("wang", {**ALLOWANCE, "resolution_case": link}, status=422)
    assert "暂停" in r.get_json()["error"]["message"]


# ---------------------------------------------------------------------------- A8 party admission (R55)

APPLICATION = {"applicant": "周小青", "birth_date": "2000-05-01", "applied_on": "2024-01-10", "summary": "申请加入中国共产党"}
TALK = {"talked_on": "2024-02-01", "talker": "张书记", "notes": "了解入党动机"}
ACTIVIST = {"activist_on": "2024-03-01", "method": "members", "mentors": "张书记\n李委员", "filed": True}
CANDIDATE = {"candidate_on": "2025-03-01", "opinions": "党员群众普遍认可", "sponsors": "张书记\n李委员",
             "vetting_on": "2025-12-01", "training_hours": 24}


def _to_candidate(case: Item) -> None:
    case.start("zhang", APPLICATION)
    case.do("zhang", "talk", TALK)
    case.do("zhang", "activist", ACTIVIST)
    case.do("zhang", "candidate", CANDIDATE)
    case.do("zhang", "committee_review", COMMITTEE_OK)


COMMITTEE_OK = {"reviewed_on": "2025-03-05", "decision": "approve"}


def _party_notice(case: Item, clock) -> None:
    """发展对象公示: the 党支部 drafts and posts it itself (no 监委会 review)."""
    case.do("zhang", "draft_candidate_disclosure", {"content": "发展对象公示", "notice_days": 7})
    assert case.board()[0]["in_notice"]
    case.timers(clock, 7)


def test_party_admission_happy_path(app, item, clock):
    case = item("party-admission")
    _to_candidate(case)
    case.do("zhou", "precheck", {"decision": "approve", "approved_on": today(clock)})
    _party_notice(case, clock)
    assert case.ready() == ["issue_form"], "公示 before the application form is issued"
    case.do("zhang", "issue_form", {"issued_on": today(clock), "form_no": "RD-2026-01"})
    held = today(clock)
    case.do("zhang", "branch_meeting", {**MEETING_OK["party_members"], "held_on": held, "attended": 14, "approve": 14, "oppose": 0, "abstain": 0})
    assert case.ready() == ["branch_meeting"], "流会 below half of the members"
    case.do("zhang", "branch_meeting", {**MEETING_OK["party_members"], "held_on": held})
    approval = {"decision": "approve", "approved_on": today(clock)}
    case.refused("zhou", "approve_admission", approval, "talk_done")
    case.do("zhou", "approve_admission", {**approval, "talk_done": True})
    assert case.ready() == ["oath"], "入党宣誓 after the approval"
    case.do("zhang", "oath", {"sworn_on": today(clock), "organiser": "示范镇党委"})
    assert case.ready() == [] and case.waiting() == ["probation"], "预备期一年"
    clock.advance(days=300)
    app.extensions["cunwu"].run_timers()
    assert case.ready() == []
    clock.advance(days=70)
    app.extensions["cunwu"].run_timers()
    assert case.ready() == ["full_proposal"]
    case.do("zhang", "full_proposal", {"proposed_on": today(clock), "conclusion": "full"})
    case.do("zhang", "full_member", {**MEETING_OK["party_members"], "held_on": today(clock)})
    case.do("zhou", "approve_full", {"decision": "approve", "approved_on": today(clock)})
    assert case.status == "completed"
    assert case.data_of("approve_admission")["rules_version"] == "organic-law-2025"


def test_party_admission_time_guards(item):
    case = item("party-admission")
    r = case.start("zhang", {**APPLICATION, "birth_date": "2006-01-11"}, status=422)
    assert "birth_date" in r.get_json()["error"]["fields"], "18 years old on the application date"
    case.start("zhang", APPLICATION)
    # talk within one month, else a reason
    case.refused("zhang", "talk", {**TALK, "talked_on": "2024-02-11"}, "talked_on")
    case.do("zhang", "talk", {**TALK, "talked_on": "2024-02-11", "late_reason": "书记外出学习"})
    assert case.data_of("talk")["talk_overdue"] is True
    case.refused("zhang", "activist", {**ACTIVIST, "filed": False}, "filed")
    case.refused("zhang", "activist", {**ACTIVIST, "mentors": "甲\n乙\n丙"}, "mentors")
    case.do("zhang", "activist", ACTIVIST)
    # at least one year as an activist
    case.refused("zhang", "candidate", {**CANDIDATE, "candidate_on": "2025-02-28"}, "candidate_on")
    case.refused("zhang", "candidate", {**CANDIDATE, "sponsors": "张书记"}, "sponsors")
    case.refused("zhang", "candidate", {**CANDIDATE, "training_hours": 23}, "training_hours")
    case.refused("zhang", "candidate", {**CANDIDATE, "vetting_on": "2099-01-01"}, "vetting_on")
    case.do("zhang", "candidate", CANDIDATE)
    # 支部委员会审查 (细则第十九条): not before the candidate was named; a return needs a reason
    case.refused("zhang", "committee_review", {**COMMITTEE_OK, "reviewed_on": "2025-02-28"}, "reviewed_on")
    case.refused("zhang", "committee_review", {**COMMITTEE_OK, "decision": "return"}, "opinion")
    case.do("zhang", "committee_review", {**COMMITTEE_OK, "decision": "return", "opinion": "考察材料不全"})
    assert case.ready() == ["candidate"]
    case.do("zhang", "candidate", CANDIDATE)
    case.do("zhang", "committee_review", COMMITTEE_OK)
    assert case.ready() == ["precheck"]
    case.do("zhou", "precheck", {"decision": "return", "approved_on": "2026-03-02", "opinion": "培养考察材料不全"})
    assert case.ready() == ["candidate"]


@pytest.mark.parametrize("after,outcome", [(95, "reason"), (190, "too_late")])
def test_party_admission_approval_within_three_months(item, clock, after, outcome):
    case = item("party-admission")
    _to_candidate(case)
    case.do("zhou", "precheck", {"decision": "approve", "approved_on": today(clock)})
    _party_notice(case, clock)
    case.do("zhang", "issue_form", {"issued_on": today(clock), "form_no": "RD-2026-02"})
    case.do("zhang", "branch_meeting", {**MEETING_OK["party_members"], "held_on": today(clock)})
    clock.advance(days=after)  # the 乡镇党委 approves months after the 支部大会
    approval = {"decision": "approve", "approved_on": today(clock), "talk_done": True}
    if outcome == "reason":  # more than 3 months after the meeting: only with a reason
        case.refused("zhou", "approve_admission", approval, "extension_reason")
        case.do("zhou", "approve_admission", {**approval, "extension_reason": "上级党委集中审批"})
        assert case.ready() == ["oath"]
    else:  # more than 6 months: may not be approved any more
        case.refused("zhou", "approve_admission", {**approval, "extension_reason": "x"}, "approved_on")
        case.do("zhou", "approve_admission", {"decision": "reject", "approved_on": today(clock),
                                               "extension_reason": "超期", "opinion": "超过六个月，重新履行程序"})
        assert case.status == "rejected"


def test_party_admission_objection_and_failed_vote(app, item, clock):
    case = item("party-admission")
    _to_candidate(case)
    case.do("zhou", "precheck", {"decision": "approve", "approved_on": today(clock)})
    draft = case.client("zhang").get(f"/tasks/{case.task('draft_candidate_disclosure')['id']}").get_json()
    assert "向党支部提出" in draft["prefill"]["content"]
    case.do("zhang", "draft_candidate_disclosure", NOTICE)
    assert case.ready() == [], "the 党支部 posts the 发展对象公示 itself: no 监委会 review"
    entry = case.board()[0]
    case.client(None).post(f"/board/{entry['id']}/objections", json={"name": "党员乙", "text": "有违纪行为"})
    # the objection belongs to the 党支部, not the 监委会: the 党支部 is told, the 监委会 is not
    from sqlalchemy import select

    from engine.store.models import Notification, User

    with app.extensions["cunwu"].sessions() as session:
        told = set(session.scalars(select(User.username).join(Notification, Notification.user_id == User.id)
                                   .where(Notification.kind == "objection")))
    assert "zhang" in told and "zhao" not in told
    reply = {"decision": "dismiss", "reply": "经核实不属实"}
    assert case.do("zhao", "reply_candidate_objection", reply, status=403)
    case.do("zhang", "reply_candidate_objection", reply)
    case.timers(clock, 7)
    case.do("zhang", "issue_form", {"issued_on": today(clock), "form_no": "RD-2026-03"})
    case.do("zhang", "branch_meeting", {**MEETING_OK["party_members"], "approve": 15, "oppose": 10, "abstain": 0})
    assert case.status == "rejected"


def _to_branch_meeting(case: Item, clock) -> None:
    _to_candidate(case)
    case.do("zhou", "precheck", {"decision": "approve", "approved_on": today(clock)})
    _party_notice(case, clock)
    case.do("zhang", "issue_form", {"issued_on": today(clock), "form_no": "RD-2026-09"})


BRANCH = {**MEETING_OK["party_members"], "minutes": "支部大会讨论接收预备党员", "oppose": 0, "abstain": 0}


@pytest.mark.parametrize("written,outcome", [(1, "rejected"), (2, "approve_admission")])
def test_party_admission_written_opinions_count_as_votes(item, clock, written, outcome):
    """细则第二十一条: written opinions of absent voting members count as votes (30 should attend:
    14 present approvals + 1 written = 15 is not above half, + 2 written = 16 is)."""
    case = item("party-admission")
    _to_branch_meeting(case, clock)
    case.do("zhang", "branch_meeting", {**BRANCH, "held_on": today(clock), "attended": 16, "approve": 14,
                                        "oppose": 2, "written_approve": written, "written_oppose": 1})
    if outcome == "rejected":
        assert case.status == "rejected"
    else:
        assert case.ready() == ["approve_admission"]
        assert "书面意见赞成2票" in case.data_of("branch_meeting")["outcome_reason"]


def test_party_admission_written_opinions_are_not_attendance(item, clock):
    case = item("party-admission")
    _to_branch_meeting(case, clock)
    # 15 of 30 present is no quorum however many absent members wrote in
    case.do("zhang", "branch_meeting", {**BRANCH, "held_on": today(clock), "attended": 15, "approve": 15,
                                        "written_approve": 15})
    assert case.ready() == ["branch_meeting"] and case.data_of("branch_meeting")["outcome"] == "lapsed"
    # no more written opinions than absent members (30 - 25 = 5)
    message = case.refused("zhang", "branch_meeting", {**BRANCH, "held_on": today(clock), "attended": 25,
                                                       "approve": 20, "written_approve": 4, "written_oppose": 2},
                           "written_approve")
    assert "未到5人" in message
    case.do("zhang", "branch_meeting", {**BRANCH, "held_on": today(clock), "attended": 25, "approve": 20,
                                        "written_approve": 4, "written_oppose": 1})
    assert case.ready() == ["approve_admission"]


def test_party_admission_probation_runs_from_the_branch_meeting(app, item, clock):
    """党章第七条: the 预备期 is counted from the day the 支部大会 passed, not from the approval."""
    case = item("party-admission")
    _to_branch_meeting(case, clock)
    held = today(clock)
    case.do("zhang", "branch_meeting", {**BRANCH, "held_on": held})
    clock.advance(days=95)
    case.do("zhou", "approve_admission", {"decision": "approve", "approved_on": today(clock), "talk_done": True,
                                          "extension_reason": "上级党委集中审批"})
    assert case.data_of("approve_admission")["probation_from"] == held
    case.do("zhang", "oath", {"sworn_on": today(clock), "organiser": "村党支部"})
    clock.advance(days=365 - 95 - 1)
    app.extensions["cunwu"].run_timers()
    assert case.waiting() == ["probation"], "one year after the 支部大会 is not over yet"
    clock.advance(days=2)
    app.extensions["cunwu"].run_timers()
    assert case.waiting() == [] and case.ready() == ["full_proposal"], "a year after the 支部大会, not after the approval"


def _to_probation_end(app, case: Item, clock) -> None:
    _to_branch_meeting(case, clock)
    case.do("zhang", "branch_meeting", {**BRANCH, "held_on": today(clock)})
    case.do("zhou", "approve_admission", {"decision": "approve", "approved_on": today(clock), "talk_done": True})
    case.do("zhang", "oath", {"sworn_on": today(clock), "organiser": "村党支部"})
    clock.advance(days=366)
    app.extensions["cunwu"].run_timers()
    assert case.ready() == ["full_proposal"]


def test_party_admission_oath_follows_the_approval(item, clock):
    """党章第六条: the 预备党员 takes the oath, after the 乡镇党委 approved the admission."""
    case = item("party-admission")
    _to_branch_meeting(case, clock)
    case.do("zhang", "branch_meeting", {**BRANCH, "held_on": today(clock)})
    clock.advance(days=2)
    approved = today(clock)
    case.do("zhou", "approve_admission", {"decision": "approve", "approved_on": approved, "talk_done": True})
    assert case.ready() == ["oath"] and case.waiting() == []
    from datetime import date, timedelta

    before = (date.fromisoformat(approved) - timedelta(days=1)).isoformat()
    case.refused("zhang", "oath", {"sworn_on": before, "organiser": "村党支部"}, "sworn_on")
    case.do("zhang", "oath", {"sworn_on": approved, "organiser": "村党支部"})
    assert case.waiting() == ["probation"]


def test_party_admission_probation_extended_once_then_a_second_vote(app, item, clock):
    """党章第七条: 延长预备期 (at most one year), then the 支部大会 votes again: 转正 or 取消, never a second extension."""
    case = item("party-admission")
    _to_probation_end(app, case, clock)
    extend = {"proposed_on": today(clock), "conclusion": "extend", "reason": "需要继续考察"}
    case.refused("zhang", "full_proposal", {**extend, "extend_months": 13}, "extend_months")
    case.refused("zhang", "full_proposal", {**extend, "extend_months": 5}, "extend_months")
    case.refused("zhang", "full_proposal", {**extend, "reason": "", "extend_months": 6}, "reason")
    case.do("zhang", "full_proposal", {**extend, "extend_months": 12})
    case.do("zhang", "full_member", {**BRANCH, "held_on": today(clock)})
    case.do("zhou", "approve_full", {"decision": "approve", "approved_on": today(clock)})
    assert case.waiting() == ["extension"] and case.status == "running"
    clock.advance(days=360)
    app.extensions["cunwu"].run_timers()
    assert case.ready() == [], "the extension of twelve months is not over"
    clock.advance(days=10)
    app.extensions["cunwu"].run_timers()
    assert case.ready() == ["full_proposal"]
    message = case.refused("zhang", "full_proposal", {**extend, "proposed_on": today(clock), "extend_months": 6},
                           "conclusion")
    assert "可以延长一次预备期" in message
    case.do("zhang", "full_proposal", {"proposed_on": today(clock), "conclusion": "full"})
    case.do("zhang", "full_member", {**BRANCH, "held_on": today(clock)})
    case.do("zhou", "approve_full", {"decision": "approve", "approved_on": today(clock)})
    assert case.status == "completed"


def test_party_admission_full_vote_never_ends_in_not_admitted(app, item, clock):
    """A failed 转正 vote or a refused approval goes back to the 支部; 取消预备党员资格 is its own end."""
    case = item("party-admission")
    _to_probation_end(app, case, clock)
    case.do("zhang", "full_proposal", {"proposed_on": today(clock), "conclusion": "full"})
    case.do("zhang", "full_member", {**BRANCH, "held_on": today(clock), "attended": 20, "approve": 15})
    assert case.ready() == ["full_proposal"] and case.status == "running", "未通过: the 支部 discusses again"
    case.do("zhang", "full_proposal", {"proposed_on": today(clock), "conclusion": "full"})
    case.do("zhang", "full_member", {**BRANCH, "held_on": today(clock)})
    case.do("zhou", "approve_full", {"decision": "reject", "approved_on": today(clock), "opinion": "材料不全"})
    assert case.ready() == ["full_proposal"]
    case.do("zhang", "full_proposal", {"proposed_on": today(clock), "conclusion": "cancel", "reason": "不履行党员义务"})
    case.do("zhang", "full_member", {**BRANCH, "held_on": today(clock)})
    case.do("zhou", "approve_full", {"decision": "approve", "approved_on": today(clock)})
    assert case.status == "rejected"
    ends = [h for h in case.refresh()["history"] if "不予发展" in (h.get("summary") or "")]
    assert not ends


def test_party_admission_lanes_are_the_branch_and_the_township_party_committee(item):
    """党内事务: the 党支部 and the 乡镇党委 (held by township_official), never the 监委会."""
    steps = item("party-admission").client("zhao").get("/processes/party-admission").get_json()
    lanes = {lane["name"] for lane in steps["lanes"]}
    assert lanes == {"村党组织书记", "乡镇党委", "乡镇纪委"}
    from engine.domain.roles import role_for_lane

    assert role_for_lane("乡镇党委") == "township_official"
    by_id = {s["id"]: s for s in steps["steps"]}
    assert by_id["committee_review"]["name"] == "支部委员会审查"


# ---------------------------------------------------------------------------- A9 member confirmation

# 600 members, of whom 540 have full civil capacity (the others are minors): the 成员大会 is the 540.
ROSTER = {"basis_date": "2026-01-01", "members_total": 600, "capable_total": 540,
          "criteria": "户籍在本村且以集体土地为基本生活保障",
          "added": "张小宝，新出生", "removed": "李四妹，女，出嫁\n王五，男，死亡"}
ASSEMBLY = {"held_on": "2026-03-02", "attended": 360, "approve": 360, "oppose": 0, "abstain": 0, "minutes": "成员大会表决名单"}


def confirmed_roster(case: Item, clock) -> int:
    """Drive a member confirmation to completion; return its case id."""
    case.start("wang", ROSTER)
    case.do("zhao", "review_roster", APPROVE)
    case.do("qian", "review_removals", {"decision": "confirm", "checked_new_membership": True,
                                        "opinion": "已在婚入村取得成员身份"})
    case.disclose("roster", clock)
    case.do("wang", "member_assembly", {**ASSEMBLY, "held_on": today(clock)})
    case.do("zhou", "file_roster", {"filed_on": today(clock), "filed_with": "示范镇人民政府", "receipt": "BA-01"})
    assert case.status == "completed"
    return case.case["id"]


def test_member_confirmation_happy_path(item, clock):
    case = item("member-confirmation")
    case.start("wang", ROSTER)
    case.do("zhao", "review_roster", APPROVE)
    assert case.ready() == ["review_removals"], "a married-out woman's removal is flagged for review"
    case.refused("qian", "review_removals", {"decision": "confirm", "opinion": "同意"}, "checked_new_membership")
    case.do("qian", "review_removals", {"decision": "confirm", "checked_new_membership": True, "opinion": "已核实"})
    case.disclose("roster", clock)
    # 农村集体经济组织法 第二十六条、第二十七条: the assembly is the 540 members with full civil capacity;
    # two thirds of them must attend (360) and two thirds of them must approve (360): one below lapses / fails
    case.do("wang", "member_assembly", {**ASSEMBLY, "held_on": today(clock), "attended": 359, "approve": 359})
    assert case.ready() == ["member_assembly"], "流会"
    assert case.data_of("member_assembly")["outcome"] == "lapsed"
    case.do("wang", "member_assembly", {**ASSEMBLY, "held_on": today(clock), "approve": 359, "oppose": 1})
    assert case.ready() == ["roster"], "未通过: revise the roster"
    case.do("wang", "roster", {**ROSTER, "removed": "王五，男，死亡"})
    case.do("zhao", "review_roster", APPROVE)
    assert case.ready() == ["draft_roster_disclosure"], "no married-out removal: no special review"
    case.disclose("roster", clock)
    # more present than members with full capacity is impossible (the minors do not sit)
    case.refused("wang", "member_assembly", {**ASSEMBLY, "held_on": today(clock), "attended": 541}, "attended")
    # exactly two thirds of the 540 present and approving (not two thirds of the 600 roster) passes
    case.do("wang", "member_assembly", {**ASSEMBLY, "held_on": today(clock)})
    assert case.data_of("member_assembly")["should_attend"] == 540
    case.do("zhou", "file_roster", {"filed_on": today(clock), "filed_with": "示范镇人民政府"})
    assert case.status == "completed"


def test_a_roster_recorded_before_the_capacity_count_falls_back_to_the_whole_roster(item, clock):
    """A running case whose roster predates ``capable_total``: the whole roster (600) is the base,
    which can only make the quorum harder to reach than the law's (the 540 with full capacity)."""
    from engine.store.models import TaskRow

    case = item("member-confirmation")
    case.start("wang", ROSTER)
    with case.app.extensions["cunwu"].transaction() as session:
        row = session.scalar(select(TaskRow).where(TaskRow.case_id == case.case["id"], TaskRow.form == "member_roster"))
        row.data = {k: v for k, v in row.data.items() if k not in ("roster_capable", "capable_total")}
    case.do("zhao", "review_roster", APPROVE)
    case.do("qian", "review_removals", {"decision": "confirm", "checked_new_membership": True, "opinion": "已核实"})
    case.disclose("roster", clock)
    case.do("wang", "member_assembly", {**ASSEMBLY, "held_on": today(clock)})  # 360 of 600: below two thirds
    data = case.data_of("member_assembly")
    assert data["outcome"] == "lapsed" and data["should_attend"] == 600 and "按成员总数计" in data["outcome_reason"]
    case.do("wang", "member_assembly", {**ASSEMBLY, "held_on": today(clock), "attended": 400, "approve": 400})
    assert case.ready() == ["file_roster"]


def test_member_roster_capacity_count_is_bounded(item):
    case = item("member-confirmation")
    for bad in ({**ROSTER, "capable_total": 601}, {k: v for k, v in ROSTER.items() if k != "capable_total"}):
        r = case.start("wang", bad, status=422)
        assert "capable_total" in r.get_json()["error"]["fields"]
    case.start("wang", {**ROSTER, "capable_total": 600})


def test_member_confirmation_refusals_and_withdrawal(item):
    case = item("member-confirmation")
    r = case.start("wang", {**ROSTER, "removed": "李四妹，出嫁"}, status=422)
    assert "removed" in r.get_json()["error"]["fields"]
    r = case.start("wang", {**ROSTER, "withdraw": True}, status=422)
    assert "withdraw" in r.get_json()["error"]["fields"]
    case.start("wang", ROSTER)
    case.do("zhao", "review_roster", APPROVE)
    case.do("qian", "review_removals", {"decision": "return", "opinion": "出嫁女未在婚入地取得成员身份，不得取消"})
    assert case.ready() == ["roster"]
    case.do("wang", "roster", {**ROSTER, "withdraw": True})
    assert case.status == "withdrawn"


# ---------------------------------------------------------------------------- A10 requisition distribution

COMPENSATION = {"requisition": "县道拓宽工程（某政征〔2026〕3号）", "land_owner": "village", "total": "1000000",
                "retained": "200000", "distributed": "800000", "recipients": 400, "per_capita": "2000"}


def test_requisition_distribution_happy_path(item, api, clock):
    roster = item("member-confirmation")
    roster_id = confirmed_roster(roster, clock)
    link = resolution(api, matter="requisition_compensation", assembly="villager_assembly", amount="1000000")
    case = item("requisition-distribution")
    plan = {**COMPENSATION, "resolution_case": link, "roster_case": roster_id}
    r = case.start("wang", {**plan, "roster_case": None}, status=422)
    assert "roster_case" in r.get_json()["error"]["fields"]
    r = case.start("wang", {**{k: v for k, v in plan.items() if k != "per_capita"}, "recipients": 601}, status=422)
    assert "recipients" in r.get_json()["error"]["fields"]
    r = case.start("wang", {**plan, "retained": "200001"}, status=422)
    assert "total" in r.get_json()["error"]["fields"]
    r = case.start("wang", {**plan, "land_owner": "group"}, status=422)
    assert "land_owner" in r.get_json()["error"]["fields"]
    r = case.start("wang", {**plan, "resolution_case": None}, status=422)
    assert "resolution_case" in r.get_json()["error"]["fields"]
    case.start("wang", plan)
    case.do("zhao", "review_plan", APPROVE)
    case.disclose("distribution", clock)
    case.refused("sun", "payment", {**PAY, "paid_on": today(clock), "amount": "800001"}, "amount")
    case.do("sun", "payment", {**PAY, "paid_on": today(clock), "amount": "800000", "method": "card"})
    case.do("zhao", "review_payment", APPROVE)
    case.disclose("result", clock)
    assert case.status == "completed"
    kinds = [e["kind"] for e in case.board() if e["case"] == case.case["id"]]
    assert kinds == ["result", "notice"]


def test_requisition_needs_a_completed_roster(item, api):
    roster = item("member-confirmation")
    roster.start("wang", ROSTER)
    link = resolution(api, matter="requisition_compensation", assembly="villager_assembly", amount="1000000")
    case = item("requisition-distribution")
    r = case.start("wang", {**COMPENSATION, "resolution_case": link, "roster_case": roster.case["id"]}, status=422)
    assert "尚未办结" in r.get_json()["error"]["message"]
    r = case.start("wang", {**COMPENSATION, "resolution_case": link, "roster_case": link}, status=422)
    assert "不是集体经济组织成员认定" in r.get_json()["error"]["message"]


# ---------------------------------------------------------------------------- documentation


def test_forms_are_documented():
    from pathlib import Path

    docs = (Path(__file__).resolve().parent.parent / "docs" / "forms.md").read_text(encoding="utf-8")
    contract = (Path(__file__).resolve().parent.parent.parent / "shared" / "CONTRACT.md")
    if contract.exists():  # the contract's six rows come first, exactly as they are
        rows = [r for r in contract.read_text(encoding="utf-8").splitlines() if r.startswith("| `")]
        form_rows = [r for r in rows if r.split("`")[1] in ("proposal", "meeting", "review", "disclosure",
                                                            "implementation", "objection_reply")]
        table = [r for r in docs.splitlines() if r.startswith("| `")]
        assert table[:6] == form_rows
    for key, schema in PUBLIC_FORMS.items():
        row = next((r for r in docs.splitlines() if r.startswith(f"| `{key}` |")), None)
        assert row, f"{key} is not in docs/forms.md"
        for name in schema().fields:
            assert f"`{name}`" in row, f"{key}.{name} is not documented"


def test_task_describes_its_form_fields(item):
    case = item("seal-use")
    case.start("li", SEAL)
    task = case.client("wang").get(f"/tasks/{case.task('approve_seal')['id']}").get_json()
    assert task["form"] == "approval"
    assert [f["name"] for f in task["fields"]] == ["decision", "opinion"]
    assert task["fields"][0]["choices"][0] == {"value": "approve", "label": "同意"}


# ---------------------------------------------------------------------------- objections on every disclosure


def _object_and_uphold(case: Item, stem: str, drafter: str = "wang") -> None:
    case.do(drafter, f"draft_{stem}_disclosure", NOTICE)
    case.do("zhao", f"review_{stem}_disclosure", APPROVE)
    entry = case.board()[0]
    assert entry["case"] == case.case["id"] and entry["in_notice"]
    r = case.client(None).post(f"/board/{entry['id']}/objections", json={"name": "村民丙", "text": "有异议"})
    assert r.status_code == 201
    assert case.ready() == [f"reply_{stem}_objection"]
    case.do("qian", f"reply_{stem}_objection", {"decision": "uphold", "reply": "异议成立，退回修改后重新公示"})


def test_objection_upheld_on_the_purchase_result(item, clock):
    case = item("procurement")
    case.start("li", PURCHASE)
    case.do("wang", "approve_purchase", APPROVE)
    case.do("zhao", "review_purchase", APPROVE)
    case.do("li", "quotation", QUOTE)
    case.do("li", "acceptance", PURCHASE_ACCEPT)
    case.do("sun", "payment", {**PAY, "amount": "1500"})
    _object_and_uphold(case, "result")
    assert case.ready() == ["acceptance"]


def test_objection_upheld_on_the_deal(app, item, api, clock):
    set_village(app, assembly_authorisation="授权决定")
    case = item("asset-disposal")
    case.start("wang", {**DISPOSAL, "asset_type": "building", "outsider": False, "reserve_price": "30000",
                        "resolution_case": resolution(api, matter="asset_disposal")})
    case.do("zhao", "review_plan", APPROVE)
    case.do("wang", "local_trading", {**TRADE, "price": "31000", "platform": ""})
    _object_and_uphold(case, "deal")
    assert case.ready() == ["plan"]


def test_objection_upheld_on_the_roster(item, clock):
    case = item("member-confirmation")
    case.start("wang", {**ROSTER, "removed": ""})
    case.do("zhao", "review_roster", APPROVE)
    _object_and_uphold(case, "roster")
    assert case.ready() == ["roster"]


def test_objection_upheld_on_the_distribution_plan(item, api, clock):
    roster_id = confirmed_roster(item("member-confirmation"), clock)
    link = resolution(api, matter="requisition_compensation", assembly="villager_assembly", amount="1000000")
    case = item("requisition-distribution")
    case.start("wang", {**COMPENSATION, "resolution_case": link, "roster_case": roster_id})
    case.do("zhao", "review_plan", APPROVE)
    _object_and_uphold(case, "distribution")
    assert case.ready() == ["plan"]


def test_rule_set_versions_of_the_decision_and_the_linked_resolution(item, api, clock):
    """D10: the claim records today's rule set; the link records the one its resolution was voted under."""
    from datetime import UTC, datetime

    clock.value = datetime(2025, 12, 20, 8, 0, tzinfo=UTC)
    link = resolution(api, held_on="2025-12-20")
    clock.value = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
    case = item("spending-approval")
    case.start("sun", {**CLAIM, "amount": "30000", "resolution_case": link})
    data = case.data_of("submit")
    assert data["rules_version"] == "organic-law-2025"
    assert data["resolution_rules_version"] == "organic-law-2018"
    assert data["resolution_held_on"] == "2025-12-20"


def test_every_act_of_a_case_is_dated_within_the_case(item, clock):
    """Issue 15: the date sanity of meetings for every date a cadre types. An act of this case (the
    seal stamped) cannot be dated before the case began, after today, or in a year no record has."""
    case = item("seal-use")
    case.start("li", SEAL)
    case.do("wang", "approve_seal", APPROVE)
    case.do("zhao", "review_seal", APPROVE)
    from datetime import date, timedelta

    day = date.fromisoformat(today(clock))
    for bad, words in (((day + timedelta(days=1)).isoformat(), "晚于今天"),
                       ((day - timedelta(days=1)).isoformat(), "早于本事项发起的日期"),
                       ("1900-03-02", "不合常理")):
        message = case.refused("li", "seal_log", {**SEAL_LOG, "stamped_on": bad}, "stamped_on")
        assert words in message, (bad, message)
    case.do("li", "seal_log", {**SEAL_LOG, "stamped_on": day.isoformat()})


def test_a_birth_date_is_a_date_a_person_can_have(item):
    case = item("party-admission")
    r = case.start("zhang", {**APPLICATION, "birth_date": "1880-05-01"}, status=422)
    assert "不合常理" in r.get_json()["error"]["fields"]["birth_date"][0]
    case.start("zhang", {**APPLICATION, "birth_date": "1950-05-01"})  # an applicant of 73 is possible


def test_the_full_member_proposal_waits_for_the_end_of_the_probation(app, item, clock):
    """党章第七条, 发展党员工作细则第三十二条: 预备期满, the 党支部 discusses 转正; the 支委会 cannot be
    dated inside the 预备期 (one year from the 支部大会)."""
    from datetime import date, timedelta

    case = item("party-admission")
    _to_probation_end(app, case, clock)
    began = date.fromisoformat(case.data_of("approve_admission")["probation_from"])
    ends = began.replace(year=began.year + 1)
    message = case.refused("zhang", "full_proposal", {"proposed_on": (ends - timedelta(days=1)).isoformat(),
                                                      "conclusion": "full"}, "proposed_on")
    assert f"预备期到{ends.isoformat()}才满" in message
    case.do("zhang", "full_proposal", {"proposed_on": ends.isoformat(), "conclusion": "full"})
