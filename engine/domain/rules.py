"""Quorum and voting rules (DOMAIN.md D1–D6, R11–R20) as pure functions over integers.

D1: 以上/以下 include the stated number, 过半数/超过 exclude it, so ``三分之二以上`` is
``3 * n >= 2 * total`` and ``过半数`` is ``2 * n > total``. Never compare rounded floats.
Rules are versioned by the law text in force on the meeting date (D10).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

BODIES: dict[str, str] = {
    "two_committees": "村两委会议",
    "party_members": "党员大会",
    "representatives": "村民代表会议",
    "villager_assembly": "村民会议",
}

#: Which village-record count is the number who should attend each body.
BODY_MEMBERS: dict[str, str] = {
    "two_committees": "two_committees",
    "party_members": "party_members",
    "representatives": "representatives",
    "villager_assembly": "adults",
}


@dataclass(frozen=True)
class RuleSet:
    version: str
    title: str
    effective_from: date
    party_study_required: bool  # R4: prior study by the Party organisation is statutory
    #: Meetings the 村务监督委员会 may attend (列席): 2018 第三十二条 names the 村民委员会's meetings
    #: (here the joint 两委会议); the 2025 amendment adds the 村民代表会议 (DOMAIN 0.2, D9/D10, [C2]).
    supervisor_attends: frozenset[str] = frozenset({"two_committees"})
    #: A 村民会议 is announced at least this many days ahead (2018 第二十一条: 召集村民会议，应当提前十天通知村民).
    assembly_notice_days: int = 10
    #: How messages cite the notice rule. The 2025 text renumbered the law and its final wording was
    #: not retrieved (DOMAIN 0.2): the 2018 article is cited, marked as such, until it is verified.
    assembly_notice_article: str = "《村民委员会组织法》第二十一条"
    #: How messages cite the annual 民主评议 rule (2018 第三十三条; the 2025 numbering is not verified).
    appraisal_article: str = "《村民委员会组织法》第三十三条"


RULE_SETS: tuple[RuleSet, ...] = (
    RuleSet("organic-law-2018", "村民委员会组织法（2018年修正）", date(2018, 12, 29), False),
    RuleSet("organic-law-2025", "村民委员会组织法（2025年修订，2026年1月1日起施行）", date(2026, 1, 1), True,
            supervisor_attends=frozenset({"two_committees", "representatives"}),
            assembly_notice_article="《村民委员会组织法》（2018年修正本第二十一条，2025年修订本条文序号待核）",
            appraisal_article="《村民委员会组织法》（2018年修正本第三十三条，2025年修订本条文序号待核）"),
)


def assembly_notice_error(held_on: date, announced_on: date | None) -> str | None:
    """R10: a 村民会议 is announced at least ten days before it is held (10 days ahead is enough, 9 is not)."""
    rs = rule_set_on(held_on)
    if announced_on is None:
        return f"村民会议须提前{rs.assembly_notice_days}天通知村民（{rs.assembly_notice_article}），请填写通知日期"
    if announced_on > held_on:
        return "通知日期不能晚于会议日期"
    ahead = (held_on - announced_on).days
    if ahead < rs.assembly_notice_days:
        return (f"村民会议须提前{rs.assembly_notice_days}天通知村民（{rs.assembly_notice_article}），"
                f"本次只提前了{ahead}天")
    return None


def supervisor_attendance_error(body: str, held_on: date) -> str | None:
    """列席: only at the meetings the rule set in force lets the 监委会 attend."""
    rs = rule_set_on(held_on)
    if body in rs.supervisor_attends:
        return None
    if body == "representatives":
        return "2026年1月1日前的村民代表会议不记录村务监督委员会列席（2018年组织法第三十二条只规定列席村民委员会会议）"
    return f"{BODIES.get(body, body)}不设村务监督委员会列席；监委会成员作为{'党员' if body == 'party_members' else '村民'}参加的，计入实到人数"


def rule_set_on(day: date) -> RuleSet:
    """The rule set in force on ``day`` (the newest whose effective date is not after it)."""
    in_force = [rs for rs in RULE_SETS if rs.effective_from <= day]
    if not in_force:
        return RULE_SETS[0]
    return max(in_force, key=lambda rs: rs.effective_from)


# Local variants (settings). Each may only be stricter than the national floor.
DEFAULT_SETTINGS: dict[str, str] = {
    # D3: national floor is half present; 四议两公开 texts often ask two thirds.
    "party_members_quorum": "half",  # or "two_thirds"
    # R15: national rule is more than half of those present; local texts ask more than half of all.
    "representatives_pass": "present",  # or "all_members"
    # R33 [L]: a 不称职 rating at the annual 民主评议 needs more than half of those present; a local
    # rule (陕西) asks two thirds of those present at a 村民代表会议 (harder to rate someone 不称职).
    "appraisal_unfit": "majority_present",  # or "two_thirds_present"
    # Issue 14: the evidence an item's catalogue entry asks for per step (``evidence:``) is a
    # request by default; a county (each of its villages) may make it a condition of the step.
    "evidence": "optional",  # or "required"
}
ALLOWED_SETTINGS: dict[str, tuple[str, ...]] = {
    "party_members_quorum": ("half", "two_thirds"),
    "representatives_pass": ("present", "all_members"),
    "appraisal_unfit": ("majority_present", "two_thirds_present"),
    "evidence": ("optional", "required"),
}
SETTING_LABELS = {
    "party_members_quorum": "党员大会到会要求",
    "representatives_pass": "村民代表会议通过要求",
    "appraisal_unfit": "民主评议认定不称职的要求",
    "evidence": "办理记录的证据材料",
}
SETTING_VALUE_NAMES = {
    "half": "应到党员半数以上到会（half）",
    "two_thirds": "应到党员三分之二以上到会（two_thirds）",
    "present": "赞成超过到会人员半数（present）",
    "all_members": "赞成超过全体组成人员半数（all_members）",
    "majority_present": "不称职票超过到会人数半数（majority_present）",
    "two_thirds_present": "不称职票达到到会人数三分之二以上（two_thirds_present）",
    "optional": "事项目录要求的材料提示上传（optional）",
    "required": "事项目录要求的材料须上传后才能提交（required）",
}


@dataclass(frozen=True)
class MeetingResult:
    body: str
    outcome: str  # "passed" | "failed" | "lapsed"
    should_attend: int
    attended: int
    approve: int
    quorum_met: bool
    rules_version: str
    reason: str
    details: dict = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        return self.outcome == "passed"


def more_than_half(part: int, whole: int) -> bool:
    """过半数: strictly more than half."""
    return 2 * part > whole


def at_least_half(part: int, whole: int) -> bool:
    """半数以上: half or more."""
    return 2 * part >= whole


def at_least_two_thirds(part: int, whole: int) -> bool:
    """三分之二以上: two thirds or more."""
    return 3 * part >= 2 * whole


def tally_errors(
    body: str,
    *,
    should_attend: int,
    attended: int,
    approve: int,
    oppose: int,
    abstain: int,
    households: int | None = None,
    attended_households: int | None = None,
) -> dict[str, list[str]]:
    """Field errors (Chinese) for a meeting record whose numbers cannot be true."""
    errors: dict[str, list[str]] = {}
    if attended > should_attend:
        errors["attended"] = [f"实到人数（{attended}）不能超过应到人数（{should_attend}）"]
    if approve + oppose + abstain > attended:
        errors["approve"] = [
            f"赞成、反对、弃权合计（{approve + oppose + abstain}）不能超过实到人数（{attended}）"
        ]
    if body == "villager_assembly" and attended_households is not None and households is not None:
        if attended_households > households:
            errors["attended_households"] = [f"到会户代表数（{attended_households}）不能超过总户数（{households}）"]
    return errors


def evaluate_meeting(
    body: str,
    *,
    should_attend: int,
    attended: int,
    approve: int,
    on: date,
    households: int = 0,
    attended_households: int = 0,
    settings: dict | None = None,
    vote_rule: str | None = None,
    written_approve: int = 0,
) -> MeetingResult:
    """Decide whether a meeting was validly held (quorum) and whether it passed (D2–D5).

    ``vote_rule="party_admission"``: the 支部大会 that admits a probationary member or makes one a
    full member (《中国共产党发展党员工作细则》第二十条: the voting members present must be MORE than
    half of those who should attend; 第二十一条: approvals above half of those who should attend;
    第三十三条: the same for 转正). Village settings cannot loosen it. ``written_approve``: the written
    approvals of absent voting members handed in before the meeting count as votes (细则第二十一条), never
    as attendance: they count towards passing, not towards the quorum."""
    if body not in BODIES:
        raise ValueError(f"unknown meeting body {body!r}")
    if should_attend <= 0:
        raise ValueError(f"{BODIES[body]}应到人数必须大于0")
    cfg = {**DEFAULT_SETTINGS, **(settings or {})}
    if written_approve and vote_rule != "party_admission":
        raise ValueError("written votes count only at a 支部大会 on a probationary member")
    rs = rule_set_on(on)
    name = BODIES[body]
    n = should_attend

    if body == "two_committees":  # D2
        quorum = more_than_half(attended, n)
        quorum_text = f"到会须超过两委成员半数（应到{n}人）"
        passed = more_than_half(approve, n)
        pass_text = f"赞成须超过两委成员半数（{n}人的半数）"
    elif body == "party_members" and vote_rule == "party_admission" and cfg["party_members_quorum"] != "two_thirds":
        quorum = more_than_half(attended, n)
        quorum_text = f"讨论接收（转正）预备党员的支部大会，到会有表决权的党员须超过应到会人数的半数（应到{n}人，细则第二十条）"
        passed = more_than_half(approve + written_approve, n)
        pass_text = f"赞成须超过应到会有表决权党员的半数（{n}人的半数，细则第二十一条）"
        if written_approve:
            pass_text += f"；含未到会党员书面意见赞成{written_approve}票（细则第二十一条）"
    elif body == "party_members":  # D3 / R19 / R20
        if cfg["party_members_quorum"] == "two_thirds":
            quorum = at_least_two_thirds(attended, n)
            quorum_text = f"到会须达应到党员三分之二以上（应到{n}人）"
        else:
            quorum = at_least_half(attended, n)
            quorum_text = f"到会须达应到党员半数以上（应到{n}人）"
        passed = more_than_half(approve + written_approve, n)
        pass_text = f"赞成须超过应到会党员半数（{n}人的半数）"
    elif body == "representatives":  # D4 / R14 / R15
        quorum = at_least_two_thirds(attended, n)
        quorum_text = f"到会须达村民代表会议组成人员三分之二以上（应到{n}人）"
        if cfg["representatives_pass"] == "all_members":
            passed = more_than_half(approve, n)
            pass_text = f"赞成须超过全体组成人员半数（{n}人的半数）"
        else:
            passed = more_than_half(approve, attended)
            pass_text = f"赞成须超过到会人员半数（{attended}人的半数）"
    else:  # villager_assembly, D5 / R11 / R12
        by_people = more_than_half(attended, n)
        by_households = households > 0 and at_least_two_thirds(attended_households, households)
        quorum = by_people or by_households
        quorum_text = f"到会须超过本村十八周岁以上村民（共{n}人）的半数，或本村三分之二以上户的代表（共{households}户）"
        passed = more_than_half(approve, attended)
        pass_text = f"赞成须超过到会人员半数（{attended}人的半数）"

    if vote_rule == "yishi" and body in ("representatives", "villager_assembly"):
        # 一事一议筹资筹劳 (DOMAIN R22 (cfg), issue 13): the plan passes with at least two thirds of
        # those present (三分之二以上 includes the number, D1). The national 《村民一事一议筹资筹劳
        # 管理办法》(农业部, 国办发〔2007〕4号转发; 第九条, number unverified) asks only 过半数 of those present; the provincial
        # texts (and the engine's default) ask two thirds. The quorum stays the body's own (D4, D5).
        # A village's stricter rule for the body (``representatives_pass: all_members``) still applies.
        passed = passed and at_least_two_thirds(approve, attended)
        pass_text = f"一事一议筹资筹劳方案须经到会人员三分之二以上同意（到会{attended}人）" + (
            f"，且{pass_text}" if body == "representatives" and cfg["representatives_pass"] == "all_members" else "")
    if not quorum:
        outcome, reason = "lapsed", f"{name}未达法定人数，流会：{quorum_text}，实到{attended}人"
    elif passed:
        outcome, reason = "passed", f"{name}通过：赞成{approve + written_approve}票，{pass_text}"
    else:
        outcome, reason = "failed", f"{name}未通过：赞成{approve + written_approve}票，{pass_text}"
    return MeetingResult(
        body=body,
        outcome=outcome,
        should_attend=n,
        attended=attended,
        approve=approve,
        quorum_met=quorum,
        rules_version=rs.version,
        reason=reason,
        details={"quorum_rule": quorum_text, "pass_rule": pass_text},
    )


#: The three grades of the annual 民主评议 (组织法第三十三条).
APPRAISAL_GRADES: dict[str, str] = {"fit": "称职", "basic": "基本称职", "unfit": "不称职"}


def appraisal_grade(fit: int, basic: int, unfit: int, attended: int, settings: dict | None = None) -> tuple[str, str]:
    """The grade of one person at the annual 民主评议 and the sentence that explains it (R33).

    《村民委员会组织法》第三十三条 (2018年修正) has the 村民会议 or 村民代表会议 appraise, chaired by
    the 村务监督机构, but fixes no vote threshold; the defaults are local practice [L] counted as D1
    says: 不称职 when 不称职 votes are more than half of those present (setting ``appraisal_unfit``
    ``two_thirds_present``: two thirds or more of those present); otherwise 称职 when 称职 votes
    are more than half of those present; otherwise 基本称职."""
    cfg = {**DEFAULT_SETTINGS, **(settings or {})}
    if cfg["appraisal_unfit"] == "two_thirds_present":
        unfit_met = at_least_two_thirds(unfit, attended)
        unfit_rule = f"不称职票达到到会人数（{attended}人）的三分之二以上"
    else:
        unfit_met = more_than_half(unfit, attended)
        unfit_rule = f"不称职票超过到会人数（{attended}人）的半数"
    votes = f"称职{fit}票、基本称职{basic}票、不称职{unfit}票"
    if unfit_met:
        return "unfit", f"{votes}，{unfit_rule}，评为不称职"
    if more_than_half(fit, attended):
        return "fit", f"{votes}，称职票超过到会人数（{attended}人）的半数，评为称职"
    return "basic", f"{votes}，评为基本称职"
