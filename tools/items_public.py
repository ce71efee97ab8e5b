"""The public-power items A2–A10 (村级公共权力事项) as BPMN processes.

Each builder returns a :class:`tools.bpmnkit.Process` whose key is the catalogue key in
``processes/catalogue.d/a-public.yaml``; ``python -m tools.build_processes`` writes
``processes/<key>.bpmn``. The forms are in ``engine/forms/`` (``projects.py``, ``office.py``, ``party.py``,
``members.py``; their helpers in ``shared.py``): where an item needs a
四议两公开 resolution it links a ``major-decision`` case in a form (checked there) instead of
repeating the four meetings. Every disclosure is reviewed by the 村务监督委员会 and takes
objections (``_disclosure``).
"""

from __future__ import annotations

from collections.abc import Callable

from tools.bpmnkit import Process
from tools.build_processes import (
    ACCOUNTANT,
    COMMITTEE_MEMBER,
    ESCALATED,
    FAILED,
    LAPSED,
    OBJECTIONS_OPEN,
    PARTY_SECRETARY,
    SUPERVISOR,
    TOWNSHIP_OFFICIAL,
    TOWNSHIP_PARTY,
    UPHELD,
    VILLAGE_DIRECTOR,
    _disclosure,
    _inspection,
    _meeting,
    _review,
)

WITHDRAW = "withdraw == True"
AGENCY = "乡镇三资委托代理服务中心"
AGENCY_REFUSED = 'decision == "refuse"'
REJECTED = 'decision == "reject"'
RETURNED = 'decision == "return"'
BID_FAILED = 'bid_outcome == "failed"'


def _publicise(p: Process, *, kind: str, stem: str, what: str, revise: str, after: str,
               lane: str = VILLAGE_DIRECTOR, redo: str | None = None) -> None:
    """``_disclosure`` named for this item: draft → supervisor review (posts ``kind``) → notice or objection.

    ``_disclosure`` drafts in the 村委会主任 lane; with another ``lane`` the draft and the notice
    period move there (the builder's lane list is borrowed for the moment). ``redo``: where a
    township inspection's 责令重做 of an escalated objection sends the case (default ``revise``)."""
    borrowed = VILLAGE_DIRECTOR not in p.lanes
    if borrowed:
        p.lanes.append(VILLAGE_DIRECTOR)
    _disclosure(p, kind=kind, draft=f"draft_{stem}_disclosure", draft_name=f"拟定{what}公示内容",
                review=f"review_{stem}_disclosure", review_name=f"监委会审核{what}公示",
                wait_name=f"{what}公示中", notice_name=f"{what}公示期满",
                reply=f"reply_{stem}_objection", reply_gw=f"gw_reply_{stem}", revise=revise, after=after,
                notice_label=f"{what}公示", redo=redo)
    p._nodes[f"reply_{stem}_objection"].name = f"答复{what}公示异议"
    if lane != VILLAGE_DIRECTOR:  # the drafter and the notice period belong to another role
        for node in (f"draft_{stem}_disclosure", f"wait_{kind}", f"notice_{kind}"):
            p._nodes[node].lane = lane
    if borrowed:
        p.lanes.remove(VILLAGE_DIRECTOR)


def _agency(p: Process, *, on_refuse: str, before: str = "payment") -> None:
    """代理中心审核入账 before every payment (R37, DOMAIN §3.3.5 step 5): every flow that led to
    ``before`` now leads to the agency's review; refused (不予受理, with the reason) → ``on_refuse``,
    where the village puts the record right; approved → ``before``. Call it last in a builder."""
    p.lanes.append(AGENCY)
    for fid, f in list(p._flows.items()):
        if f.target == before:
            del p._flows[fid]
            p.flow(f.source, "agency_review", f.name, condition=f.condition, default=f.default)
    p.user_task("agency_review", "代理中心审核入账", lane=AGENCY, form="agency_review", due_days=5)
    p.exclusive("gw_agency_review", lane=AGENCY)
    p.flow("agency_review", "gw_agency_review")
    p.flow("gw_agency_review", on_refuse, "不予受理", condition=AGENCY_REFUSED)
    p.flow("gw_agency_review", before, "审核通过", default=True)


def _withdrawable(p: Process, task: str, *, lane: str, after: str, label: str = "提交") -> None:
    """A revisable first step: ``withdraw`` ends the case as withdrawn."""
    gw = f"gw_{task}_withdraw"
    p.exclusive(gw, "是否撤回", lane=lane)
    p.end("end_withdrawn", "事项撤回", lane=lane)
    p.flow(task, gw)
    p.flow(gw, "end_withdrawn", "撤回", condition=WITHDRAW)
    p.flow(gw, after, label, default=True)


def _decide(p: Process, task: str, *, lane: str, on_reject: str, after: str, on_return: str | None = None,
            approve_label: str = "同意") -> None:
    """The gateway after an approval-style task: reject / (return) / approve."""
    gw = f"gw_{task}"
    p.exclusive(gw, lane=lane)
    p.flow(task, gw)
    p.flow(gw, on_reject, "不同意", condition=REJECTED)
    if on_return is not None:
        p.flow(gw, on_return, "退回", condition=RETURNED)
    p.flow(gw, after, approve_label, default=True)


# ---------------------------------------------------------------------------- A2


def construction_project() -> Process:
    """A2 村级工程项目建设与招投标: 立项（依决议）→ 两委定发包方式 → 招标/比选/直接发包 → 公示 → 合同 → 施工 → 验收 → 支付 → 结果公开."""
    p = Process(key="construction-project", name="村级工程项目建设与招投标",
                lanes=[VILLAGE_DIRECTOR, PARTY_SECRETARY, SUPERVISOR, TOWNSHIP_OFFICIAL, ACCOUNTANT])
    p.start("start", "项目提出", lane=VILLAGE_DIRECTOR)
    p.user_task("propose_project", "项目立项", lane=VILLAGE_DIRECTOR, form="project_proposal", due_days=10)
    p.flow("start", "propose_project")
    _withdrawable(p, "propose_project", lane=VILLAGE_DIRECTOR, after="two_committees", label="提交两委会议")
    _meeting(p, "two_committees", "村两委会议研究发包方式", lane=PARTY_SECRETARY, body="two_committees",
             extra_roles="committee_member", on_failed="propose_project", after="procurement_plan")
    p.user_task("procurement_plan", "确定发包方式", lane=VILLAGE_DIRECTOR, form="procurement_plan", due_days=10)
    p.flow("procurement_plan", "review_procurement_plan")
    _review(p, "review_procurement_plan", "监委会审核发包方案", back="procurement_plan", after="gw_method")

    p.exclusive("gw_method", "发包方式", lane=VILLAGE_DIRECTOR)
    p.user_task("tender", "公开招标（公共资源交易中心）", lane=TOWNSHIP_OFFICIAL, form="tender_record", due_days=60,
                method="tender")
    p.user_task("selection", "组织比选", lane=VILLAGE_DIRECTOR, form="tender_record", due_days=30, method="selection")
    p.user_task("direct_award", "直接发包", lane=VILLAGE_DIRECTOR, form="tender_record", due_days=15, method="direct")
    p.flow("gw_method", "tender", "公开招标", condition='method == "tender"')
    p.flow("gw_method", "selection", "比选", condition='method == "selection"')
    p.flow("gw_method", "direct_award", "直接发包", default=True)
    p.exclusive("gw_award", "是否流标", lane=VILLAGE_DIRECTOR)
    for task in ("tender", "selection", "direct_award"):
        p.flow(task, "gw_award")
    p.flow("gw_award", "procurement_plan", "流标", condition=BID_FAILED)
    p.flow("gw_award", "draft_award_disclosure", "确定中标人", default=True)
    _publicise(p, kind="notice", stem="award", what="中标（发包）结果", revise="procurement_plan", after="contract")

    p.user_task("contract", "签订施工合同并备案", lane=VILLAGE_DIRECTOR, form="contract", due_days=15, cap="award_price")
    p.user_task("implement", "组织施工", lane=VILLAGE_DIRECTOR, form="implementation")
    p.flow("contract", "implement")
    p.flow("implement", "review_implementation")
    _review(p, "review_implementation", "监委会监督施工情况", back="implement", after="acceptance")
    p.user_task("acceptance", "竣工验收", lane=VILLAGE_DIRECTOR, form="acceptance", due_days=30)
    p.exclusive("gw_acceptance", "验收结论", lane=VILLAGE_DIRECTOR)
    p.flow("acceptance", "gw_acceptance")
    p.flow("gw_acceptance", "implement", "限期整改", condition='acceptance_result == "rectify"')
    p.flow("gw_acceptance", "review_acceptance", "验收合格", default=True)
    _review(p, "review_acceptance", "监委会审核验收和结算", back="acceptance", after="payment")
    p.user_task("payment", "支付工程款", lane=ACCOUNTANT, form="payment", due_days=15, cap="contract_price")
    p.flow("payment", "draft_result_disclosure")
    _publicise(p, kind="result", stem="result", what="项目实施结果", revise="acceptance", after="end_completed")
    p.end("end_completed", "办结", lane=VILLAGE_DIRECTOR)
    _agency(p, on_refuse="acceptance")
    return p


# ---------------------------------------------------------------------------- A3


def procurement() -> Process:
    """A3 村级物资与服务采购: 申请 → 分级审批（联席会议 / 依决议）→ 监委会审核 → 比价 → 验收 → 报账 → 结果公开."""
    p = Process(key="procurement", name="村级物资与服务采购",
                lanes=[COMMITTEE_MEMBER, PARTY_SECRETARY, VILLAGE_DIRECTOR, SUPERVISOR, ACCOUNTANT])
    p.start("start", "提出采购需求", lane=COMMITTEE_MEMBER)
    p.user_task("request", "采购申请", lane=COMMITTEE_MEMBER, form="purchase_request", due_days=5)
    p.exclusive("gw_tier", "按金额分级", lane=COMMITTEE_MEMBER)
    p.flow("start", "request")
    p.flow("request", "gw_tier")
    p.flow("gw_tier", "approve_purchase", "限额以下", condition='tier == "small"')
    p.flow("gw_tier", "joint_meeting", "超过限额", default=True)
    p.end("end_rejected", "不予采购", lane=VILLAGE_DIRECTOR)
    _meeting(p, "joint_meeting", "村务联席会议审议采购", lane=PARTY_SECRETARY, body="two_committees",
             extra_roles="committee_member", on_failed="end_rejected", after="approve_purchase")
    p.user_task("approve_purchase", "村委会主任审批", lane=VILLAGE_DIRECTOR, form="approval", due_days=5)
    _decide(p, "approve_purchase", lane=VILLAGE_DIRECTOR, on_reject="end_rejected", after="review_purchase")
    _review(p, "review_purchase", "监委会审核采购事项", back="request", after="quotation")
    p.user_task("quotation", "询价比选", lane=COMMITTEE_MEMBER, form="quotation", due_days=15)
    p.user_task("acceptance", "验收（监委会成员参加）", lane=COMMITTEE_MEMBER, form="acceptance", due_days=10,
                supervisor_required="true")
    p.user_task("payment", "报账支付", lane=ACCOUNTANT, form="payment", due_days=10, cap="quoted_price")
    p.flow("quotation", "acceptance")
    p.exclusive("gw_acceptance", "验收结论", lane=COMMITTEE_MEMBER)
    p.flow("acceptance", "gw_acceptance")
    p.flow("gw_acceptance", "quotation", "不合格，重新采购", condition='acceptance_result == "rectify"')
    p.flow("gw_acceptance", "payment", "验收合格", default=True)
    p.flow("payment", "draft_result_disclosure")
    _publicise(p, kind="result", stem="result", what="采购结果", revise="acceptance", after="end_completed")
    p.end("end_completed", "办结", lane=VILLAGE_DIRECTOR)
    _agency(p, on_refuse="acceptance")
    return p


# ---------------------------------------------------------------------------- A4


def asset_disposal() -> Process:
    """A4 集体资产资源处置与发包租赁: 方案（依决议）→ 监委会审核 →（土地对外发包）乡镇审批 → 公开交易 → 成交公示 → 合同."""
    p = Process(key="asset-disposal", name="集体资产资源处置与发包租赁",
                lanes=[VILLAGE_DIRECTOR, SUPERVISOR, TOWNSHIP_OFFICIAL])
    p.start("start", "提出处置动议", lane=VILLAGE_DIRECTOR)
    p.user_task("plan", "拟定处置方案", lane=VILLAGE_DIRECTOR, form="disposal_plan", due_days=15)
    p.flow("start", "plan")
    _withdrawable(p, "plan", lane=VILLAGE_DIRECTOR, after="review_plan", label="提交审核")
    _review(p, "review_plan", "监委会审核处置方案", back="plan", after="gw_township")
    p.exclusive("gw_township", "是否对外发包土地", lane=TOWNSHIP_OFFICIAL)
    p.user_task("township_approval", "乡镇审批（土地发包给本集体以外）", lane=TOWNSHIP_OFFICIAL,
                form="township_approval", due_days=20, credit_check="true")
    p.end("end_rejected", "不予处置", lane=TOWNSHIP_OFFICIAL)
    p.flow("gw_township", "township_approval", "对外发包土地", condition="needs_township == True")
    p.flow("gw_township", "gw_trading", "无需乡镇审批", default=True)
    _decide(p, "township_approval", lane=TOWNSHIP_OFFICIAL, on_reject="end_rejected", on_return="plan",
            after="gw_trading", approve_label="批准")
    p.exclusive("gw_trading", "交易方式", lane=VILLAGE_DIRECTOR)
    p.user_task("public_trading", "产权交易平台公开交易", lane=TOWNSHIP_OFFICIAL, form="trading_record", due_days=45,
                channel="platform")
    p.user_task("local_trading", "村内公开竞价", lane=VILLAGE_DIRECTOR, form="trading_record", due_days=30,
                channel="village")
    p.flow("gw_trading", "public_trading", "超过限额进平台", condition='trading == "platform"')
    p.flow("gw_trading", "local_trading", "村内竞价", default=True)
    p.exclusive("gw_deal", "是否成交", lane=VILLAGE_DIRECTOR)
    p.flow("public_trading", "gw_deal")
    p.flow("local_trading", "gw_deal")
    p.flow("gw_deal", "plan", "流拍", condition=BID_FAILED)
    p.flow("gw_deal", "draft_deal_disclosure", "成交", default=True)
    _publicise(p, kind="notice", stem="deal", what="成交结果", revise="plan", after="contract")
    # The contract enters the contracts register in the step's own transaction (R40; engine/forms/assets.py).
    p.user_task("contract", "签订合同并录入三资平台", lane=VILLAGE_DIRECTOR, form="disposal_contract", due_days=15,
                floor="deal_price")
    p.flow("contract", "review_contract")
    _review(p, "review_contract", "监委会审核合同", back="contract", after="end_completed")
    p.end("end_completed", "办结", lane=VILLAGE_DIRECTOR)
    return p


# ---------------------------------------------------------------------------- A5


def spending_approval() -> Process:
    """A5 村级财务收支审批（报销联签）: 经手人报账 → 监委会审核 → 分级（联席会议）→ 主任、书记联签 →（乡镇签字）→ 支付."""
    p = Process(key="spending-approval", name="村级财务收支审批（报销联签）",
                lanes=[ACCOUNTANT, SUPERVISOR, PARTY_SECRETARY, VILLAGE_DIRECTOR, TOWNSHIP_OFFICIAL])
    p.start("start", "经手人报账", lane=ACCOUNTANT)
    p.user_task("submit", "报账员受理报销凭证", lane=ACCOUNTANT, form="expense_claim", due_days=3)
    p.flow("start", "submit")
    p.flow("submit", "review_claim")
    _review(p, "review_claim", "监委会集体审核凭证", back="submit", after="gw_joint")
    p.exclusive("gw_joint", "是否超过联席会议限额", lane=SUPERVISOR)
    p.flow("gw_joint", "joint_meeting", "超过限额", condition="needs_joint_meeting == True")
    p.flow("gw_joint", "cosign_director", "限额以内", default=True)
    p.end("end_rejected", "不予报销", lane=VILLAGE_DIRECTOR)
    _meeting(p, "joint_meeting", "村务联席会议集体审议", lane=PARTY_SECRETARY, body="two_committees",
             extra_roles="committee_member", on_failed="end_rejected", after="cosign_director")
    # 联签 in order (R34): 村委会主任 → 村党组织书记 → (above tier 3) 乡镇
    p.user_task("cosign_director", "村委会主任签批", lane=VILLAGE_DIRECTOR, form="cosign", due_days=5)
    _decide(p, "cosign_director", lane=VILLAGE_DIRECTOR, on_reject="end_rejected", on_return="submit",
            after="cosign_secretary")
    p.user_task("cosign_secretary", "村党组织书记签批", lane=PARTY_SECRETARY, form="cosign", due_days=5)
    p.exclusive("gw_cosign_secretary", lane=PARTY_SECRETARY)
    p.flow("cosign_secretary", "gw_cosign_secretary")
    p.flow("gw_cosign_secretary", "end_rejected", "不同意", condition=REJECTED)
    p.flow("gw_cosign_secretary", "submit", "退回", condition=RETURNED)
    p.flow("gw_cosign_secretary", "township_sign", "超过乡镇签字限额",
           condition='decision == "approve" and needs_township == True')
    p.flow("gw_cosign_secretary", "payment", "同意", default=True)
    p.user_task("township_sign", "乡镇审核签字", lane=TOWNSHIP_OFFICIAL, form="cosign", due_days=10)
    _decide(p, "township_sign", lane=TOWNSHIP_OFFICIAL, on_reject="end_rejected", on_return="submit", after="payment")
    p.user_task("payment", "办理支付", lane=ACCOUNTANT, form="payment", due_days=5, cap="claim_amount")
    p.end("end_completed", "已支付", lane=ACCOUNTANT)
    p.flow("payment", "end_completed")
    _agency(p, on_refuse="submit")
    return p


# ---------------------------------------------------------------------------- A6


def seal_use() -> Process:
    """A6 村级印章使用: 用印申请 → 审批（村党组织印章由村党组织书记审批，其他由村委会主任审批）
    → 监委会审核事由 → 管章人用印登记（审批人≠管章人）."""
    p = Process(key="seal-use", name="村级印章使用",
                lanes=[COMMITTEE_MEMBER, PARTY_SECRETARY, VILLAGE_DIRECTOR, SUPERVISOR])
    p.start("start", "申请用印", lane=COMMITTEE_MEMBER)
    p.user_task("apply", "用印申请登记", lane=COMMITTEE_MEMBER, form="seal_request", due_days=2)
    p.exclusive("gw_seal_kind", "哪枚印章", lane=COMMITTEE_MEMBER)
    p.flow("start", "apply")
    p.flow("apply", "gw_seal_kind")
    # The 村党组织's seal is the Party organisation's: its secretary approves it, not the 村委会主任.
    p.user_task("approve_party_seal", "村党组织书记审批用印", lane=PARTY_SECRETARY, form="approval", due_days=2)
    p.user_task("approve_seal", "村委会主任审批用印", lane=VILLAGE_DIRECTOR, form="approval", due_days=2)
    p.flow("gw_seal_kind", "approve_party_seal", "村党组织印章", condition='seal == "party"')
    p.flow("gw_seal_kind", "approve_seal", "其他印章", default=True)
    p.end("end_rejected", "不予用印", lane=VILLAGE_DIRECTOR)
    _decide(p, "approve_party_seal", lane=PARTY_SECRETARY, on_reject="end_rejected", after="review_seal")
    _decide(p, "approve_seal", lane=VILLAGE_DIRECTOR, on_reject="end_rejected", after="review_seal")
    _review(p, "review_seal", "监委会审核用印事由", back="apply", after="seal_log")
    p.user_task("seal_log", "管章人用印并登记", lane=COMMITTEE_MEMBER, form="seal_log", due_days=2,
                extra_roles="accountant")
    p.end("end_completed", "用印完毕", lane=COMMITTEE_MEMBER)
    p.flow("seal_log", "end_completed")
    return p


# ---------------------------------------------------------------------------- A7


def cadre_allowance() -> Process:
    """A7 村干部误工补贴: 发放方案（依村民会议决议）→ 监委会审核 → 名单公示 → 发放 → 监委会核对."""
    p = Process(key="cadre-allowance", name="村干部误工补贴发放", lanes=[VILLAGE_DIRECTOR, SUPERVISOR, ACCOUNTANT])
    p.start("start", "年度发放", lane=VILLAGE_DIRECTOR)
    p.user_task("allowance_list", "编制误工补贴发放方案", lane=VILLAGE_DIRECTOR, form="allowance_list", due_days=15)
    p.flow("start", "allowance_list")
    p.flow("allowance_list", "review_list")
    _review(p, "review_list", "监委会审核发放名单", back="allowance_list", after="draft_allowance_disclosure")
    _publicise(p, kind="notice", stem="allowance", what="误工补贴名单", revise="allowance_list", after="payment")
    p.user_task("payment", "报账员发放（委托代理中心）", lane=ACCOUNTANT, form="payment", due_days=10,
                cap="allowance_total")
    p.flow("payment", "review_payment")
    _review(p, "review_payment", "监委会核对发放情况", back="payment", after="end_completed")
    p.end("end_completed", "发放完毕", lane=VILLAGE_DIRECTOR)
    _agency(p, on_refuse="allowance_list")
    return p


# ---------------------------------------------------------------------------- A8


def party_admission() -> Process:
    """A8 党员发展: 申请 → 谈话（1个月内）→ 积极分子（1年以上）→ 发展对象 → 支委会审查 → 乡镇党委预审 → 公示 → 志愿书 →
    支部大会 → 乡镇党委审批（3个月内）→ 入党宣誓 → 预备期1年（从支部大会通过之日算起）→ 转正、延长预备期或取消预备党员资格.

    Party affairs, not 村务: the 党支部 and the 乡镇党委 (lane 乡镇党委, held by ``township_official``) own
    every step, the 发展对象公示 and its objections included; the 监委会 has no task here. An escalated
    objection goes to the 乡镇纪委 (the 乡镇党委's discipline commission), who alone can release a hold."""
    p = Process(key="party-admission", name="发展党员", lanes=[PARTY_SECRETARY, TOWNSHIP_PARTY])
    p.start("start", "递交入党申请", lane=PARTY_SECRETARY)
    p.user_task("application", "接收入党申请", lane=PARTY_SECRETARY, form="party_application", due_days=7)
    p.user_task("talk", "派人谈话", lane=PARTY_SECRETARY, form="party_talk", due_days=30)
    p.user_task("activist", "确定入党积极分子并报备案", lane=PARTY_SECRETARY, form="party_activist", due_days=90)
    p.user_task("candidate", "确定发展对象", lane=PARTY_SECRETARY, form="party_candidate")
    p.flow("start", "application")
    p.flow("application", "talk")
    p.flow("talk", "activist")
    p.flow("activist", "candidate")
    p.flow("candidate", "committee_review")
    p.user_task("committee_review", "支部委员会审查", lane=PARTY_SECRETARY, form="party_committee_review", due_days=30)
    _decide(p, "committee_review", lane=PARTY_SECRETARY, on_reject="candidate", on_return="candidate",
            after="precheck", approve_label="审查合格")
    p.user_task("precheck", "乡镇党委预审", lane=TOWNSHIP_PARTY, form="township_approval", due_days=30)
    p.end("end_rejected", "不予发展", lane=TOWNSHIP_PARTY)
    _decide(p, "precheck", lane=TOWNSHIP_PARTY, on_reject="end_rejected", on_return="candidate",
            after="draft_candidate_disclosure", approve_label="预审同意")
    _party_notice(p)
    p.user_task("issue_form", "发放入党志愿书", lane=PARTY_SECRETARY, form="party_form_issue", due_days=15)
    p.flow("issue_form", "branch_meeting")
    _meeting(p, "branch_meeting", "支部大会讨论接收预备党员", lane=PARTY_SECRETARY, body="party_members",
             on_failed="end_rejected", after="approve_admission", vote_rule="party_admission")
    p.user_task("approve_admission", "乡镇党委审批接收预备党员", lane=TOWNSHIP_PARTY, form="party_approval",
                due_days=90, stage="admission", meeting="branch_meeting")
    _decide(p, "approve_admission", lane=TOWNSHIP_PARTY, on_reject="end_rejected", after="oath",
            approve_label="批准")
    p.user_task("oath", "入党宣誓", lane=PARTY_SECRETARY, form="party_oath", due_days=30)
    p.flow("oath", "probation")
    p.timer_catch("probation", "预备期满一年", lane=PARTY_SECRETARY, time_date="probation_until")
    p.flow("probation", "full_proposal")
    # 党章第七条: 按期转正, 延长预备期 (不能超过一年) or 取消预备党员资格, each voted by the 支部大会 and
    # approved by the 乡镇党委; a probationary member is never "不予发展".
    p.user_task("full_proposal", "支委会提出转正意见", lane=PARTY_SECRETARY, form="party_full_proposal", due_days=30)
    p.flow("full_proposal", "full_member")
    _meeting(p, "full_member", "支部大会讨论预备党员转正", lane=PARTY_SECRETARY, body="party_members",
             on_failed="full_proposal", after="approve_full", vote_rule="party_admission")
    p.user_task("approve_full", "乡镇党委审批转正", lane=TOWNSHIP_PARTY, form="party_approval", due_days=90,
                stage="full", meeting="full_member")
    p.exclusive("gw_approve_full", lane=TOWNSHIP_PARTY)
    p.flow("approve_full", "gw_approve_full")
    p.flow("gw_approve_full", "full_proposal", "不批准，支部重新讨论", condition=REJECTED)
    p.flow("gw_approve_full", "extension", "批准延长预备期", condition='conclusion == "extend"')
    p.flow("gw_approve_full", "end_rejected_cancelled", "批准取消预备党员资格", condition='conclusion == "cancel"')
    p.flow("gw_approve_full", "end_completed", "批准转正", default=True)
    p.timer_catch("extension", "延长的预备期满", lane=PARTY_SECRETARY, time_date="probation_until")
    p.flow("extension", "full_proposal")
    p.end("end_rejected_cancelled", "取消预备党员资格", lane=TOWNSHIP_PARTY)
    p.end("end_completed", "转为正式党员", lane=PARTY_SECRETARY)
    return p


def _party_notice(p: Process) -> None:
    """发展对象公示: the 党支部 drafts and posts it, answers objections; an objection about the decision
    itself is escalated to the 乡镇纪委 (hold + inspection). No 监委会 review: 党内事务 are not 村务."""
    p.user_task("draft_candidate_disclosure", "拟定并张榜发展对象公示", lane=PARTY_SECRETARY, form="disclosure",
                due_days=3, publishes="notice", notice_label="发展对象公示")
    p.event_gateway("wait_notice", "发展对象公示中", lane=PARTY_SECRETARY)
    p.timer_catch("notice_notice", "发展对象公示期满", lane=PARTY_SECRETARY, time_date="notice_until")
    p.signal_catch("objection_notice", "收到异议", lane=PARTY_SECRETARY, signal="objection")
    p.flow("draft_candidate_disclosure", "wait_notice")
    p.flow("wait_notice", "notice_notice")
    p.flow("wait_notice", "objection_notice")
    p.flow("notice_notice", "issue_form")
    p.user_task("reply_candidate_objection", "党支部答复发展对象公示异议", lane=PARTY_SECRETARY, form="objection_reply",
                due_days=10)
    p.exclusive("gw_reply_candidate", lane=PARTY_SECRETARY)
    p.flow("objection_notice", "reply_candidate_objection")
    p.flow("reply_candidate_objection", "gw_reply_candidate")
    p.flow("gw_reply_candidate", "candidate", "异议成立", condition=UPHELD)
    p.flow("gw_reply_candidate", _inspection(p, "reply_candidate_objection", redo="candidate", after="wait_notice"),
           "报乡镇纪委核查", condition=ESCALATED)
    p.flow("gw_reply_candidate", "reply_candidate_objection", "尚有异议", condition=OBJECTIONS_OPEN)
    p.flow("gw_reply_candidate", "wait_notice", "异议不成立", default=True)


# ---------------------------------------------------------------------------- A9


def member_confirmation() -> Process:
    """A9 集体经济组织成员认定: 名单 → 监委会审核 →（出嫁女等）专项复核 → 名单公示 → 成员大会表决 → 报乡镇备案."""
    p = Process(key="member-confirmation", name="农村集体经济组织成员认定",
                lanes=[VILLAGE_DIRECTOR, SUPERVISOR, TOWNSHIP_OFFICIAL])
    p.start("start", "启动成员认定", lane=VILLAGE_DIRECTOR)
    p.user_task("roster", "编制成员名单", lane=VILLAGE_DIRECTOR, form="member_roster", due_days=30)
    p.flow("start", "roster")
    _withdrawable(p, "roster", lane=VILLAGE_DIRECTOR, after="review_roster", label="提交审核")
    _review(p, "review_roster", "监委会审核成员名单", back="roster", after="gw_flagged")
    p.exclusive("gw_flagged", "有无出嫁女等取消资格", lane=SUPERVISOR)
    p.user_task("review_removals", "监委会专项复核出嫁女等成员资格", lane=SUPERVISOR, form="removal_review", due_days=10)
    p.flow("gw_flagged", "review_removals", "须专项复核", condition="flagged_removals > 0")
    p.flow("gw_flagged", "draft_roster_disclosure", "无须复核", default=True)
    p.exclusive("gw_review_removals", lane=SUPERVISOR)
    p.flow("review_removals", "gw_review_removals")
    p.flow("gw_review_removals", "roster", "退回重新认定", condition=RETURNED)
    p.flow("gw_review_removals", "draft_roster_disclosure", "复核无误", default=True)
    _publicise(p, kind="notice", stem="roster", what="成员名单", revise="roster", after="member_assembly")
    p.user_task("member_assembly", "成员大会表决", lane=VILLAGE_DIRECTOR, form="member_assembly", due_days=30)
    p.exclusive("gw_member_assembly", lane=VILLAGE_DIRECTOR)
    p.flow("member_assembly", "gw_member_assembly")
    p.flow("gw_member_assembly", "member_assembly", "流会", condition=LAPSED)
    p.flow("gw_member_assembly", "roster", "未通过", condition=FAILED)
    p.flow("gw_member_assembly", "file_roster", "通过", default=True)
    p.user_task("file_roster", "成员名册报乡镇备案", lane=TOWNSHIP_OFFICIAL, form="roster_filing", due_days=30)
    p.end("end_completed", "认定完成", lane=TOWNSHIP_OFFICIAL)
    p.flow("file_roster", "end_completed")
    return p


# ---------------------------------------------------------------------------- A10


def requisition_distribution() -> Process:
    """A10 土地征收补偿款分配: 分配方案（依村民会议决议和成员名单）→ 监委会审核 → 方案公示 → 发放 → 核对 → 结果公开."""
    p = Process(key="requisition-distribution", name="土地征收补偿款分配",
                lanes=[VILLAGE_DIRECTOR, SUPERVISOR, ACCOUNTANT])
    p.start("start", "收到补偿款", lane=VILLAGE_DIRECTOR)
    p.user_task("plan", "拟定补偿款分配方案", lane=VILLAGE_DIRECTOR, form="compensation_plan", due_days=30)
    p.flow("start", "plan")
    p.flow("plan", "review_plan")
    _review(p, "review_plan", "监委会审核分配方案", back="plan", after="draft_distribution_disclosure")
    _publicise(p, kind="notice", stem="distribution", what="分配方案", revise="plan", after="payment")
    p.user_task("payment", "发放补偿款", lane=ACCOUNTANT, form="payment", due_days=15, cap="distributed_amount")
    p.flow("payment", "review_payment")
    _review(p, "review_payment", "监委会核对发放情况", back="payment", after="draft_result_disclosure")
    _publicise(p, kind="result", stem="result", what="发放结果", revise="payment", after="end_completed")
    p.end("end_completed", "发放完毕", lane=VILLAGE_DIRECTOR)
    _agency(p, on_refuse="plan")
    return p


# ---------------------------------------------------------------------------- R33 民主评议


def annual_appraisal() -> Process:
    """R33 年度民主评议: 监委会确定评议对象 → 述职 → 村民代表会议评议表决（监委会主持）→ 结果公示 →
    （连续两次不称职）报乡镇核处.

    《村民委员会组织法》第三十三条: 村民委员会成员和由村民或村集体承担误工补贴的聘用人员每年至少接受
    一次民主评议，由村务监督机构主持；村民委员会成员连续两次被评议不称职的，其职务终止. The 监委会
    chairs here (its own lane records the meeting); the results notice is drafted by one committee
    member and reviewed by another (nobody reviews their own record), and objections to it go to the
    township's discipline inspectors when they concern the appraisal itself."""
    p = Process(key="annual-appraisal", name="年度民主评议", lanes=[SUPERVISOR, TOWNSHIP_OFFICIAL])
    p.start("start", "启动年度民主评议", lane=SUPERVISOR)
    p.user_task("plan", "确定评议对象", lane=SUPERVISOR, form="appraisal_plan", due_days=15)
    p.user_task("reports", "登记述职报告", lane=SUPERVISOR, form="appraisal_reports", due_days=30)
    p.flow("start", "plan")
    p.flow("plan", "reports")
    p.flow("reports", "appraisal_meeting")
    p.user_task("appraisal_meeting", "村民代表会议民主评议", lane=SUPERVISOR, form="appraisal_vote",
                body="representatives", due_days=30)
    p.exclusive("gw_appraisal_meeting", lane=SUPERVISOR)
    p.flow("appraisal_meeting", "gw_appraisal_meeting")
    p.flow("gw_appraisal_meeting", "appraisal_meeting", "流会", condition=LAPSED)
    p.flow("gw_appraisal_meeting", "draft_appraisal_disclosure", "评议有效", default=True)
    _publicise(p, kind="result", stem="appraisal", what="民主评议结果", revise="draft_appraisal_disclosure",
               redo="appraisal_meeting", after="gw_flagged", lane=SUPERVISOR)
    p.exclusive("gw_flagged", "有无连续两次不称职", lane=TOWNSHIP_OFFICIAL)
    p.user_task("township_followup", "乡镇核处连续两次不称职人员", lane=TOWNSHIP_OFFICIAL, form="appraisal_followup",
                due_days=30)
    p.end("end_completed", "评议完成", lane=SUPERVISOR)
    p.flow("gw_flagged", "township_followup", "连续两次不称职", condition="flagged_count > 0")
    p.flow("gw_flagged", "end_completed", "无", default=True)
    p.exclusive("gw_township_followup", lane=TOWNSHIP_OFFICIAL)
    p.flow("township_followup", "gw_township_followup")
    p.flow("gw_township_followup", "appraisal_meeting", "责令重新评议", condition='finding == "redo"')
    p.flow("gw_township_followup", "end_completed", "依法处理", default=True)
    return p


BUILDERS: dict[str, Callable[[], Process]] = {
    "construction-project": construction_project,
    "procurement": procurement,
    "asset-disposal": asset_disposal,
    "spending-approval": spending_approval,
    "seal-use": seal_use,
    "cadre-allowance": cadre_allowance,
    "party-admission": party_admission,
    "member-confirmation": member_confirmation,
    "requisition-distribution": requisition_distribution,
    "annual-appraisal": annual_appraisal,
}
