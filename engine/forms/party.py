"""Forms of A8 党员发展 (R55 time guards).

Each form is an :class:`engine.forms.shared.ItemForm` (see ``engine/forms/shared.py`` for the linked
resolution and the rule-set version). Field tables: ``docs/forms.md``.
"""

from __future__ import annotations

from ..domain.clock import add_months, add_years
from .base import (
    CheckContext,
    FormSchema,
    check_dates,
    choice,
    day,
    flag,
    latest_row,
    line,
    register,
    text,
)
from .shared import (
    ItemForm,
    integer,
    iso_day,
    latest,
    opinion_unless,
    refuse,
    start_of_day_utc,
)

# ---------------------------------------------------------------------------- A8 党员发展 (R55 time guards)


class PartyApplicationForm(ItemForm):
    title_zh = "入党申请"
    date_field = "applied_on"
    applicant = line("申请人")
    birth_date = day("出生日期")
    applied_on = day("递交申请日期")
    summary = text("申请书摘要", required=False)

    def rules(self, values: dict, ctx: CheckContext) -> dict:
        check_dates(values, ctx, "applied_on", "birth_date")
        if add_years(values["birth_date"], 18) > values["applied_on"]:
            raise refuse("birth_date", "申请入党须年满十八周岁")
        return {}


class PartyTalkForm(ItemForm):
    title_zh = "谈话记录"
    date_field = "talked_on"
    talked_on = day("谈话日期")
    talker = line("谈话人")
    notes = text("谈话情况")
    late_reason = text("超期原因", required=False, help="收到申请一个月后才谈话的必须说明")

    def rules(self, values: dict, ctx: CheckContext) -> dict:
        check_dates(values, ctx, "talked_on")
        applied = iso_day(latest(ctx, "applied_on"))
        if applied and values["talked_on"] < applied:
            raise refuse("talked_on", "谈话日期不能早于递交申请日期")
        overdue = bool(applied and values["talked_on"] > add_months(applied, 1))
        if overdue and not (values.get("late_reason") or "").strip():
            raise refuse("talked_on", "党组织应在收到入党申请后一个月内派人谈话；超期的须填写超期原因")
        return {"talk_overdue": overdue}


ACTIVIST_METHODS = {"members": "党员推荐", "league": "群团组织推优"}


class PartyActivistForm(ItemForm):
    title_zh = "确定入党积极分子"
    date_field = "activist_on"
    activist_on = day("确定日期")
    method = choice("产生方式", ACTIVIST_METHODS)
    mentors = text("培养联系人", help="1至2名正式党员，每行一人")
    filed = flag("已报上级党委备案")

    def rules(self, values: dict, ctx: CheckContext) -> dict:
        check_dates(values, ctx, "activist_on")
        talked = iso_day(latest(ctx, "talked_on"))
        if talked and values["activist_on"] < talked:
            raise refuse("activist_on", "确定入党积极分子不能早于谈话日期")
        mentors = [m.strip() for m in values["mentors"].splitlines() if m.strip()]
        if not 1 <= len(mentors) <= 2:
            raise refuse("mentors", "须指定1至2名培养联系人")
        if not values.get("filed"):
            raise refuse("filed", "确定入党积极分子须报上级党委备案")
        return {}


class PartyCandidateForm(ItemForm):
    title_zh = "确定发展对象"
    date_field = "candidate_on"
    candidate_on = day("确定日期")
    opinions = text("听取意见情况", help="听取党小组、培养联系人、党员和群众意见")
    sponsors = text("入党介绍人", help="2名正式党员，每行一人")
    vetting_on = day("政治审查日期")
    training_hours = integer("集中培训学时", unit="学时", maximum=1000)

    def rules(self, values: dict, ctx: CheckContext) -> dict:
        check_dates(values, ctx, "candidate_on", "vetting_on")
        activist = iso_day(latest(ctx, "activist_on"))
        if activist and values["candidate_on"] < add_years(activist, 1):
            raise refuse("candidate_on", f"入党积极分子须经一年以上培养教育和考察才能确定为发展对象"
                                         f"（{activist.isoformat()}确定为积极分子，最早{add_years(activist, 1).isoformat()}）")
        sponsors = [s.strip() for s in values["sponsors"].splitlines() if s.strip()]
        if len(sponsors) != 2 or sponsors[0] == sponsors[1]:
            raise refuse("sponsors", "须有2名入党介绍人")
        if values["training_hours"] < 24:
            raise refuse("training_hours", "发展对象须经不少于三天或24学时的集中培训")
        return {}


class PartyFormIssueForm(ItemForm):
    title_zh = "发放入党志愿书"
    date_field = "issued_on"
    issued_on = day("发放日期")
    form_no = line("志愿书编号")

    def rules(self, values: dict, ctx: CheckContext) -> dict:
        check_dates(values, ctx, "issued_on")
        return {}


COMMITTEE_DECISIONS = {"approve": "审查合格，报上级党委预审", "return": "不合格，退回继续培养考察"}


class PartyCommitteeReviewForm(ItemForm):
    """支部委员会审查 (《中国共产党发展党员工作细则》第十九条): the 支委会 examines the 发展对象 collectively
    before the 上级党委 prechecks and the 支部大会 discusses."""

    title_zh = "支部委员会审查"
    date_field = "reviewed_on"
    reviewed_on = day("支委会审查日期")
    decision = choice("审查结论", COMMITTEE_DECISIONS)
    opinion = text("审查意见", required=False, help="退回时必须写明理由")
    _opinion = opinion_unless("approve")

    def rules(self, values: dict, ctx: CheckContext) -> dict:
        check_dates(values, ctx, "reviewed_on")
        candidate = iso_day(latest(ctx, "candidate_on"))
        if candidate and values["reviewed_on"] < candidate:
            raise refuse("reviewed_on", f"支委会审查日期不能早于确定发展对象的日期（{candidate.isoformat()}）")
        return {}


class PartyOathForm(ItemForm):
    """入党宣誓 (党章第六条: 预备党员必须面向党旗进行入党宣誓), after the 上级党委 approved the admission."""

    title_zh = "入党宣誓"
    date_field = "sworn_on"
    sworn_on = day("宣誓日期")
    organiser = line("组织宣誓的党组织")

    def rules(self, values: dict, ctx: CheckContext) -> dict:
        check_dates(values, ctx, "sworn_on")
        approved = iso_day(latest(ctx, "approved_on"))
        if approved and values["sworn_on"] < approved:
            raise refuse("sworn_on", f"入党宣誓须在上级党委批准接收预备党员（{approved.isoformat()}）之后")
        return {}


FULL_CONCLUSIONS = {"full": "按期转正", "extend": "延长预备期", "cancel": "取消预备党员资格"}


class PartyFullProposalForm(ItemForm):
    """预备期满，党支部讨论其能否转正 (党章第七条): 按期转正, 延长预备期 (不能超过一年) or 取消预备党员资格;
    the 支部大会 then votes on this conclusion and the 上级党委 approves it. Never "不予发展"."""

    title_zh = "支委会提出转正意见"
    date_field = "proposed_on"
    proposed_on = day("支委会研究日期")
    conclusion = choice("转正意见", FULL_CONCLUSIONS)
    extend_months = integer("延长预备期", unit="个月", required=False, maximum=12,
                            help="延长预备期时填写：不少于六个月，最长不超过一年")
    reason = text("理由", required=False, help="延长预备期或取消预备党员资格时必须写明理由")

    def rules(self, values: dict, ctx: CheckContext) -> dict:
        check_dates(values, ctx, "proposed_on")
        # 党章第七条, 细则第三十二条: 预备期满, the 党支部 discusses 转正 (not before the year is over).
        began = iso_day(latest(ctx, "probation_from"))
        ends = iso_day(latest(ctx, "extended_until")) or (add_years(began, 1) if began else None)
        if ends and values["proposed_on"] < ends:
            raise refuse("proposed_on", f"预备期到{ends.isoformat()}才满，支委会研究转正的日期不能早于预备期满"
                                        f"（党章第七条、发展党员工作细则第三十二条）")
        conclusion = values["conclusion"]
        if conclusion != "full" and not (values.get("reason") or "").strip():
            raise refuse("reason", f"{FULL_CONCLUSIONS[conclusion]}须写明理由")
        if conclusion == "extend":
            if latest(ctx, "extended_until"):
                raise refuse("conclusion", "预备期已经延长过，延长期满只能按期转正或取消预备党员资格"
                                           "（发展党员工作细则第三十二条：可以延长一次预备期）")
            months = values.get("extend_months")
            if months is None or not 6 <= months <= 12:
                raise refuse("extend_months",
                             "延长预备期不能少于半年，最长不超过一年（党章第七条、发展党员工作细则第三十二条）")
        elif values.get("extend_months"):
            raise refuse("extend_months", "只有延长预备期时才填写延长的月数")
        return {}


PARTY_DECISIONS = {"approve": "批准", "reject": "不批准"}


class PartyApprovalForm(ItemForm):
    title_zh = "上级党委审批"
    date_field = "approved_on"
    decision = choice("审批意见", PARTY_DECISIONS)
    approved_on = day("审批日期")
    talk_done = flag("上级党委已派人谈话", help="审批接收预备党员前必须谈话")
    extension_reason = text("延长审批的原因", required=False, help="支部大会后超过三个月才审批的必须说明（最长六个月）")
    opinion = text("审批说明", required=False)
    _opinion = opinion_unless("approve")

    def rules(self, values: dict, ctx: CheckContext) -> dict:
        check_dates(values, ctx, "approved_on")
        stage = ctx.properties.get("stage", "admission")
        meeting = latest_row(ctx, name=ctx.properties.get("meeting", "branch_meeting"))
        held = iso_day((meeting.data or {}).get("held_on")) if meeting is not None else None
        approved = values["approved_on"]
        if held is not None:
            if approved < held:
                raise refuse("approved_on", "审批日期不能早于支部大会日期")
            if approved > add_months(held, 6) and values["decision"] == "approve":
                raise refuse("approved_on", "支部大会讨论后超过六个月未审批的，不能再批准，须重新履行程序")
            if approved > add_months(held, 3) and not (values.get("extension_reason") or "").strip():
                raise refuse("extension_reason", "上级党委应在支部大会后三个月内审批；超过三个月的须写明原因（最长六个月）")
        if values["decision"] != "approve":
            return {}
        if stage == "admission":
            if not values.get("talk_done"):
                raise refuse("talk_done", "上级党委审批前须派人与发展对象谈话")
            vetted = iso_day(latest(ctx, "vetting_on"))
            if vetted and approved > add_years(vetted, 1):
                raise refuse("approved_on", "政治审查结论已超过一年，须重新审查")
            # 党章第七条: the 预备期 runs from the day the 支部大会 passed the admission, not from this approval.
            starts = held or approved
            return {"probation_from": starts.isoformat(),
                    "probation_until": start_of_day_utc(add_years(starts, 1))}
        if latest(ctx, "conclusion") == "extend":  # 党章第七条: the extension runs on from the year's end
            began = iso_day(latest(ctx, "probation_from")) or approved
            until = add_months(add_years(began, 1), int(latest(ctx, "extend_months") or 12))
            return {"extended_until": until.isoformat(), "probation_until": start_of_day_utc(until)}
        return {}


PARTY_FORMS: dict[str, type[FormSchema]] = {
    "party_application": PartyApplicationForm,
    "party_talk": PartyTalkForm,
    "party_activist": PartyActivistForm,
    "party_candidate": PartyCandidateForm,
    "party_form_issue": PartyFormIssueForm,
    "party_approval": PartyApprovalForm,
    "party_committee_review": PartyCommitteeReviewForm,
    "party_oath": PartyOathForm,
    "party_full_proposal": PartyFullProposalForm,
}

for _key, _schema in PARTY_FORMS.items():
    register(_key, _schema)
