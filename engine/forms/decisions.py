"""Forms of the 四议两公开 major decision (the contract's forms): proposal, meeting, review,
disclosure, implementation, objection reply and the township's inspection."""

from __future__ import annotations

from typing import Any

from marshmallow import ValidationError, validate, validates_schema

from ..domain.clock import LOCAL_TZ
from ..domain.matters import MATTERS
from .base import (
    CheckContext,
    FormSchema,
    StrictInteger,
    choice,
    count,
    day,
    field_messages,
    flag,
    line,
    money,
    register,
    text,
)


class ProposalForm(FormSchema):
    title_zh = "提议"
    title = line("事项名称")
    summary = text("方案摘要", help="拟办事项的内容、理由和初步方案")
    amount = money("涉及金额", required=False, help="可不填")
    matter = choice("事项类别", {k: v for k, v in MATTERS.items()}, required=False,
                    help="属于《村民委员会组织法》第二十四条等村级重大事项的，请选择")
    assembly = choice("决议机构", {"representatives": "村民代表会议", "villager_assembly": "村民会议"},
                      required=False, load_default="representatives")
    withdraw = flag("撤回事项", help="修改方案时勾选，事项即以“撤回”办结")
    party_study_on = day("村党组织研究日期", required=False,
                         help="村党组织（支委会）先行研究本事项的日期；2026年1月1日起提交村民（代表）会议决定的事项须先经村党组织研究")

    def check(self, values: dict, ctx: CheckContext) -> dict | None:
        """Rule 1 (R2): a 第二十四条 matter goes to the 村民会议; the 村民代表会议 may decide it only with the
        村民会议's authorisation on file (《村民委员会组织法》第二十四条第二款)."""
        from ..domain.matters import STATUTORY
        from ..domain.settings import authorised_representatives

        if values.get("withdraw"):
            return None
        if values.get("matter") in STATUTORY and values.get("assembly", "representatives") == "representatives" \
                and not authorised_representatives(ctx.village):
            message = (f"“{MATTERS[values['matter']]}”是《村民委员会组织法》第二十四条规定的事项，须由村民会议决定；"
                       "本村没有登记村民会议对村民代表会议的授权，决议机构请选“村民会议”")
            from ..domain.errors import Invalid

            raise Invalid(message, {"assembly": [message]})
        study = values.get("party_study_on")
        if study is not None and study > ctx.now.astimezone(LOCAL_TZ).date():
            from ..domain.errors import Invalid

            raise Invalid("村党组织研究日期不能晚于今天", {"party_study_on": ["村党组织研究日期不能晚于今天"]})
        return None


class MeetingForm(FormSchema):
    title_zh = "会议记录"
    held_on = day("会议日期")
    attended = count("实到人数")
    approve = count("赞成票数", unit="票")
    oppose = count("反对票数", unit="票")
    abstain = count("弃权票数", unit="票")
    minutes = text("会议纪要")
    attended_households = count("到会户代表数", required=False, unit="户", help="村民会议按户计算到会时填写")
    announced_on = day("通知日期", required=False, help="村民会议须提前十天通知村民，必填")
    supervisors_present = line("列席的监委会成员", required=False,
                               help="两委会议（2026年起还有村民代表会议）由村务监督委员会列席时填写姓名")
    supervisor_opinion = text("监委会列席意见", required=False, max_len=2000)
    written_approve = count("书面意见赞成票数", required=False, unit="票",
                            help="讨论接收（转正）预备党员的支部大会：因故不能到会的有表决权党员会前提交书面意见表示赞成的人数")
    written_oppose = count("书面意见反对票数", required=False, unit="票",
                           help="因故不能到会的有表决权党员会前提交书面意见表示反对的人数")


class ReviewForm(FormSchema):
    """D9 (组织法第三十二条): the 监委会 supervises and never decides. ``return``: the record as
    written is incomplete or wrong, whoever recorded it corrects it (no new meeting, no new vote);
    ``object``: the procedure was defective, the case is held for the township's inspection."""

    title_zh = "监督审核"
    holds_on = "object"  # this decision holds the case for the township's inspection (engine/records/holds.py)
    decision = choice("审核结论", {"approve": "同意", "return": "退回更正记录", "object": "程序有问题，提出异议（暂停并报乡镇纪委核查）"})
    opinion = text("审核意见", required=False, help="退回或提出异议时必须写明理由")

    @validates_schema
    def _opinion_required(self, data: dict, **kwargs: Any) -> None:
        if data.get("decision") in ("return", "object") and not (data.get("opinion") or "").strip():
            raise ValidationError({"opinion": ["退回或提出异议时必须填写审核意见"]})


class DisclosureForm(FormSchema):
    title_zh = "公开内容"
    content = text("公开内容")
    notice_days = StrictInteger(
        load_default=7,
        validate=validate.Range(min=1, max=365, error="公示天数须在1到365天之间"),
        error_messages={**field_messages("公示天数"), "invalid": "公示天数必须是整数"},
        metadata={"label": "公示天数", "unit": "天", "widget": "number", "help": "不得少于本事项的法定最少天数"},
    )


class ImplementationForm(FormSchema):
    title_zh = "实施情况"
    summary = text("实施情况")
    amount_spent = money("实际支出")
    over_budget_reason = text("超支原因", required=False, max_len=2000,
                              help="实际支出超过决议金额时必填，并在实施结果公开中写明")


class ObjectionReplyForm(FormSchema):
    title_zh = "异议答复"
    holds_on = "escalate"
    decision = choice("处理结论", {"dismiss": "异议不成立（公示继续）", "uphold": "异议成立（更正后重新公示）",
                                   "escalate": "涉及决定本身（暂停并报乡镇纪委核查）"})
    reply = text("答复内容", help="答复将在公开栏公布")


class InspectionForm(FormSchema):
    """The township 纪委's inspection of an objection to the procedure (D9)."""

    title_zh = "乡镇纪委核查"
    releases_hold = True  # may be completed while the case is on hold, and releases it
    finding = choice("核查结论", {"dismiss": "程序无问题（恢复办理）", "redo": "程序有缺陷（责令重做该环节）"})
    opinion = text("核查意见")


DECISION_FORMS: dict[str, type[FormSchema]] = {
    "proposal": ProposalForm,
    "meeting": MeetingForm,
    "review": ReviewForm,
    "disclosure": DisclosureForm,
    "implementation": ImplementationForm,
    "objection_reply": ObjectionReplyForm,
    "inspection": InspectionForm,
}

for _key, _schema in DECISION_FORMS.items():
    register(_key, _schema)
