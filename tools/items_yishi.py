"""村民一事一议筹资筹劳 as a power-list item (issue 13; DOMAIN §4.1, R22, R26).

《村民一事一议筹资筹劳管理办法》(农业部制定, 国办发〔2007〕4号转发) and the provincial texts that
implement it [C2]: the 筹资筹劳 plan (project, budget, per-head money and/or labour days, exemptions)
is proposed by the village, discussed by the 两委, put to the 村民会议 (or the 村民代表会议 the
村民会议 authorised) and passed with at least two thirds of those present (R22, the engine's rule;
the national floor, 第九条 (number unverified), is 过半数); the plan goes to the 乡镇人民政府 for its 初审 and to the
county's 农民负担监督管理部门 for 复审/备案 (第十条), is posted for the villagers, and only then is
money raised or labour called (no 预收); the raised money enters the village's books as income of
the 村民委员会 (account 一事一议资金), and the use of the money and labour is disclosed at the end
(筹资筹劳使用结果公开, 专项公开 of 《农村集体经济组织财务公开规定》).

The county filing is a step of the township lane: the county body that takes it is the 农业农村
部门's 农民负担监督管理 office, not the 县纪委 (``county_inspector`` supervises, it does not file
plans), and the 乡镇 submits the plan to it (第十条: 由村民委员会报乡镇人民政府初审后，报县级人民政府
农民负担监督管理部门复审) and records its answer.
"""

from __future__ import annotations

from collections.abc import Callable

from tools.bpmnkit import Process
from tools.build_processes import (
    ACCOUNTANT,
    PARTY_SECRETARY,
    SUPERVISOR,
    TOWNSHIP_OFFICIAL,
    VILLAGE_DIRECTOR,
    _meeting,
    _review,
)
from tools.items_public import _decide, _publicise, _withdrawable


def yishi_funding() -> Process:
    """一事一议筹资筹劳: 提议方案 → 两委商议 → 村民（代表）会议三分之二以上通过 → 乡镇初审 → 县级复审备案 →
    方案公示 → 筹资筹劳（收款入账）→ 组织实施 → 使用结果公开."""
    p = Process(key="yishi-funding", name="村民一事一议筹资筹劳",
                lanes=[PARTY_SECRETARY, VILLAGE_DIRECTOR, SUPERVISOR, TOWNSHIP_OFFICIAL, ACCOUNTANT])
    p.start("start", "提出筹资筹劳事项", lane=PARTY_SECRETARY)
    p.user_task("propose", "村党组织提议筹资筹劳方案", lane=PARTY_SECRETARY, form="yishi_plan", due_days=15)
    p.flow("start", "propose")
    _withdrawable(p, "propose", lane=PARTY_SECRETARY, after="two_committees", label="提交两委商议")
    _meeting(p, "two_committees", "村两委会议商议方案", lane=PARTY_SECRETARY, body="two_committees",
             extra_roles="committee_member", on_failed="propose", after="review_two_committees")
    _review(p, "review_two_committees", "监委会审核商议记录", back="two_committees", after="gw_assembly")

    p.exclusive("gw_assembly", "表决机构", lane=VILLAGE_DIRECTOR)
    p.flow("gw_assembly", "villager_assembly", "村民会议", condition='assembly == "villager_assembly"')
    p.flow("gw_assembly", "representatives", "经授权的村民代表会议", default=True)
    p.end("end_rejected", "方案未通过", lane=VILLAGE_DIRECTOR)
    _meeting(p, "representatives", "村民代表会议表决方案（经村民会议授权）", lane=VILLAGE_DIRECTOR,
             body="representatives", on_failed="end_rejected", after="review_resolution", vote_rule="yishi")
    _meeting(p, "villager_assembly", "村民会议表决方案", lane=VILLAGE_DIRECTOR, body="villager_assembly",
             on_failed="end_rejected", after="review_resolution", vote_rule="yishi")
    _review(p, "review_resolution", "监委会审核表决记录", back="gw_assembly", after="township_review")

    p.user_task("township_review", "乡镇人民政府初审", lane=TOWNSHIP_OFFICIAL, form="township_approval", due_days=15)
    _decide(p, "township_review", lane=TOWNSHIP_OFFICIAL, on_reject="end_rejected", on_return="propose",
            after="county_filing", approve_label="初审同意")
    p.user_task("county_filing", "报县级农民负担监督管理部门复审备案", lane=TOWNSHIP_OFFICIAL, form="yishi_filing",
                due_days=15)
    p.exclusive("gw_county_filing", lane=TOWNSHIP_OFFICIAL)
    p.flow("county_filing", "gw_county_filing")
    p.flow("gw_county_filing", "propose", "县级责令纠正", condition='county_result == "corrected"')
    p.flow("gw_county_filing", "draft_plan_disclosure", "复审同意，已备案", default=True)

    _publicise(p, kind="notice", stem="plan", what="筹资筹劳方案", revise="propose", after="collect")
    p.user_task("collect", "收取筹资、组织筹劳并入账", lane=ACCOUNTANT, form="yishi_collection", due_days=60)
    p.exclusive("gw_collect", "是否收齐", lane=ACCOUNTANT)
    p.flow("collect", "gw_collect")
    p.flow("gw_collect", "collect", "继续收取", condition="more == True")
    p.flow("gw_collect", "implement", "收取完毕", default=True)
    p.user_task("implement", "组织实施", lane=VILLAGE_DIRECTOR, form="implementation")
    p.flow("implement", "review_implementation")
    _review(p, "review_implementation", "监委会审核筹资筹劳使用情况", back="implement", after="draft_result_disclosure")
    _publicise(p, kind="result", stem="result", what="筹资筹劳使用结果", revise="implement", after="end_completed")
    p.end("end_completed", "办结", lane=VILLAGE_DIRECTOR)
    return p


BUILDERS: dict[str, Callable[[], Process]] = {
    "yishi-funding": yishi_funding,
}
