"""The forms of the complaint-lead process (问题线索, 速查快办, CONTRACT "Complaint leads").

Legal basis (DOMAIN.md §5.2, 纪检监察机关处理检举控告工作规则):

- R56: a lead is registered with channel, jurisdiction and times; forwarding up or down within
  5 working days (``lead_intake`` ``forward``);
- R57: a real-name reporter hears within 15 working days whether it is accepted, and the
  result within 15 working days of closing (``lead_feedback``); objections are recorded and
  answered (``lead_review`` by the county);
- R58: one of four dispositions (谈话函询, 初步核实, 暂存待查, 予以了结); a shelved lead re-opens
  on new evidence (``lead_reopen``);
- R59: a substantiated (or partly substantiated) lead closes only with the four checks of
  四个不放过 (``lead_result``).

Each form's ``check`` writes the lead's record (``engine.store.models.Lead``) in the same
transaction as the step; ``after`` sets the due dates of the next step in working days.
"""

from __future__ import annotations

from typing import Any

from marshmallow import ValidationError, validates_schema

from ..domain.errors import Invalid
from ..records.leads import DISPOSITIONS, FINDINGS, FOUR_CHECKS, INTAKE_DECISIONS
from .base import CheckContext, FormSchema, choice, day, flag, line, register, text


def _lead(ctx: CheckContext):
    from ..records.leads import lead_of_case

    lead = lead_of_case(ctx.session, ctx.case.id)
    if lead is None:
        raise Invalid("该事项没有对应的问题线索")
    return lead


class LeadIntakeForm(FormSchema):
    """受理审查: accept with a disposition (R58), not accept with a reason, or forward (R56)."""

    title_zh = "问题线索受理审查"
    decision = choice("受理意见", INTAKE_DECISIONS)
    disposition = choice("处置方式", DISPOSITIONS, required=False, help="受理时必选（四种处置方式之一）")
    reason = text("理由", required=False, help="不予受理或转办时必填：写明理由和移送单位")
    responsible_unit = line("责任单位", required=False, help="速查快办：承办的单位或部门")
    handler = line("经办人", required=False, help="不向反映人公开")
    complete_by = day("完成时限", required=False, help="速查快办：须为工作日，不能早于今天")
    standard = text("完成标准", required=False, max_len=2000)

    @validates_schema
    def _combination(self, data: dict, **kwargs: Any) -> None:
        errors: dict[str, list[str]] = {}
        decision = data.get("decision")
        if decision == "accept" and not data.get("disposition"):
            errors["disposition"] = ["受理时须选择处置方式：谈话函询、初步核实、暂存待查或予以了结"]
        if decision in ("not_accepted", "forward"):
            if data.get("disposition"):
                errors["disposition"] = ["不予受理或转办时不填处置方式"]
            if not (data.get("reason") or "").strip():
                errors["reason"] = ["不予受理或转办时须写明理由"]
        if errors:
            raise ValidationError(errors)

    def check(self, values: dict, ctx: CheckContext) -> dict:
        from ..records.leads import check_assignment, record_intake

        check_assignment(ctx.session, values, ctx.now)
        return record_intake(ctx.session, _lead(ctx), values, ctx.now)

    def after(self, values: dict, ctx: CheckContext) -> None:
        from ..records.leads import set_due_dates

        set_due_dates(ctx.session, ctx.case, _lead(ctx), ctx.now)

    def summary_of(self, values: dict, extra: dict) -> str:
        if values["decision"] == "accept":
            late = "（已超过15个工作日受理期限）" if extra.get("late") else ""
            return f"受理，处置方式：{DISPOSITIONS[values['disposition']]}{late}"
        if values["decision"] == "not_accepted":
            return f"不予受理：{values['reason']}"
        late = "（已超过5个工作日转办期限）" if extra.get("late") else ""  # R56
        return f"转办：{values['reason']}{late}"


class LeadReopenForm(FormSchema):
    """暂存待查: re-open on new evidence (R58: shelved cases re-open) or close it."""

    title_zh = "暂存线索处理"
    decision = choice("处理意见", {"reopen": "有新情况，启用核查", "close": "予以了结"})
    reason = text("情况说明", help="启用时写明新的证据或情况；了结时写明理由")

    def check(self, values: dict, ctx: CheckContext) -> dict:
        from ..records.leads import record_reopen

        return record_reopen(ctx.session, _lead(ctx), values, ctx.now)

    def after(self, values: dict, ctx: CheckContext) -> None:
        from ..records.leads import set_due_dates

        set_due_dates(ctx.session, ctx.case, _lead(ctx), ctx.now)

    def summary_of(self, values: dict, extra: dict) -> str:
        return ("有新情况，启用核查" if values["decision"] == "reopen" else "予以了结") + f"：{values['reason']}"


class LeadResultForm(FormSchema):
    """核查结论: with ``substantiated`` or ``partly`` the rectification and all four checks of
    四个不放过 (R59), else 422 on each missing one."""

    title_zh = "核查处理结果"
    finding = choice("核查结论", FINDINGS)
    summary = text("核查情况")
    rectification = text("整改情况", required=False, help="属实或部分属实时必填")
    cause_found = flag("原因已查清", help="四个不放过：原因没查清不放过")
    people_dealt_with = flag("责任人员已处理", help="四个不放过：责任人员未处理不放过")
    rectified = flag("整改措施已落实", help="四个不放过：整改措施不落实不放过")
    educated = flag("有关人员已受到教育", help="四个不放过：有关人员未受到教育不放过")

    @validates_schema
    def _four_checks(self, data: dict, **kwargs: Any) -> None:
        if data.get("finding") not in ("substantiated", "partly"):
            return
        errors: dict[str, list[str]] = {}
        if not (data.get("rectification") or "").strip():
            errors["rectification"] = ["问题属实或部分属实的，须填写整改情况"]
        for key, label in FOUR_CHECKS.items():
            if data.get(key) is not True:
                errors[key] = [f"四个不放过：须{label}才能办结"]
        if errors:
            raise ValidationError(errors)

    def check(self, values: dict, ctx: CheckContext) -> dict:
        from ..records.leads import record_result

        return record_result(ctx.session, _lead(ctx), values, ctx.now)

    def after(self, values: dict, ctx: CheckContext) -> None:
        from ..records.leads import set_due_dates

        set_due_dates(ctx.session, ctx.case, _lead(ctx), ctx.now)

    def summary_of(self, values: dict, extra: dict) -> str:
        from ..records.leads import dual_inquiry_text

        links = extra.get("dual_inquiry")
        return f"核查结论：{FINDINGS[values['finding']]}" + (f"；一案双查——{dual_inquiry_text(links)}" if links else "")


class LeadFeedbackForm(FormSchema):
    """反馈: what the reporter reads under the query code (R57: within 15 working days of closing)."""

    title_zh = "向反映人反馈"
    feedback = text("反馈内容", max_len=5000, help="反映人凭查询码看到的答复；不要写反映人姓名和经办人")

    def check(self, values: dict, ctx: CheckContext) -> dict:
        from ..records.leads import record_feedback

        return record_feedback(ctx.session, _lead(ctx), values, ctx.now)

    def summary_of(self, values: dict, extra: dict) -> str:
        return "已向反映人反馈办理结果"


class LeadReviewForm(FormSchema):
    """县纪委复查: the reporter's objection to the result (R57: objections recorded and answered)."""

    title_zh = "县纪委复查"
    decision = choice("复查结论", {"maintain": "维持原处理", "reinvestigate": "重新核查"})
    opinion = text("复查意见", help="反映人凭查询码看到复查意见")

    def check(self, values: dict, ctx: CheckContext) -> dict:
        from ..records.leads import record_review

        return record_review(ctx.session, _lead(ctx), values, ctx.now)

    def after(self, values: dict, ctx: CheckContext) -> None:
        from ..records.leads import set_due_dates

        set_due_dates(ctx.session, ctx.case, _lead(ctx), ctx.now)

    def summary_of(self, values: dict, extra: dict) -> str:
        return ("维持原处理" if values["decision"] == "maintain" else "重新核查") + f"：{values['opinion']}"


LEAD_FORMS: dict[str, type[FormSchema]] = {
    "lead_intake": LeadIntakeForm,
    "lead_reopen": LeadReopenForm,
    "lead_result": LeadResultForm,
    "lead_feedback": LeadFeedbackForm,
    "lead_review": LeadReviewForm,
}

for _key, _schema in LEAD_FORMS.items():
    register(_key, _schema)

