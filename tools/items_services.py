"""Builders of the 便民服务 items (category B, DOMAIN.md §3.3.11–3.3.15).

    homestead               B1 宅基地（村民建房）申请
    subsistence-allowance   B2 低保申请
    extreme-poverty         B3 特困人员供养申请
    temporary-assistance    B4 临时救助申请（含急难型先行救助）
    farm-subsidy            B5 惠农补贴发放
    certificate             B6 出具证明

The villager has no login: a cadre (usually the 村委会主任) enters the application and records
the applicant. Tasks a cadre may have to leave because of avoidance (R45) name an alternate
role in ``extra_roles``, so the case never waits for the one person who must stay off it.

Time limits that are settings (R48 refusal notice, R49 emergency paperwork, decision and
payment limits) are read from the item's ``settings`` in ``processes/catalogue.d/b-services.yaml``
at build time, so the catalogue and the BPMN ``due_days`` cannot disagree.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from pathlib import Path

import yaml

from tools.bpmnkit import Process
from tools.build_processes import (
    COMMITTEE_MEMBER,
    LAPSED,
    SUPERVISOR,
    TOWNSHIP_OFFICIAL,
    VILLAGE_DIRECTOR,
    _disclosure,
    _meeting,
)

CATALOGUE = Path(__file__).resolve().parent.parent / "processes" / "catalogue.d" / "b-services.yaml"

# Who else may do a village-director task when the director must withdraw (R45).
VILLAGE_ALTERNATES = "party_secretary,committee_member"
EMERGENCY = "emergency == True"
REFUSED = 'decision == "refuse"'
SENT_BACK = 'decision == "return"'
RECTIFY = 'result == "rectify"'


@cache
def _settings(key: str) -> dict:
    items = yaml.safe_load(CATALOGUE.read_text(encoding="utf-8"))["items"]
    return dict(next(item for item in items if item["key"] == key).get("settings") or {})


def _days(key: str, name: str, default: int) -> int:
    return int(_settings(key).get(name, default))


def _allow(p: Process, node_id: str, roles: str) -> None:
    """Add ``extra_roles`` to a task made by a shared helper (``_disclosure``)."""
    node = p._nodes[node_id]
    props = [(k, v) for k, v in node.properties if k != "extra_roles"]
    at = 1 + sum(1 for k, _ in props[:2] if k == "body")
    node.properties = [*props[:at], ("extra_roles", roles), *props[at:]]


def _rename(p: Process, node_id: str, name: str) -> None:
    p._nodes[node_id].name = name


def _notice(p: Process, *, kind: str, label: str, revise: str, after: str, township_answers: bool = False) -> None:
    """A 公示 with supervisor review and objections (``_disclosure``), named for the item.

    ``township_answers``: the objections are answered by the 乡镇, not by the 监委会. For 低保 the
    乡镇 posts its 初审 notice in the village and, when someone objects, investigates again or holds
    a 民主评议 and posts a new notice (《最低生活保障审核确认办法》（民发〔2021〕57号）第二条、
    第二十条); 特困 and 临时救助 follow the same division of work (§3.3.12, §3.3.13). The village
    still drafts and posts the notice and the 监委会 still reviews what goes on the board."""
    _disclosure(p, kind=kind,
                draft=f"draft_{kind}", draft_name=f"拟定{label}内容",
                review=f"review_{kind}", review_name=f"监委会审核{label}",
                wait_name=f"{label}中", notice_name=f"{label}期满",
                reply=f"reply_{kind}_objection", reply_gw=f"gw_reply_{kind}",
                revise=revise, after=after, notice_label=label)
    _rename(p, f"reply_{kind}_objection", f"{'乡镇' if township_answers else ''}答复{label}异议")
    _allow(p, f"draft_{kind}", VILLAGE_ALTERNATES + (",township_official" if township_answers else ""))
    if township_answers:
        for node_id in (f"reply_{kind}_objection", f"gw_reply_{kind}"):
            p._nodes[node_id].lane = TOWNSHIP_OFFICIAL


def _refusal(p: Process, key: str) -> None:
    """R48: a refusal is notified to the applicant in writing, with reasons, within N days."""
    p.user_task("notify_refusal", "书面告知不予批准", lane=TOWNSHIP_OFFICIAL, form="refusal_notice",
                due_days=_days(key, "refusal_notice_days", 3), extra_roles="village_director,party_secretary")
    p.end("end_rejected", "不予批准", lane=TOWNSHIP_OFFICIAL)
    p.flow("notify_refusal", "end_rejected")


def _investigation(p: Process, *, due_days: int) -> None:
    """Family economic investigation by the 乡镇 (the village assists, R45 avoidance) and its
    conclusion: withdrawn, ineligible (refusal), or on to the 民主评议 where the village holds one
    (``hold_appraisal``, the setting ``democratic_appraisal``) and else straight to the 初审.
    《最低生活保障审核确认办法》（民发〔2021〕57号）第二条: 乡镇人民政府（街道办事处）负责受理、初审，
    村（居）民委员会协助; 临时救助: 乡镇调查、视情组织民主评议（国发〔2014〕47号）."""
    p.user_task("investigate", "乡镇家庭经济状况调查（村委会协助）", lane=TOWNSHIP_OFFICIAL,
                form="household_investigation", due_days=due_days)
    p.exclusive("gw_investigate", "调查结论", lane=TOWNSHIP_OFFICIAL)
    p.end("end_withdrawn", "申请撤回", lane=TOWNSHIP_OFFICIAL)
    p.flow("investigate", "gw_investigate")
    p.flow("gw_investigate", "end_withdrawn", "撤回", condition='conclusion == "withdrawn"')
    p.flow("gw_investigate", "notify_refusal", "不符合条件", condition='conclusion == "ineligible"')
    p.flow("gw_investigate", "appraisal", "本村开展民主评议", condition="hold_appraisal == True")
    p.flow("gw_investigate", "preliminary", "符合条件", default=True)


def _appraisal(p: Process) -> None:
    """民主评议 where the village holds one (a setting, not compulsory: the 2021 办法 names it only
    as a way to re-examine a case after an objection, 第二十条; R46 thresholds): quorum not met →
    held again; otherwise its result goes on record for the 乡镇's 初审, which decides."""
    p.user_task("appraisal", "民主评议", lane=VILLAGE_DIRECTOR, form="democratic_appraisal", due_days=15,
                extra_roles=VILLAGE_ALTERNATES + ",township_official")
    p.exclusive("gw_appraisal", lane=VILLAGE_DIRECTOR)
    p.flow("appraisal", "gw_appraisal")
    p.flow("gw_appraisal", "appraisal", "流会", condition=LAPSED)
    p.flow("gw_appraisal", "preliminary", "评议结果报乡镇", default=True)


def _preliminary(p: Process, *, after: str) -> None:
    """The 乡镇's 初审意见 (民发〔2021〕57号 第二条、第二十条): refuse → written notice; else the notice."""
    p.user_task("preliminary", "乡镇初审", lane=TOWNSHIP_OFFICIAL, form="welfare_preliminary", due_days=5)
    p.exclusive("gw_preliminary", "初审意见", lane=TOWNSHIP_OFFICIAL)
    p.flow("preliminary", "gw_preliminary")
    p.flow("gw_preliminary", "notify_refusal", "不符合条件", condition=REFUSED)
    p.flow("gw_preliminary", after, "拟同意，公示", default=True)


def _decision(p: Process, key: str, *, name: str, after: str) -> None:
    p.user_task("decide", name, lane=TOWNSHIP_OFFICIAL, form="welfare_decision",
                due_days=_days(key, "decision_days", 10))
    p.exclusive("gw_decide", lane=TOWNSHIP_OFFICIAL)
    p.flow("decide", "gw_decide")
    p.flow("gw_decide", "notify_refusal", "不予批准", condition=REFUSED)
    p.flow("gw_decide", after, "批准", default=True)


# ---------------------------------------------------------------------------- B1


def homestead() -> Process:
    """B1 宅基地（村民建房）申请: 申请 → 村民代表会议讨论 → 公示 → 村级审查 → 乡镇联审 → 结果公示 → 批后放样、竣工验收."""
    key = "homestead"
    p = Process(key=key, name="宅基地（村民建房）申请", lanes=[VILLAGE_DIRECTOR, SUPERVISOR, TOWNSHIP_OFFICIAL])
    p.start("start", "农户提出申请", lane=VILLAGE_DIRECTOR)
    p.user_task("apply", "受理建房申请（代为录入）", lane=VILLAGE_DIRECTOR, form="homestead_application",
                extra_roles=VILLAGE_ALTERNATES)
    p.exclusive("gw_apply", "是否撤回", lane=VILLAGE_DIRECTOR)
    p.end("end_withdrawn", "申请撤回", lane=VILLAGE_DIRECTOR)
    p.flow("start", "apply")
    p.flow("apply", "gw_apply")
    p.flow("gw_apply", "end_withdrawn", "撤回", condition="withdraw == True")
    p.flow("gw_apply", "discuss", "提交讨论", default=True)

    _meeting(p, "discuss", "村民代表会议讨论", lane=VILLAGE_DIRECTOR, body="representatives",
             on_failed="notify_refusal", after="draft_notice", extra_roles="party_secretary")
    _notice(p, kind="notice", label="申请公示", revise="apply", after="village_review")

    p.user_task("village_review", "村级审查", lane=VILLAGE_DIRECTOR, form="homestead_village_review", due_days=5,
                extra_roles="party_secretary")
    p.exclusive("gw_village_review", "审查结论", lane=VILLAGE_DIRECTOR)
    p.flow("village_review", "gw_village_review")
    p.flow("gw_village_review", "apply", "退回补正", condition=SENT_BACK)
    p.flow("gw_village_review", "notify_refusal", "不予同意", condition=REFUSED)
    p.flow("gw_village_review", "township_review", "报乡镇审批", default=True)

    p.user_task("township_review", "乡镇联审审批", lane=TOWNSHIP_OFFICIAL, form="homestead_approval",
                due_days=_days(key, "decision_days", 20))
    p.exclusive("gw_township_review", "审批结论", lane=TOWNSHIP_OFFICIAL)
    p.flow("township_review", "gw_township_review")
    p.flow("gw_township_review", "village_review", "退回村级", condition=SENT_BACK)
    p.flow("gw_township_review", "notify_refusal", "不予批准", condition=REFUSED)
    p.flow("gw_township_review", "draft_result", "批准", default=True)

    _notice(p, kind="result", label="审批结果公示", revise="township_review", after="stake_out")

    # 三到场: the site visit of the joint review, then marking out the plot and the completion check.
    p.user_task("stake_out", "批后放样（定位放线）", lane=TOWNSHIP_OFFICIAL, form="homestead_site_check", due_days=10)
    p.exclusive("gw_stake_out", lane=TOWNSHIP_OFFICIAL)
    p.flow("stake_out", "gw_stake_out")
    p.flow("gw_stake_out", "stake_out", "整改后复查", condition=RECTIFY)
    p.flow("gw_stake_out", "completion_check", "符合", default=True)
    p.user_task("completion_check", "竣工验收", lane=TOWNSHIP_OFFICIAL, form="homestead_site_check")
    p.exclusive("gw_completion_check", lane=TOWNSHIP_OFFICIAL)
    p.flow("completion_check", "gw_completion_check")
    p.flow("gw_completion_check", "completion_check", "整改后复查", condition=RECTIFY)
    p.flow("gw_completion_check", "end_completed", "验收合格", default=True)
    p.end("end_completed", "办结", lane=TOWNSHIP_OFFICIAL)

    _refusal(p, key)
    return p


# ---------------------------------------------------------------------------- B2, B3


def _welfare(key: str, name: str, *, form: str, apply_name: str) -> Process:
    """低保 / 特困: 申请 → 乡镇调查（村委会协助）→ 民主评议（本村设置）→ 乡镇初审 → 公示7天（异议由乡镇答复）
    → 审核确认 → 办结或书面告知 (民发〔2021〕57号 第二条、第二十条)."""
    p = Process(key=key, name=name, lanes=[VILLAGE_DIRECTOR, SUPERVISOR, TOWNSHIP_OFFICIAL])
    p.start("start", "家庭提出申请", lane=VILLAGE_DIRECTOR)
    # The 乡镇 受理s (第二条); the village only enters the application on the household's behalf.
    p.user_task("apply", apply_name, lane=VILLAGE_DIRECTOR, form=form, extra_roles=VILLAGE_ALTERNATES)
    p.flow("start", "apply")
    p.flow("apply", "investigate")
    _investigation(p, due_days=_days(key, "investigation_days", 10))
    _appraisal(p)
    _preliminary(p, after="draft_notice")
    # R47 / 第二十条: an upheld objection sends the case back to the 乡镇's investigation, a new 初审
    # and a new full notice.
    _notice(p, kind="notice", label="初审公示", revise="investigate", after="decide", township_answers=True)
    _decision(p, key, name="审核确认", after="end_completed")
    p.end("end_completed", "批准并办结", lane=TOWNSHIP_OFFICIAL)
    _refusal(p, key)
    return p


def subsistence_allowance() -> Process:
    """B2 低保申请."""
    return _welfare("subsistence-allowance", "最低生活保障（低保）申请", form="subsistence_application",
                    apply_name="村委会代为提交低保申请")


def extreme_poverty() -> Process:
    """B3 特困人员供养申请."""
    return _welfare("extreme-poverty", "特困人员救助供养申请", form="poverty_application",
                    apply_name="村委会代为提交特困供养申请")


# ---------------------------------------------------------------------------- B4


def temporary_assistance() -> Process:
    """B4 临时救助: 一般程序 乡镇调查 → 民主评议（本村设置）→ 乡镇审核意见 → 公示 → 审批 → 发放；
    急难型先行救助后补办同样的手续（R49）. The notice comes before the approval: 国发〔2014〕47号
    (一般程序: 乡镇调查、视情组织民主评议、提出审核意见、张榜公示后报县级民政部门审批)."""
    key = "temporary-assistance"
    p = Process(key=key, name="临时救助申请",
                lanes=[VILLAGE_DIRECTOR, SUPERVISOR, TOWNSHIP_OFFICIAL])
    p.start("start", "家庭提出申请", lane=VILLAGE_DIRECTOR)
    p.user_task("apply", "村委会代为提交临时救助申请", lane=VILLAGE_DIRECTOR, form="assistance_application",
                extra_roles=VILLAGE_ALTERNATES)
    p.exclusive("gw_track", "是否急难", lane=VILLAGE_DIRECTOR)
    p.flow("start", "apply")
    p.flow("apply", "gw_track")
    p.flow("gw_track", "advance_relief", "急难型：先行救助", condition=EMERGENCY)
    p.flow("gw_track", "investigate", "一般程序", default=True)
    p.user_task("advance_relief", "先行救助发放", lane=TOWNSHIP_OFFICIAL, form="relief_payment", due_days=1)
    p.flow("advance_relief", "investigate")

    # The paperwork (investigation, appraisal, notice) is due within N days (R49).
    _investigation(p, due_days=_days(key, "emergency_paperwork_days", 10))
    _appraisal(p)
    _preliminary(p, after="draft_notice")
    _notice(p, kind="notice", label="救助公示", revise="investigate", after="decide", township_answers=True)
    _decision(p, key, name="乡镇审批", after="gw_paid")
    p.exclusive("gw_paid", "是否已先行救助", lane=TOWNSHIP_OFFICIAL)
    p.flow("gw_paid", "end_completed", "已先行救助", condition=EMERGENCY)
    p.flow("gw_paid", "pay", "发放", default=True)
    p.user_task("pay", "发放救助金", lane=TOWNSHIP_OFFICIAL, form="relief_payment",
                due_days=_days(key, "payment_days", 5))
    p.flow("pay", "end_completed")
    p.end("end_completed", "办结", lane=TOWNSHIP_OFFICIAL)
    _refusal(p, key)
    return p


# ---------------------------------------------------------------------------- B5


def farm_subsidy() -> Process:
    """B5 惠农补贴发放: 村级核实面积和对象 → 公示一周 → 乡镇审核 → 一卡通发放记录."""
    key = "farm-subsidy"
    p = Process(key=key, name="惠农补贴发放", lanes=[VILLAGE_DIRECTOR, SUPERVISOR, TOWNSHIP_OFFICIAL])
    p.start("start", "补贴发放启动", lane=VILLAGE_DIRECTOR)
    p.user_task("verify_list", "核实补贴面积和对象", lane=VILLAGE_DIRECTOR, form="subsidy_list", due_days=10,
                extra_roles="committee_member")
    p.flow("start", "verify_list")
    p.flow("verify_list", "draft_notice")
    _notice(p, kind="notice", label="补贴公示", revise="verify_list", after="township_check")
    p.user_task("township_check", "乡镇审核补贴清册", lane=TOWNSHIP_OFFICIAL, form="subsidy_check", due_days=10)
    p.exclusive("gw_township_check", "审核结论", lane=TOWNSHIP_OFFICIAL)
    p.flow("township_check", "gw_township_check")
    p.flow("gw_township_check", "verify_list", "退回重新核实", condition=SENT_BACK)
    p.flow("gw_township_check", "pay", "审核通过", default=True)
    p.user_task("pay", "一卡通发放记录", lane=TOWNSHIP_OFFICIAL, form="subsidy_payment",
                due_days=_days(key, "payment_days", 10))
    p.flow("pay", "end_completed")
    p.end("end_completed", "发放完毕", lane=TOWNSHIP_OFFICIAL)
    return p


# ---------------------------------------------------------------------------- B6


def certificate() -> Process:
    """B6 出具证明: 申请（对照正面清单和国家负面清单）→ 村委会主任审批 → 用印登记 → 登记存档."""
    p = Process(key="certificate", name="出具证明", lanes=[COMMITTEE_MEMBER, VILLAGE_DIRECTOR])
    p.start("start", "村民申请开具证明", lane=COMMITTEE_MEMBER)
    p.user_task("request", "受理证明申请（对照清单）", lane=COMMITTEE_MEMBER, form="certificate_request")
    p.flow("start", "request")
    p.flow("request", "approve")
    p.user_task("approve", "村委会主任审批", lane=VILLAGE_DIRECTOR, form="certificate_approval", due_days=3)
    p.exclusive("gw_approve", "审批结论", lane=VILLAGE_DIRECTOR)
    p.end("end_rejected", "不予出具", lane=VILLAGE_DIRECTOR)
    p.flow("approve", "gw_approve")
    p.flow("gw_approve", "end_rejected", "不予出具", condition=REFUSED)
    p.flow("gw_approve", "seal_log", "同意出具", default=True)
    p.user_task("seal_log", "用印登记", lane=COMMITTEE_MEMBER, form="certificate_seal_log", due_days=1,
                extra_roles="accountant")
    p.user_task("register", "证明登记存档", lane=COMMITTEE_MEMBER, form="certificate_register", due_days=1)
    p.end("end_completed", "证明已出具", lane=COMMITTEE_MEMBER)
    p.flow("seal_log", "register")
    p.flow("register", "end_completed")
    return p


BUILDERS: dict[str, Callable[[], Process]] = {
    "homestead": homestead,
    "subsistence-allowance": subsistence_allowance,
    "extreme-poverty": extreme_poverty,
    "temporary-assistance": temporary_assistance,
    "farm-subsidy": farm_subsidy,
    "certificate": certificate,
}
